"""Crafted run folders and hostile outputs: ``report``, ``compare``, ``predict``, ``perf`` and
``data info`` answer in one line, print no escape sequence, write only strict JSON, and
check an output path before the work."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest

from benchmark.cli import config_file, parse_value

from .._helpers import one_line_error, run_main


def _strict(text: str):
    """``text`` parsed as standard JSON: NaN and Infinity refused."""
    def refuse(name):
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def crafted(tmp_path, finished_run):
    """A copy of the finished run whose results.json a test rewrites (given a function)."""
    copy = tmp_path / "crafted"
    shutil.copytree(finished_run, copy)

    def rewrite(change, *, text=None):
        results = json.loads((copy / "results.json").read_text())
        change(results)
        (copy / "results.json").write_text(text(results) if text else json.dumps(results))
        return copy

    return rewrite


# -- NaN and Infinity ---------------------------------------------------------------------


def test_compare_json_of_a_results_file_holding_nan_is_refused_not_echoed(crafted, finished_run, capsys):
    """``json.loads`` reads NaN and ``json.dumps`` writes it: compare --json printed NaN."""
    def nan_accuracy(results):
        results["classifiers"]["bow"]["metrics"]["accuracy"] = float("nan")

    copy = crafted(nan_accuracy)
    assert "NaN" in (copy / "results.json").read_text()
    outcome = run_main(capsys, "compare", str(finished_run), str(copy), "--json")
    one_line_error(outcome, "results.json", "NaN is not a JSON number")
    assert outcome.stdout == ""


def test_json_outputs_are_strict_json(finished_run, tmp_path, capsys):
    for args in (["predict", "--run", str(finished_run), "--json", "great fun"],
                 ["compare", str(finished_run), str(finished_run), "--json"],
                 ["data", "info", "sample:pang-lee", "--json"]):
        outcome = run_main(capsys, *args)
        assert outcome.returncode == 0, outcome.stderr
        for line in outcome.stdout.splitlines() if args[0] == "predict" else [outcome.stdout]:
            _strict(line)


def test_nan_and_infinity_on_the_command_line_are_no_numbers(tmp_path):
    assert parse_value("NaN") == "NaN" and parse_value("-Infinity") == "-Infinity"  # then refused as a value
    assert parse_value("0.5") == 0.5 and parse_value("1,2") == [1, 2]
    config = tmp_path / "params.json"
    config.write_text('{"bow": {"C": NaN}}')
    with pytest.raises(Exception, match="not valid JSON") as excinfo:
        config_file(str(config))
    assert "\n" not in str(excinfo.value)


# -- crafted results.json: one line, never a KeyError or RecursionError ---------------------


@pytest.mark.parametrize("change, needle", [
    (lambda r: r["pareto"].update(latency=["ghost"]), "the pareto frontier names 'ghost', which has no record"),
    (lambda r: r["recommendation"].update(classifier="ghost"), "recommendation.classifier names 'ghost'"),
    (lambda r: r["recommendation"].update(runner_up="ghost"), "recommendation.runner_up names 'ghost'"),
    (lambda r: r.update(pareto="frontier"), "'pareto' is not two lists"),
])
def test_report_and_compare_of_an_answer_naming_a_missing_classifier(crafted, finished_run, capsys, change, needle):
    copy = crafted(change)
    one_line_error(run_main(capsys, "report", str(copy)), needle)
    one_line_error(run_main(capsys, "compare", str(finished_run), str(copy)), needle)


def test_report_and_compare_of_a_deeply_nested_results_file(crafted, finished_run, capsys):
    copy = crafted(lambda r: None, text=lambda r: json.dumps(r)[:-1] + ', "deep": ' + "[" * 200_000 + "]" * 200_000 + "}")
    for args in (["report", str(copy)], ["compare", str(finished_run), str(copy)], ["-q", "run", "--resume", str(copy)]):
        one_line_error(run_main(capsys, *args), "cannot read", "RecursionError")


def test_compare_prints_names_from_a_run_folder_without_escape_sequences(crafted, finished_run, capsys):
    def escapes(results):
        results["run_id"] = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202e"

    copy = crafted(escapes)
    out = run_main(capsys, "compare", str(copy), str(finished_run)).stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "A: \\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred\\u202e  B:" in out  # shown, escaped
    assert json.loads(run_main(capsys, "compare", str(copy), str(finished_run), "--json").stdout)["a"] == (
        "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202e")  # exact in JSON (escaped by JSON itself)


def test_report_shows_the_run_id_and_the_cpu_as_literal_text(crafted, capsys):
    def markup(results):
        results["run_id"] = "run <img src=x onerror=alert(1)> **bold**"
        results["environment"]["cpu"] = "[click](http://evil.example) <b>CPU</b>"
        results["environment"]["resumed_on_cpus"] = ["*Other* CPU"]

    copy = crafted(markup)
    assert run_main(capsys, "report", str(copy)).returncode == 0
    report = (copy / "report.md").read_text()
    assert "# sentibench report: run `run <img src=x onerror=alert(1)> **bold**`" in report
    assert "CPU `[click](http://evil.example) <b>CPU</b>`" in report
    assert "Resumed on another CPU (`*Other* CPU`)" in report
    from markdown_it import MarkdownIt

    html = MarkdownIt("gfm-like").render(report)
    assert "<img src=x" not in html and "<b>CPU" not in html and "<strong>bold" not in html and "<em>Other" not in html
    assert 'href="http://evil.example"' not in html


def test_a_crafted_recommendation_or_classifier_name_never_becomes_markup(crafted, capsys):
    """The recommendation's sentence and classifier names come from results.json: a crafted
    one rendered as links and images in report.md (and on GitHub)."""
    from markdown_it import MarkdownIt

    def reason(results):
        results["recommendation"]["reason"] = "use bow ![pixel](http://evil.example/p.png) [click](http://evil.example) <http://evil.example>"

    copy = crafted(reason)
    assert run_main(capsys, "report", str(copy)).returncode == 0
    html = MarkdownIt("gfm-like").render((copy / "report.md").read_text())
    assert "evil.example/p.png" in html and "<img src=\"http://evil" not in html and 'href="http://evil' not in html

    def rename(results):
        results["classifiers"]["![x](http://evil.example/p.png)"] = results["classifiers"].pop("w2v")

    one_line_error(run_main(capsys, "report", str(crafted(rename))), "classifier name", "![x](http://evil.example/p.png)")


# -- CSV files for people -------------------------------------------------------------------


def test_comparison_csv_never_starts_a_cell_with_a_formula(finished_run, tmp_path):
    from benchmark.report import write_comparison

    results = json.loads((finished_run / "results.json").read_text())
    formula = '=HYPERLINK("http://evil.example","click")'
    record = results["classifiers"].pop("bow")
    results["classifiers"][formula] = {**record, "classifier": formula,
                                       "fit_info": {"method": "@SUM(1)", "rows": 1, "of_rows": 2}}
    write_comparison(tmp_path, results)
    frame = pd.read_csv(tmp_path / "comparison.csv", keep_default_na=False)
    assert frame["classifier"].tolist() == ["w2v", "'" + formula]
    assert frame["fit"].tolist()[1].startswith("'@SUM(1)")
    assert frame["accuracy"].dtype == float  # numbers stay numbers


def test_learning_curve_csv_never_starts_a_cell_with_a_formula(tmp_path):
    from benchmark.curve import write_curve_files

    row = {"train_size": 10, "repeats": 1, "accuracy_mean": 0.5, "accuracy_std": 0.0, "accuracy_min": 0.5,
           "accuracy_max": 0.5, "accuracy_ci": [0.4, 0.6], "f1_macro_mean": 0.5, "train_time_s_mean": 0.1}
    curve = {"run_id": "x", "config": {"metric": "accuracy", "seed": 42}, "findings": [],
             "data": {"source": "reviews.csv", "rows_used": 50},
             "split": {"sizes": {"train": 10, "validation": 20, "test": 20}}, "summary": {"-2+3": [row]}}
    write_curve_files(tmp_path, curve)
    frame = pd.read_csv(tmp_path / "learning_curve.csv", keep_default_na=False)
    assert frame["classifier"].tolist() == ["'-2+3"] and frame["accuracy_mean"].tolist() == [0.5]


# -- output paths and data paths ------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/sys is Linux's")
def test_perf_json_that_cannot_be_written_is_refused_before_measuring(monkeypatch, capsys):
    """As root, os.access says yes to /sys, and the file fails only after the measurement."""
    import benchmark.perf.classical as perf_classical

    def must_not_measure(*args, **kwargs):
        raise AssertionError("measured before checking --json")

    monkeypatch.setattr(perf_classical, "run_perf_classical", must_not_measure)
    one_line_error(run_main(capsys, "perf", "classical", "--json", "/sys/sentibench-perf.json"),
                   "cannot write --json /sys/sentibench-perf.json")


def test_data_info_of_an_empty_path_says_it_is_empty(capsys):
    line = one_line_error(run_main(capsys, "data", "info", ""), "no data file given", "the path is empty")
    assert "directory" not in line
