"""``from benchmark import compare``: the command line's run from Python, and the Comparison
it returns (issue #31)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark import Comparison, compare
from dataset import UsageError, bundled_sample_path, load_reviews

from .._helpers import FAST_PARAMS, fast_flags, interrupt_at, one_line_error, run_main

FAST = {"params": {"w2v": FAST_PARAMS["w2v"]}, "latency_calls": 2, "progress": False}
#: The same for a run of bow alone (hyperparameters of a classifier not in the run are refused).
BOW = {"latency_calls": 2, "progress": False}
#: What depends on the data, the seed and the code only, not on the machine's speed.
_EXACT = ("metrics", "ci", "params")


@pytest.fixture(scope="module")
def frame():
    """The bundled 200 sentences as a DataFrame with text and label columns."""
    data = load_reviews(str(bundled_sample_path()))
    return pd.DataFrame({"text": data.texts, "label": [data.label_names[int(v)] for v in data.labels]})


@pytest.fixture(scope="module")
def compared(frame, tmp_path_factory):
    return compare(frame, classifiers=["bow", "w2v"], output=tmp_path_factory.mktemp("nb"), **FAST)


def _results(run_dir) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text())


def test_compare_gives_the_records_of_the_command_line_to_the_last_digit(frame, compared, tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "cli"
    assert run_main(capsys, "-q", "run", "--classifiers", "bow,w2v", "--data", str(csv), "--output", str(out),
                    *fast_flags("w2v")).returncode == 0
    (cli_dir,) = out.iterdir()
    cli, notebook = _results(cli_dir), _results(compared.run_dir)
    assert cli["split"]["sha256"] == notebook["split"]["sha256"]
    assert cli["split"]["data_sha256"] == notebook["split"]["data_sha256"]
    for name in ("bow", "w2v"):
        for key in _EXACT:
            assert cli["classifiers"][name][key] == notebook["classifiers"][name][key], (name, key)
    assert (cli_dir / "predictions.jsonl").read_text() == (compared.run_dir / "predictions.jsonl").read_text()
    assert cli["recommendation"]["classifier"] == compared.recommendation.classifier
    assert {k: v for k, v in cli["config"].items() if k not in ("data", "output")} == \
        {k: v for k, v in notebook["config"].items() if k not in ("data", "output")}


def test_the_comparison_shows_the_run(compared):
    table = compared.table
    assert list(table.index) == ["bow", "w2v"]
    record = compared.results["classifiers"]["bow"]
    assert table.loc["bow", "accuracy"] == record["metrics"]["accuracy"]
    assert table.loc["bow", "accuracy_low"] == record["ci"]["accuracy"]["low"]
    assert table.loc["bow", "accuracy_low"] <= table.loc["bow", "accuracy"] <= table.loc["bow", "accuracy_high"]
    assert str(compared.recommendation) == compared.results["recommendation"]["reason"]
    predictions = compared.predictions
    assert len(predictions) == compared.results["split"]["sizes"]["test"]
    assert set(predictions["bow"]) <= {"negative", "positive"}
    assert {"bow P(positive)", "w2v P(negative)"} <= set(predictions.columns)
    fitted = compared.classifiers  # in memory: the estimators the run fitted
    assert all(len(clf.predict(["a wonderful , moving film"])) == 1 for clf in fitted.values())
    assert set(compared.plot("confusion")) == {"bow", "w2v"}
    assert compared.plot("tradeoff").axes


def test_an_unknown_option_is_one_line_naming_the_valid_ones(frame):
    with pytest.raises(UsageError) as caught:
        compare(frame, classifiers=["bow"], latency_call=3)
    one_line_error(caught, "latency_call", "valid options", "latency_calls", "sample_size")


@pytest.mark.parametrize("options, needle", [({"seed": -1}, "--seed"), ({"sample_size": 3}, "--sample-size"),
                                             ({"metric": "f2"}, "--metric"), ({"seed": 1.5}, "seed")])
def test_a_bad_value_is_refused_as_the_command_line_refuses_it(frame, tmp_path, options, needle):
    with pytest.raises(UsageError) as caught:
        compare(frame, classifiers=["bow"], output=tmp_path, **options)
    one_line_error(caught, needle)
    assert not any(tmp_path.iterdir())  # refused before anything is written


def test_load_reads_back_the_same_comparison(compared):
    loaded = Comparison.load(compared.run_dir)
    pd.testing.assert_frame_equal(loaded.table, compared.table)
    pd.testing.assert_frame_equal(loaded.predictions, compared.predictions)
    assert loaded.recommendation == compared.recommendation
    with pytest.raises(UsageError, match="save_models=True"):
        loaded.classifiers  # noqa: B018  (not saved, not in memory)


def test_saved_models_are_loaded_back(frame, tmp_path):
    first = compare(frame, classifiers=["bow"], output=tmp_path, save_models=True, **BOW)
    loaded = Comparison.load(first.run_dir).classifiers["bow"]
    texts = ["a wonderful film", "dull and tedious"]
    assert loaded.predict(texts).tolist() == first.classifiers["bow"].predict(texts).tolist()


def test_the_inline_report_escapes_review_text(frame, tmp_path):
    hostile = frame.assign(text="<script>alert(1)</script> " + frame["text"])
    shown = compare(hostile, classifiers=["bow"], output=None, **BOW)._repr_html_()
    assert "<script" not in shown.lower()
    assert "&lt;script&gt;" in shown
    assert shown.startswith('<div class="sentibench-report">')


def test_output_none_runs_in_a_temporary_folder(frame):
    comparison = compare(frame, classifiers=["bow"], output=None, **BOW)
    run_dir = comparison.run_dir
    assert (run_dir / "report.html").is_file() and (run_dir.parent / "dataframes").is_dir()
    del comparison
    assert not run_dir.exists()


def test_an_interrupted_compare_leaves_a_resumable_folder(frame, tmp_path, monkeypatch, caplog):
    real_run_one = interrupt_at(monkeypatch, "w2v")
    with pytest.raises(KeyboardInterrupt):
        compare(frame, classifiers=["bow", "w2v"], output=tmp_path, **FAST)
    monkeypatch.setattr("benchmark.units.run_one", real_run_one)
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "results.json").is_file()]
    assert _results(run_dir)["status"] == "interrupted" and list(_results(run_dir)["classifiers"]) == ["bow"]
    assert f"compare(resume='{run_dir}')" in caglog_text(caplog)
    resumed = compare(resume=run_dir, progress=False)
    assert resumed.status == "complete" and list(resumed.results["classifiers"]) == ["bow", "w2v"]
    assert list(resumed._fitted) == ["w2v"]  # fitted by the resume; bow was neither kept in memory nor saved
    with pytest.raises(UsageError, match="bow was not fitted in this session"):
        resumed.classifiers  # noqa: B018


def caglog_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_resume_takes_no_other_option(tmp_path):
    with pytest.raises(UsageError) as caught:
        compare(resume=tmp_path, seed=3)
    one_line_error(caught, "drop seed")
