"""Plots, statistics, report regeneration, predict and compare."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from benchmark.__main__ import main
from benchmark.report import REPORT_FILE, write_report
from benchmark.stats import bootstrap_ci, mcnemar_exact, pairwise_mcnemar


def test_run_writes_report_and_non_empty_plots(finished_run):
    report = (finished_run / REPORT_FILE).read_text()
    pngs = sorted(p.name for p in finished_run.glob("*.png"))
    assert pngs == ["confusion_bow.png", "confusion_w2v.png", "reliability.png", "roc.png", "tradeoff.png"]
    for name in pngs:
        data = (finished_run / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
        assert f"![{name}]({name})" in report
    sections = ("## Comparison", "bootstrap confidence intervals", "McNemar", "## Split manifest", "## Environment",
                "Most confidently wrong")
    for section in sections:
        assert section in report
    assert "`positive` n-gram" in report  # BoW weights in the error analysis


def test_results_record_memory_and_model_size(finished_run):
    records = json.loads((finished_run / "results.json").read_text())["classifiers"]
    for record in records.values():
        assert record["memory"]["fit_peak_rss_mb"] > 50
        assert record["memory"]["predict_peak_rss_mb"] > 50
        assert record["model_size_mb"] > 0
    assert (finished_run / "models" / "bow" / "sentibench.json").is_file()


def test_report_regeneration_is_byte_identical(finished_run, capsys):
    files = [REPORT_FILE, *(p.name for p in finished_run.glob("*.png"))]
    before = {f: (finished_run / f).read_bytes() for f in files}
    for f in files:
        (finished_run / f).unlink()
    assert main(["report", str(finished_run)]) == 0
    assert {f: (finished_run / f).read_bytes() for f in files} == before
    assert write_report(finished_run).read_bytes() == before[REPORT_FILE]


def test_report_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err


def test_bootstrap_ci_contains_point_estimate_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)

    def width(n):
        y = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.85, y, 1 - y)
        ci = bootstrap_ci(y, pred, n_resamples=1000, seed=1)
        for metric in ("accuracy", "f1_macro"):
            assert ci[metric]["low"] <= ci[metric]["value"] <= ci[metric]["high"]
        return ci["accuracy"]["high"] - ci["accuracy"]["low"]

    small, large = width(100), width(10_000)
    assert large < small / 5
    y = np.array([0, 1, 1, 0, 1])
    assert bootstrap_ci(y, y, seed=3) == bootstrap_ci(y, y, seed=3)


def test_mcnemar_matches_hand_computed_example():
    # A right / B wrong on 8 items, B right / A wrong on 2, both right on 5, both wrong on 1.
    y = np.zeros(16, dtype=int)
    a = np.array([0] * 8 + [1] * 2 + [0] * 5 + [1])
    b = np.array([1] * 8 + [0] * 2 + [0] * 5 + [1])
    result = mcnemar_exact(y, a, b)
    assert (result["a_only"], result["b_only"]) == (8, 2)
    # Two-sided exact binomial: 2 * P(X <= 2 | n=10, p=0.5) = 2 * (1 + 10 + 45) / 1024.
    assert result["p_value"] == pytest.approx(112 / 1024)
    assert mcnemar_exact(y, a, a)["p_value"] == 1.0
    pairs = pairwise_mcnemar(y, {"x": a, "y": b, "z": a})
    assert [(p["a"], p["b"]) for p in pairs] == [("x", "y"), ("x", "z"), ("y", "z")]


def test_predict_prints_each_classifier_per_review(finished_run, capsys):
    assert main(["predict", "--run", str(finished_run), "a wonderful , moving film", "dull and lifeless"]) == 0
    out = capsys.readouterr().out
    assert "bow (P of the label)" in out and "w2v (P of the label)" in out
    assert out.count("wonderful") == 1 and out.count("lifeless") == 1


def test_predict_reads_file_and_stdin(finished_run, tmp_path, capsys, monkeypatch):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("great fun\n\nboring mess\n")
    assert main(["predict", "--run", str(finished_run), "--classifiers", "bow", "--file", str(reviews)]) == 0
    out = capsys.readouterr().out
    assert "great fun" in out and "boring mess" in out and "w2v" not in out
    monkeypatch.setattr("sys.stdin", io.StringIO("lovely\n"))
    assert main(["predict", "--run", str(finished_run)]) == 0
    assert "lovely" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--classifiers", "bert", "x"], "no saved model for bert"),
        (["--classifiers", "nope", "x"], "has no saved model for nope (saved: bow, w2v)"),
        (["--file", "/no/such/file.txt"], "cannot read /no/such/file.txt"),
    ],
)
def test_predict_errors_exit_2(finished_run, capsys, args, message):
    assert main(["predict", "--run", str(finished_run), *args]) == 2
    assert message in capsys.readouterr().err


def test_predict_without_saved_models_exits_2(tmp_path, capsys):
    assert main(["-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "2"]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert main(["predict", "--run", str(run_dir), "good"]) == 2
    assert "rerun with 'run --save-models'" in capsys.readouterr().err


def test_compare_prints_deltas_and_warns_on_different_splits(finished_run, tmp_path, capsys):
    assert main(["-q", "run", "--classifiers", "bow", "--output", str(tmp_path), "--latency-calls", "2", "--seed", "7"]) == 0
    (other,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["compare", str(finished_run), str(other)]) == 0
    captured = capsys.readouterr()
    assert "split: DIFFERENT" in captured.out
    assert "| bow" in captured.out and "w2v" not in captured.out
    assert "different splits" in captured.err
    assert main(["compare", str(finished_run), str(finished_run)]) == 0
    captured = capsys.readouterr()
    assert "split: identical" in captured.out and "+0.0000" in captured.out
    assert "different splits" not in captured.err


def test_seeds_repeat_the_comparison_and_summarise(tmp_path, capsys):
    assert main(["-q", "run", "--classifiers", "bow", "--seeds", "1,2", "--output", str(tmp_path), "--latency-calls", "2"]) == 0
    (parent,) = tmp_path.iterdir()
    summary = json.loads((parent / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert set(summary["runs"]) == {"1", "2"}
    for folder in summary["runs"].values():
        assert (parent / folder / "results.json").is_file()
    accuracy = summary["metrics"]["bow"]["accuracy"]
    assert len(accuracy["values"]) == 2
    assert accuracy["mean"] == pytest.approx(np.mean(accuracy["values"]))
    assert accuracy["std"] == pytest.approx(np.std(accuracy["values"], ddof=1))
    assert "± " in (parent / "summary.md").read_text()
    assert main(["-q", "run", "--seeds", "1,1", "--output", str(tmp_path)]) == 2


HOSTILE_REVIEWS = [
    "<script>alert('x')</script> terrible food",
    '<img src=x onerror="alert(1)"> awful service',
    "![tracker](http://evil.example/pixel.png) horrible place",
    "[click me](javascript:alert(1)) never again",
    "visit http://evil.example or www.evil.example for coupons, bad",
    "**bold** _claims_ `code` | pipes | and # headings, the worst",
    "=HYPERLINK(\"http://evil.example\") cell formula, dreadful",
]
ALL_IN_ONE = ("<script>alert(1)</script> <img src=x onerror=\"alert(1)\"> ![t](http://e.example/p.png) "
              "[c](javascript:alert(1)) www.evil.example")


def test_review_text_never_becomes_markup_in_the_report(tmp_path, sample):
    import pandas as pd
    from markdown_it import MarkdownIt

    # The data file's path is shown in the report too: give it markup of its own.
    folder = tmp_path / "[x](javascript:alert(1)) <b>bold<b>"
    folder.mkdir()
    data = folder / "reviews.csv"
    pd.DataFrame({"text": sample.texts, "label": sample.labels}).to_csv(data, index=False)
    out = tmp_path / "runs"
    assert main(["-q", "run", "--classifiers", "bow", "--data", str(data), "--output", str(out), "--latency-calls", "2"]) == 0
    (run_dir,) = out.iterdir()
    # Every test review becomes hostile text; the report is regenerated from the files.
    lines = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    for i, line in enumerate(lines):
        line["text"] = ALL_IN_ONE if i % 2 == 0 else HOSTILE_REVIEWS[i % len(HOSTILE_REVIEWS)]  # ALL_IN_ONE is shown whole
    (run_dir / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = write_report(run_dir).read_text()
    assert ALL_IN_ONE in report  # shown, as literal text
    html = MarkdownIt("gfm-like").render(report)  # GitHub-like: tables and bare-URL links
    assert "<script" not in html and "<b>" not in html and "onerror=\"" not in html
    assert "<a " not in html  # nothing in the report links anywhere
    images = [part.split('"')[1] for part in html.split("<img src=")[1:]]
    assert images and all(src.endswith(".png") and "/" not in src for src in images)  # only our own plots


@pytest.mark.parametrize("ms, text", [(1.354, "1.35"), (0.1, "0.10"), (0.0843, "0.084"), (0.0084, "0.0084"), (0.0, "0.00")])
def test_latencies_keep_two_significant_digits_below_a_tenth_of_a_millisecond(ms, text):
    from benchmark.timing import format_ms

    assert format_ms(ms) == text
