"""Is the difference real? Bootstrap confidence intervals and McNemar's exact test."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.stats import binomtest


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Macro F1 of binary predictions; rows of a 2-D input are separate resamples."""
    scores = []
    for positive in (0, 1):
        tp = ((y_pred == positive) & (y_true == positive)).sum(-1)
        fp = ((y_pred == positive) & (y_true != positive)).sum(-1)
        fn = ((y_pred != positive) & (y_true == positive)).sum(-1)
        denom = 2 * tp + fp + fn
        scores.append(np.divide(2 * tp, denom, out=np.zeros(np.shape(tp), dtype=float), where=denom > 0))
    return (scores[0] + scores[1]) / 2


def bootstrap_ci(y_true, y_pred, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap confidence intervals of accuracy and macro F1.

    Test items are resampled with replacement ``n_resamples`` times (seeded, so the
    same inputs give the same intervals).

    Returns
    -------
    dict
        ``{"accuracy": {"value", "low", "high"}, "f1_macro": {...}, "n_resamples", "confidence"}``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("cannot bootstrap an empty test set")
    rng = np.random.default_rng(seed)
    out = {"n_resamples": int(n_resamples), "confidence": confidence}
    tail = (1 - confidence) / 2 * 100
    # Chunks keep memory bounded for large test sets.
    accuracy, f1 = [], []
    for start in range(0, n_resamples, 200):
        idx = rng.integers(0, len(y_true), size=(min(200, n_resamples - start), len(y_true)))
        t, p = y_true[idx], y_pred[idx]
        accuracy.append((t == p).mean(axis=1))
        f1.append(_macro_f1(t, p))
    for name, point, samples in (
        ("accuracy", float((y_true == y_pred).mean()), np.concatenate(accuracy)),
        ("f1_macro", float(_macro_f1(y_true, y_pred)), np.concatenate(f1)),
    ):
        low, high = np.percentile(samples, [tail, 100 - tail])
        out[name] = {"value": point, "low": float(low), "high": float(high)}
    return out


def mcnemar_exact(y_true, pred_a, pred_b) -> dict:
    """McNemar's exact test of two classifiers on the same test items.

    Only discordant items count: ``a_only`` (A right, B wrong) and ``b_only``. Under the
    null hypothesis of equal error rates each discordant item is a fair coin, so the
    p-value is the two-sided binomial test of ``a_only`` out of ``a_only + b_only``.

    Returns
    -------
    dict
        ``a_only``, ``b_only``, ``p_value`` (1.0 when there are no discordant items).
    """
    y_true, pred_a, pred_b = map(np.asarray, (y_true, pred_a, pred_b))
    right_a, right_b = pred_a == y_true, pred_b == y_true
    a_only = int((right_a & ~right_b).sum())
    b_only = int((right_b & ~right_a).sum())
    n = a_only + b_only
    p_value = 1.0 if n == 0 else float(binomtest(a_only, n, 0.5, alternative="two-sided").pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p_value}


def pairwise_mcnemar(y_true, predictions: dict[str, np.ndarray]) -> list[dict]:
    """:func:`mcnemar_exact` for every pair of classifiers, in the given order."""
    return [
        {"a": a, "b": b, **mcnemar_exact(y_true, predictions[a], predictions[b])}
        for a, b in combinations(predictions, 2)
    ]
