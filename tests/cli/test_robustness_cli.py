"""``run --robustness``, ``robustness --run`` and ``--group-column`` end to end: the files, the
report sections, the same numbers twice, resuming, and user text never becoming markup."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from benchmark.__main__ import main
from benchmark.report import REPORT_FILE, write_report

from .._helpers import FAST, fast_flags, interrupted_run, one_line_error, require, run_main, run_predictions, synthetic_reviews


def _without_timings(robustness: dict) -> dict:
    return {**robustness, "classifiers": {n: {k: v for k, v in e.items() if k != "seconds"}
                                          for n, e in robustness["classifiers"].items()}}


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A copy of the shared finished run (bow and w2v saved), to write robustness.json into."""
    return shutil.copytree(finished_run, tmp_path / "run")


def test_robustness_scores_the_saved_classifiers_of_a_finished_run(run_copy, capsys):
    out = run_main(capsys, "robustness", "--run", str(run_copy))
    assert out.returncode == 0, out.stderr
    assert "Behavioural tests (failure rate, Wilson 95% CI)" in out.stdout and "negated positive" in out.stdout
    robustness = json.loads((run_copy / "robustness.json").read_text())
    results = json.loads((run_copy / "results.json").read_text())
    assert robustness["run_id"] == results["run_id"] and robustness["seed"] == results["config"]["seed"]
    assert list(robustness["classifiers"]) == ["bow", "w2v"]
    predictions = run_predictions(run_copy)
    assert set(robustness["reviews"]["row_id"]) <= set(predictions.row_id.tolist())  # the run's own test reviews
    bow = robustness["classifiers"]["bow"]["tests"]
    assert bow["negated positive"]["cases"] == 500 and 0 <= bow["negated positive"]["rate"] <= 1
    assert "pairs" in robustness and robustness["pairs"]["negated positive"][0]["a"] == "bow"
    report = (run_copy / REPORT_FILE).read_text()
    for heading in ("## Behavioural tests", "### Example failures", "#### bow", "#### w2v", "## Slices: where each classifier fails",
                    "McNemar's exact test per test"):
        assert heading in report
    # The same run gives the same cases and the same numbers.
    assert run_main(capsys, "-q", "robustness", "--run", str(run_copy)).returncode == 0
    assert _without_timings(json.loads((run_copy / "robustness.json").read_text())) == _without_timings(robustness)


def test_report_regeneration_keeps_the_sections_byte_identical(run_copy, capsys):
    assert run_main(capsys, "-q", "robustness", "--run", str(run_copy)).returncode == 0
    before = (run_copy / REPORT_FILE).read_bytes()
    assert write_report(run_copy).read_bytes() == before


def test_robustness_of_a_run_without_saved_models_is_one_line(run_copy, capsys):
    shutil.rmtree(run_copy / "models")
    one_line_error(run_main(capsys, "robustness", "--run", str(run_copy)), "has no saved models", "run --robustness")
    one_line_error(run_main(capsys, "robustness", "--run", str(run_copy / "nothing")), "is not a run folder")


def test_run_with_robustness_and_three_classes_with_a_neutral_one(tmp_path, capsys):
    texts, labels = synthetic_reviews(3, 40)
    names = ["negative", "neutral", "positive"]
    frame = pd.DataFrame({"text": texts, "label": [names[k] for k in labels],
                          "city": [["Lyon", "Oslo", "Rome", "Kyiv", "Lima"][i % 5] for i in range(len(texts))]})
    frame.to_csv(tmp_path / "r.csv", index=False)
    out = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(tmp_path / "r.csv"), "--robustness",
                   "--group-column", "city", "--output", str(tmp_path / "out"), *fast_flags())
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    robustness = json.loads((run_dir / "robustness.json").read_text())
    assert (robustness["classes"]["negative"], robustness["classes"]["neutral"], robustness["classes"]["positive"]) == (0, 1, 2)
    assert robustness["classes"]["score"].startswith("expected class")
    assert "neutral statement" in robustness["classifiers"]["bow"]["tests"]
    slices = json.loads((run_dir / "results.json").read_text())["slices"]
    # 18 test reviews, in five cities: every city is under 30 test reviews, so they are pooled.
    assert slices["group"]["order"] == ["other"] and len(slices["group"]["pooled_groups"]) == 5
    report = (run_dir / REPORT_FILE).read_text()
    assert "neutral = `neutral`" in report and "pooled as `other`" in report
    before = report.encode()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / REPORT_FILE).read_bytes() == before


