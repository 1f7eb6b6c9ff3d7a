"""The command line end to end on the bundled sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from benchmark.__main__ import main
from benchmark.cli import parse_args
from benchmark.config import RunConfig
from benchmark.lineup import make_classifier
from dataset import UsageError

from .._helpers import FAST, run_predictions, shared_file


def run_cli(tmp_path, *args):
    return main(["-q", "run", "--output", str(tmp_path), *args])


def test_run_writes_every_file(finished_run):
    names = {p.name for p in finished_run.iterdir()}
    assert {"results.json", "comparison.md", "comparison.csv", "predictions.csv"} <= names
    assert not [n for n in names if n.endswith(".tmp")]


@pytest.mark.slow
def test_run_all_includes_bert_with_its_history(tmp_path):
    bert = ["--set", "bert.epochs=2", "--set", "bert.max_length=32", "--set", "bert.verbose=false"]
    assert run_cli(tmp_path, "--all", *FAST, *bert) == 0
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert list(results["classifiers"]) == ["bow", "w2v", "bert", "embed", "vader", "zeroshot", "static", "setfit"]
    history = results["classifiers"]["bert"]["history"]
    # Two epochs, patience 1: a second epoch always runs (the first cannot be "without improvement").
    assert [h["epoch"] for h in history] == [1, 2] and all(h["val_accuracy"] is not None for h in history)
    check = results["classifiers"]["bert"]["inference_check"]
    assert check["inference"] == results["classifiers"]["bert"]["inference_choice"]["chosen"]
    assert check["accuracy"] == pytest.approx(results["classifiers"]["bert"]["metrics"]["accuracy"])
    assert pd.read_csv(run_dir / "comparison.csv")["classifier"].tolist() == list(results["classifiers"])


def test_results_json_has_config_environment_manifest_and_records(finished_run):
    results = json.loads((finished_run / "results.json").read_text())
    assert results["status"] == "complete"
    assert results["config"]["seed"] == 42
    assert results["environment"]["python"]
    assert "scikit-learn" in results["environment"]["packages"]
    assert results["data"]["source"] == "sample:pang-lee"
    assert results["data"]["chosen_by"] == "--data"
    manifest = results["split"]
    assert manifest["sizes"] == {"train": 140, "validation": 30, "test": 30}
    assert list(results["classifiers"]) == ["bow", "w2v"]
    for record in results["classifiers"].values():
        assert 0 <= record["metrics"]["accuracy"] <= 1
        assert record["train_time_s"] > 0
        assert record["inference"]["latency_calls"] == 2
        assert record["inference"]["latency_p50_ms"] <= record["inference"]["latency_p95_ms"]
        assert sum(map(sum, record["metrics"]["confusion_matrix"])) == 30


def test_comparison_has_one_row_per_classifier(finished_run):
    table = pd.read_csv(finished_run / "comparison.csv")
    assert table["classifier"].tolist() == ["bow", "w2v"]
    assert "| bow" in (finished_run / "comparison.md").read_text()


def test_predictions_cover_the_test_split(finished_run):
    preds = run_predictions(finished_run)
    assert len(preds.texts) == 30 and len(set(preds.row_id.tolist())) == 30
    assert set(preds.pred) == {"bow", "w2v"} and preds.proba["w2v"].shape == (30, 2)
    results = json.loads((finished_run / "results.json").read_text())
    accuracy = (preds.pred["bow"] == preds.labels).mean()
    assert accuracy == pytest.approx(results["classifiers"]["bow"]["metrics"]["accuracy"])
    # The copy for people names the classes; probabilities per class.
    table = pd.read_csv(finished_run / "predictions.csv", keep_default_na=False)
    assert {"row_id", "text", "label", "bow", "bow P(negative)", "bow P(positive)"} <= set(table.columns)
    assert set(table["label"]) == {"negative", "positive"}


def test_same_seed_gives_same_split_manifest(finished_run, tmp_path):
    assert run_cli(tmp_path, "--classifiers", "bow", *FAST[-2:]) == 0
    (other,) = tmp_path.iterdir()
    a = json.loads((finished_run / "results.json").read_text())["split"]
    b = json.loads((other / "results.json").read_text())["split"]
    assert a == b


@pytest.mark.parametrize(
    "args, message",
    [
        (["--classifiers", "bow,nope"], "unknown classifier(s) nope; choose from: bow, w2v, bert, embed"),
        (["--data", "/no/such/file.csv"], "file.csv"),
        (["--classifiers", "bow", "--set", "bow.bogus=1"], "unknown bow hyperparameter(s) bogus; valid:"),
        (["--classifiers", "bow", "--set", "bowC=1"], "argument --set: expects CLASSIFIER.PARAM=VALUE"),
        (["--classifiers", "bow", "--set", "w2v.C=1"], "hyperparameters given for w2v"),
        (["--classifiers", "bow", "--set", "bow.C=-1"],
         "bow: The 'C' parameter of BowSvmClassifier must be a float in the range (0.0, inf)"),
        (["--sample-size", "3"], "--sample-size must be at least 10"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    assert run_cli(tmp_path, *args) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("sentibench: error:")]
    assert message in line
    assert "Traceback" not in err


def test_module_entry_point_exit_codes(tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label\nnice place,1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark", "run", "--data", str(bad), "--output", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "SENTIBENCH_DATA": "sample:pang-lee"},
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "reviews.csv" in proc.stderr


def test_config_file_and_set_are_merged_set_last(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"bow": {"C": 2.0, "min_df": 3}}')
    settings = ["bow.C=0.5", "bow.ngram_range=1,3", "w2v.vectors=null", "bow.features=counts"]
    args = parse_args(["run", "--classifiers", "bow,w2v", "--config", str(config), *[a for s in settings for a in ("--set", s)]])
    params = RunConfig.from_cli(args).params
    assert params == {"bow": {"C": 0.5, "min_df": 3, "ngram_range": [1, 3], "features": "counts"}, "w2v": {"vectors": None}}
    config.write_text("[1, 2]")
    with pytest.raises(UsageError, match="must map classifier names"):
        parse_args(["run", "--config", str(config)])


def test_make_classifier_passes_seed_and_tuples():
    clf = make_classifier("bow", {"ngram_range": [1, 3]}, seed=7)
    assert clf.ngram_range == (1, 3)
    assert clf.random_state == 7
    assert make_classifier("bow", {"random_state": 1}, seed=7).random_state == 1


@pytest.mark.shared_data
@pytest.mark.slow
def test_yelp_sentences_reach_the_accuracy_targets(tmp_path):
    data = shared_file("yelp_sentences.csv")
    assert run_cli(tmp_path, "--classifiers", "bow,w2v", "--data", str(data), "--latency-calls", "20") == 0
    (run_dir,) = tmp_path.iterdir()
    records = json.loads((run_dir / "results.json").read_text())["classifiers"]
    assert records["bow"]["metrics"]["accuracy"] >= 0.94
    assert records["w2v"]["metrics"]["accuracy"] >= 0.84


def test_table_shows_when_the_svm_saw_a_subsample(tmp_path):
    assert run_cli(tmp_path, "--classifiers", "bow,w2v", *FAST, "--set", "w2v.max_svm_samples=50") == 0
    (run_dir,) = tmp_path.iterdir()
    table = pd.read_csv(run_dir / "comparison.csv", keep_default_na=False)
    assert table.set_index("classifier").loc["w2v", "fit"] == "rbf-subsample on 50 of 140"
    assert table.set_index("classifier").loc["bow", "fit"] == ""
    record = json.loads((run_dir / "results.json").read_text())["classifiers"]["w2v"]
    assert record["fit_info"] == {"method": "rbf-subsample", "rows": 50, "of_rows": 140}
