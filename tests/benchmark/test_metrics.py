"""The metrics of two classes and more, against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score

# -- metrics --------------------------------------------------------------------------------


def test_k_class_metrics_match_scikit_learn():
    from benchmark.measure import evaluate
    from benchmark.stats import Classes, bootstrap_ci

    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 300)
    pred = np.clip(y + rng.integers(-1, 2, 300), 0, 4)
    proba = rng.dirichlet(np.ones(5), 300)
    classes = Classes(5, True, (1.0, 2.0, 3.0, 4.0, 5.0))
    m = evaluate(y, pred, proba, classes, ["1", "2", "3", "4", "5"])
    assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    assert m["qwk"] == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert m["mae"] == pytest.approx(np.abs(y - pred).mean())
    assert m["off_by_one"] == 1.0
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    # Top-label ECE: how far the top probability is from how often the top class is right.
    assert 0 <= m["ece"] <= 1 and m["brier"] == pytest.approx(((proba - np.eye(5)[y]) ** 2).sum(1).mean())
    ci = bootstrap_ci(y, pred, proba, classes=classes, n_resamples=200)
    for key in ("accuracy", "f1_macro", "qwk", "mae", "roc_auc", "ece", "brier", "precision_4", "recall_0", "f1_2"):
        assert ci[key]["low"] <= ci[key]["value"] <= ci[key]["high"], key
    assert ci["qwk"]["value"] == pytest.approx(m["qwk"])


def test_unordered_classes_have_no_ordinal_metrics():
    from benchmark.measure import evaluate
    from benchmark.stats import Classes

    y = np.array([0, 1, 2] * 10)
    m = evaluate(y, y, np.eye(3)[y], Classes(3, False), ["a", "b", "c"])
    assert "qwk" not in m and m["accuracy"] == 1.0 and m["report"]["b"]["f1-score"] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_the_ece_interval_holds_a_debiased_value_that_the_plugin_overstates(seed):
    """On calibrated probabilities (true ECE 0), the binned ECE is biased upwards and its
    percentile interval lay above it; the debiased value sits in its interval and nearer 0."""
    from benchmark.stats import bootstrap_ci

    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, 400)
    y = (rng.uniform(0, 1, 400) < p).astype(int)
    ece = bootstrap_ci(y, (p > 0.5).astype(int), p)["ece"]
    assert ece["low"] <= ece["value"] <= ece["high"]
    assert ece["value"] < ece["plugin"]
