"""Is the difference real? Calibration, bootstrap confidence intervals, McNemar's exact
test, paired differences, and the corrected resampled t-test across splits."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.stats import binomtest
from scipy.stats import t as student_t

#: Equal-width bins of the positive-class probability for the expected calibration error.
ECE_BINS = 15
#: Seed and size of the bootstrap behind every confidence interval sentibench reports.
BOOTSTRAP_SEED = 0
N_RESAMPLES = 1000
#: Below this many test reviews, confidence intervals are too wide to rank classifiers.
SMALL_TEST_SPLIT = 200
#: Level of every significance test (McNemar, the paired bootstrap, the corrected t-test).
SIGNIFICANCE = 0.05


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


def _bin_of(proba: np.ndarray, n_bins: int) -> np.ndarray:
    # Bin k holds [k/n, (k+1)/n); probability 1.0 goes to the last bin.
    return np.minimum((np.asarray(proba) * n_bins).astype(np.int64), n_bins - 1)


def expected_calibration_error(y_true, proba_pos, n_bins: int = ECE_BINS) -> np.ndarray | float:
    """Expected calibration error over ``n_bins`` equal-width bins of P(positive).

    ECE = sum over bins of (share of reviews in the bin) x |observed positive rate -
    mean predicted probability|. Rows of 2-D inputs are separate resamples.
    """
    y_true, proba_pos = np.asarray(y_true, dtype=float), np.asarray(proba_pos, dtype=float)
    if proba_pos.ndim == 2:
        return np.array([expected_calibration_error(t, p, n_bins) for t, p in zip(y_true, proba_pos, strict=True)])
    # Per bin, the sum of (label - probability): |sum| / n is the bin's share times its gap.
    gap = np.bincount(_bin_of(proba_pos, n_bins), weights=y_true - proba_pos, minlength=n_bins)
    return float(np.abs(gap).sum() / len(y_true))


def brier_score(y_true, proba_pos) -> np.ndarray | float:
    """Mean squared difference between P(positive) and the 0/1 label (lower is better)."""
    score = ((np.asarray(proba_pos, dtype=float) - np.asarray(y_true, dtype=float)) ** 2).mean(-1)
    return float(score) if np.ndim(score) == 0 else score


def reliability_bins(y_true, proba_pos, n_bins: int = ECE_BINS) -> dict:
    """Per bin: number of reviews, mean predicted P(positive), observed positive rate."""
    y_true, proba_pos = np.asarray(y_true, dtype=float), np.asarray(proba_pos, dtype=float)
    bins = _bin_of(proba_pos, n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bins, weights=proba_pos, minlength=n_bins) / counts
        rate = np.bincount(bins, weights=y_true, minlength=n_bins) / counts
    return {"edges": np.linspace(0, 1, n_bins + 1).tolist(), "count": counts.tolist(),
            "mean_predicted": [None if np.isnan(v) else float(v) for v in mean_p],
            "observed": [None if np.isnan(v) else float(v) for v in rate]}


def _metrics_of(t, p, proba):
    out = {"accuracy": (t == p).mean(axis=-1), "f1_macro": _macro_f1(t, p)}
    if proba is not None:
        out["ece"] = expected_calibration_error(t, proba)
        out["brier"] = brier_score(t, proba)
    return out


def resample_indices(n_items: int, n_resamples: int, seed: int, chunk: int = 200):
    """Bootstrap resamples of ``n_items`` test items, ``chunk`` rows at a time (memory
    ``chunk`` x ``n_items``); the seeded draws are the same whatever the chunk size."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n_items, size=(min(chunk, n_resamples - start), n_items))


def bootstrap_ci(y_true, y_pred, proba_pos=None, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap confidence intervals of accuracy and macro F1 (and, with
    ``proba_pos``, of ECE and the Brier score).

    Test items are resampled with replacement ``n_resamples`` times (seeded, so the
    same inputs give the same intervals).

    Returns
    -------
    dict
        ``{metric: {"value", "low", "high"}, "n_resamples", "confidence"}``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    proba = None if proba_pos is None else np.asarray(proba_pos, dtype=float)
    if len(y_true) == 0:
        raise ValueError("cannot bootstrap an empty test set")
    out: dict = {"n_resamples": int(n_resamples), "confidence": confidence}
    tail = (1 - confidence) / 2 * 100
    samples: dict[str, list] = {}
    for idx in resample_indices(len(y_true), n_resamples, seed):
        for name, values in _metrics_of(y_true[idx], y_pred[idx], None if proba is None else proba[idx]).items():
            samples.setdefault(name, []).append(values)
    for name, point in _metrics_of(y_true, y_pred, proba).items():
        low, high = np.percentile(np.concatenate(samples[name]), [tail, 100 - tail])
        out[name] = {"value": float(point), "low": float(low), "high": float(high)}
    return out


def paired_bootstrap_difference(y_true, pred_a, pred_b, *, n_resamples: int = 1000, confidence: float = 0.95,
                                seed: int = 0) -> dict:
    """Accuracy of A minus accuracy of B on the same test items, with a percentile
    bootstrap interval (the same resampled items for both, so the pairing is kept)."""
    right_a = np.asarray(pred_a) == np.asarray(y_true)
    right_b = np.asarray(pred_b) == np.asarray(y_true)
    diff = right_a.astype(float) - right_b.astype(float)
    means = np.concatenate([diff[idx].mean(axis=1) for idx in resample_indices(len(diff), n_resamples, seed)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"value": float(diff.mean()), "low": float(low), "high": float(high), "confidence": confidence}


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


def corrected_resampled_ttest(differences, test_train_ratio: float) -> dict:
    """Nadeau and Bengio's (2003) corrected resampled t-test of a mean difference.

    With ``k`` repeated splits of one data set the training sets overlap, so the ``k``
    differences are correlated and the plain t-test's variance ``s^2 / k`` is too small.
    Nadeau and Bengio replace it with ``(1/k + n_test/n_train) * s^2``.

    Parameters
    ----------
    differences : array-like of shape (k,)
        Per split: score of A minus score of B.
    test_train_ratio : float
        ``n_test / n_train`` of the splits.

    Returns
    -------
    dict
        ``mean``, ``std`` (sample), ``t``, ``df`` (k - 1) and two-sided ``p_value``
        (1.0 when every difference is 0; ``None`` with fewer than two splits or when
        every difference is the same non-zero value).
    """
    d = np.asarray(differences, dtype=float)
    k = len(d)
    mean = float(d.mean()) if k else 0.0
    if k < 2:
        return {"mean": mean, "std": None, "t": None, "df": k - 1, "p_value": None}
    var = float(d.var(ddof=1))
    if np.ptp(d) < 1e-12:  # equal up to rounding (accuracies are ratios of counts)
        var, mean = 0.0, (0.0 if abs(mean) < 1e-12 else mean)
    if var == 0:
        # The same non-zero difference on every split: t is infinite, but a handful of
        # coarse accuracies agreeing is no proof (p would claim certainty), so no p-value.
        return {"mean": mean, "std": 0.0, "t": None, "df": k - 1, "p_value": 1.0 if mean == 0 else None}
    t = mean / np.sqrt((1 / k + test_train_ratio) * var)
    p = float(2 * student_t.sf(abs(t), df=k - 1))
    return {"mean": mean, "std": float(np.sqrt(var)), "t": float(t), "df": k - 1, "p_value": p}
