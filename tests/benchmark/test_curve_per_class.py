"""``curve --per-class``: learning curves in labels per class (issue #29)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from benchmark.__main__ import main
from benchmark.curve_plan import balanced_order, curve_sizes, nested_order, plan, sample_orders
from dataset import UsageError

from .._helpers import one_line_error, run_main


def test_every_prefix_of_n_times_k_holds_exactly_n_of_each_class_and_is_nested():
    labels = np.array([0] * 30 + [1] * 200 + [2] * 70)
    order = balanced_order(labels, seed=5)
    assert sorted(order.tolist()) == list(range(300))
    for n in (1, 2, 8, 30):
        assert np.bincount(labels[order[: 3 * n]], minlength=3).tolist() == [n, n, n]
    assert not np.array_equal(order[:24], balanced_order(labels, seed=6)[:24])  # repeats draw other samples


def test_sizes_are_labels_per_class_times_the_classes_and_refused_past_the_smallest_class():
    labels = np.array([0] * 30 + [1] * 200 + [2] * 70)
    cfg = SimpleNamespace(per_class=[16, 8], sizes=None, repeats=2, classifiers=["bow"], seed=42)
    assert curve_sizes(cfg, labels) == [24, 48]
    orders = sample_orders(cfg, labels)  # the samples the fits take
    assert [np.bincount(labels[orders[r][:48]]).tolist() for r in (0, 1)] == [[16, 16, 16]] * 2
    np.testing.assert_array_equal(orders[1], balanced_order(labels, 43))
    stratified = sample_orders(SimpleNamespace(per_class=None, repeats=1, seed=42), labels)[0]
    np.testing.assert_array_equal(stratified, nested_order(labels, 42))
    assert plan(cfg, labels) == [(24, 0, "bow"), (24, 1, "bow"), (48, 0, "bow"), (48, 1, "bow")]
    with pytest.raises(UsageError, match="--per-class 31 is more than the smallest class of the training part has"):
        curve_sizes(SimpleNamespace(per_class=[8, 31], sizes=None), labels)


def test_a_per_class_curve_trains_on_exactly_that_many_of_each_class(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["-q", "curve", "--data", "sample:pang-lee", "--classifiers", "bow", "--per-class", "8,32",
                 "--repeats", "2", "--output", str(out)]) == 0
    (run_dir,) = out.iterdir()
    curve = json.loads((run_dir / "learning_curve.json").read_text())
    assert curve["config"]["per_class"] == [8, 32]
    assert sorted({p["train_size"] for p in curve["points"]}) == [16, 64]
    report = (run_dir / "report.md").read_text()
    assert "| bow | 16 (8 per class) | 2 |" in report and "exactly that many of each of the 2 classes" in report
    one_line_error(run_main(capsys, "curve", "--data", "sample:pang-lee", "--classifiers", "bow", "--per-class", "8",
                            "--sizes", "40", "--output", str(tmp_path / "x")), "not with --sizes")
    one_line_error(run_main(capsys, "curve", "--data", "sample:pang-lee", "--classifiers", "bow", "--per-class", "500",
                            "--output", str(tmp_path / "y")), "--per-class 500 is more than the smallest class")
