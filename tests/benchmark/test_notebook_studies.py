"""``from benchmark import learning_curve`` and ``Comparison.robustness()``: the ``curve`` and
``robustness`` commands from Python (issue #31)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmark import LearningCurve, compare, learning_curve
from dataset import SentibenchError, UsageError, bundled_sample_path, load_reviews

from .._helpers import run_main

CURVE = {"sizes": [40, 80], "repeats": 2, "progress": False}


@pytest.fixture(scope="module")
def frame():
    data = load_reviews(str(bundled_sample_path()))
    return pd.DataFrame({"text": data.texts, "label": [data.label_names[int(v)] for v in data.labels]})


@pytest.fixture(scope="module")
def curved(frame, tmp_path_factory):
    return learning_curve(frame, classifiers=["bow"], output=tmp_path_factory.mktemp("nbcurve"), **CURVE)


def _points(run_dir) -> list[dict]:
    points = json.loads((run_dir / "learning_curve.json").read_text())["points"]
    return [{k: v for k, v in p.items() if k != "train_time_s"} for p in points]


def test_learning_curve_gives_the_points_of_the_command_line(frame, curved, tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "cli"
    assert run_main(capsys, "-q", "curve", "--classifiers", "bow", "--data", str(csv), "--output", str(out),
                    "--sizes", "40,80", "--repeats", "2").returncode == 0
    (cli_dir,) = out.iterdir()
    assert _points(cli_dir) == _points(curved.run_dir)
    assert json.loads((cli_dir / "learning_curve.json").read_text())["findings"] == curved.findings


def test_the_learning_curve_shows_its_table_plot_and_report(curved):
    table = curved.table
    assert list(table["train_size"]) == [40, 80] and set(table["classifier"]) == {"bow"}
    assert (table["accuracy_ci_low"] <= table["accuracy_mean"]).all() and (table["accuracy_mean"] <= table["accuracy_ci_high"]).all()
    figure = curved.plot()
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["bow"]
    assert "learning curve" in curved._repr_html_() and "<html" not in curved._repr_html_()
    assert LearningCurve.load(curved.run_dir).findings == curved.findings


def test_learning_curve_refuses_what_the_curve_command_refuses(frame, tmp_path):
    with pytest.raises(UsageError, match="unknown option.*save_models.*valid options:.*repeats"):
        learning_curve(frame, classifiers=["bow"], save_models=True, output=tmp_path)
    with pytest.raises(UsageError, match="sizes"):
        learning_curve(frame, classifiers=["bow"], sizes=[0], output=tmp_path, progress=False)


def test_a_run_folder_is_not_a_learning_curve(frame, tmp_path):
    run = compare(frame, classifiers=["bow"], output=tmp_path, latency_calls=2, progress=False)
    with pytest.raises(UsageError, match="not a folder written by 'curve'"):
        LearningCurve.load(run.run_dir)


def test_robustness_of_a_comparison_scores_its_saved_models(frame, tmp_path):
    run = compare(frame, classifiers=["bow"], output=tmp_path, save_models=True, latency_calls=2, progress=False)
    table = run.robustness()
    assert len(table) > 0 and "bow" in " ".join(map(str, table.columns))
    saved = json.loads((run.run_dir / "robustness.json").read_text())
    assert "bow" in json.dumps(saved)
    assert "## Behavioural tests" in (run.run_dir / "report.md").read_text()


def test_robustness_needs_saved_models(frame, tmp_path):
    run = compare(frame, classifiers=["bow"], output=tmp_path, latency_calls=2, progress=False)
    with pytest.raises(SentibenchError, match="no saved models"):
        run.robustness()


def test_compare_adds_no_log_handler_so_a_cell_shows_each_line_once(frame, tmp_path):
    import logging

    loggers = [logging.getLogger(), logging.getLogger("benchmark"), logging.getLogger("classifiers"), logging.getLogger("dataset")]
    before = [list(lg.handlers) for lg in loggers]
    for _ in range(2):
        compare(frame, classifiers=["bow"], output=tmp_path, latency_calls=2, progress=False)
    assert [list(lg.handlers) for lg in loggers] == before