def test_a_resumed_run_keeps_the_behavioural_tests_of_what_finished(tmp_path, monkeypatch, capsys):
    run_dir = interrupted_run(tmp_path / "out", monkeypatch, "--robustness", *FAST)
    first = json.loads((run_dir / "robustness.json").read_text())
    assert list(first["classifiers"]) == ["bow"]
    assert main(["-q", "run", "--resume", str(run_dir)]) == 0
    resumed = json.loads((run_dir / "robustness.json").read_text())
    assert list(resumed["classifiers"]) == ["bow", "w2v"]
    assert resumed["classifiers"]["bow"] == first["classifiers"]["bow"] and resumed["cases_sha256"] == first["cases_sha256"]


@pytest.mark.slow
def test_bert_takes_the_same_tests_as_the_classical_models(tmp_path, capsys):
    require("bert")
    suite = tmp_path / "small.json"  # fewer cases: BERT's int8 path scores one review at a time
    suite.write_text(json.dumps({"max_cases": 40, "reviews": 10}))
    out = run_main(capsys, "-q", "run", "--classifiers", "bow,bert", "--robustness", "--robustness-suite", str(suite),
                   "--output", str(tmp_path / "out"), *fast_flags("bert"))
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "out").iterdir()
    robustness = json.loads((run_dir / "robustness.json").read_text())
    assert list(robustness["classifiers"]) == ["bow", "bert"]
    bow, bert = (robustness["classifiers"][n]["tests"] for n in ("bow", "bert"))
    assert set(bow) == set(bert) and bert["negated positive"]["cases"] == 40
    assert any(p["a"] == "bow" and p["b"] == "bert" for p in robustness["pairs"]["negated positive"])


HOSTILE = ["<script>alert(1)</script>", "[c](javascript:alert(1))", "| a | b |", "![t](http://e.example/p.png)"]


def test_user_text_in_the_new_sections_never_becomes_markup(tmp_path, capsys):
    from markdown_it import MarkdownIt

    texts, labels = synthetic_reviews(2, 250)  # 75 test reviews: both groups large enough to show by name
    texts = [f"{t} {HOSTILE[i % 4]}" if i % 3 == 0 else t for i, t in enumerate(texts)]
    groups = [HOSTILE[i % 2] for i in range(len(texts))]
    pd.DataFrame({"text": texts, "label": labels, "shop": groups}).to_csv(tmp_path / "r.csv", index=False)
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"tests": [{"name": "<b>bold</b> [x](javascript:alert(1))", "family": "<script>x</script>",
                                            "kind": "mft", "expect": {"positive": ["<img src=x onerror=alert(1)> {pos_adj}"]}}]}))
    out = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(tmp_path / "r.csv"), "--robustness",
                   "--robustness-suite", str(suite), "--group-column", "shop", "--output", str(tmp_path / "out"), *fast_flags())
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    report = (run_dir / REPORT_FILE).read_text()
    assert "<b>bold</b>" in report and "## Behavioural tests" in report and "`--group-column`" in report
    assert json.loads((run_dir / "results.json").read_text())["slices"]["group"]["pooled"] is None
    html = MarkdownIt("gfm-like").render(report)
    assert "<script" not in html and "<b>" not in html and "<a " not in html
    images = [part.split('"')[1] for part in html.split("<img src=")[1:]]
    assert all(src.endswith(".png") and "/" not in src for src in images)  # only our own plots


def test_group_column_travels_into_predictions_files(tmp_path, capsys):
    from dataset import load_reviews

    texts, labels = synthetic_reviews(2, 60)
    cities = [("Paris" if i % 3 else "=cmd|' /C calc'!A0") for i in range(len(texts))]
    pd.DataFrame({"text": texts, "label": labels, "city": cities}).to_csv(tmp_path / "r.csv", index=False)
    out = run_main(capsys, "-q", "run", "--classifiers", "bow", "--data", str(tmp_path / "r.csv"), "--group-column", "city",
                   "--output", str(tmp_path / "out"), *fast_flags())
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    lines = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    data = load_reviews(str(tmp_path / "r.csv"), group_column="city")
    assert [line["group"] for line in lines] == [data.groups[line["row_id"]] for line in lines]
    assert run_predictions(run_dir).groups == [line["group"] for line in lines]
    table = pd.read_csv(run_dir / "predictions.csv", keep_default_na=False)
    assert set(table["group"]) <= {"Paris", "'=cmd|' /C calc'!A0"}  # a formula is neutralised for spreadsheets
    results = json.loads((run_dir / "results.json").read_text())
    assert results["config"]["group_column"] == "city"
    assert results["slices"]["group"]["column"] == "city"
