"""Is the difference real? Calibration, bootstrap confidence intervals, McNemar's exact
test, paired differences, and the corrected resampled t-test across splits."""

from __future__ import annotations

from dataclasses import dataclass
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


def finite_or_none(value) -> float | None:
    """A number for a JSON file: ``None`` where it is undefined (NaN, infinite)."""
    value = float(value)
    return value if np.isfinite(value) else None


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Precision, recall and F1 of each class (last axis: the classes; 0 where undefined,
    as scikit-learn's ``zero_division=0``); rows of 2-D inputs are separate resamples."""
    scores: dict[str, list] = {"precision": [], "recall": [], "f1": []}
    for k in range(n_classes):
        tp = ((y_pred == k) & (y_true == k)).sum(-1)
        fp = ((y_pred == k) & (y_true != k)).sum(-1)
        fn = ((y_pred != k) & (y_true == k)).sum(-1)
        for name, num, denom in (("precision", tp, tp + fp), ("recall", tp, tp + fn), ("f1", 2 * tp, 2 * tp + fp + fn)):
            scores[name].append(np.divide(num, denom, out=np.zeros(np.shape(tp), dtype=float), where=denom > 0))
    return {name: np.stack(values, axis=-1) for name, values in scores.items()}


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """Macro F1 over the classes; rows of a 2-D input are separate resamples."""
    f1 = per_class_scores(y_true, y_pred, n_classes)["f1"]
    total = f1[..., 0]
    for k in range(1, n_classes):  # added in class order: the same sums as ever for two classes
        total = total + f1[..., k]
    return total / n_classes


def score_by(metric: str, y_true, y_pred, n_classes: int):
    """``accuracy``, ``f1_macro`` or ``qwk`` of predictions; rows of 2-D inputs are resamples
    (an array of scores), 1-D inputs give one number (``nan`` where QWK is undefined)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if metric == "accuracy":
        score = (y_true == y_pred).mean(-1)
    elif metric == "f1_macro":
        score = macro_f1(y_true, y_pred, n_classes)
    else:
        score = quadratic_weighted_kappa(y_true, y_pred, n_classes)
        score = score if y_true.ndim == 2 else score[0]
    return float(score) if np.ndim(score) == 0 else score


def calibration_view(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """What calibration is measured on: for two classes, the label (0/1) and P(class 1);
    above, top-label: whether the most probable class is right, and its probability."""
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    if proba.shape == y_true.shape:  # P(class 1) of two classes already
        return y_true.astype(float), proba
    if proba.shape[-1] == 2:
        return y_true.astype(float), proba[..., 1]
    top = proba.argmax(-1)
    return (top == y_true).astype(float), np.take_along_axis(proba, top[..., None], -1)[..., 0]


def roc_auc_ovr(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """ROC-AUC from ranks (Mann-Whitney, ties averaged): for two classes of P(class 1), above
    the unweighted mean of each class against the rest (scikit-learn's ``multi_class="ovr"``,
    macro). Rows of 2-D ``y_true`` are resamples; ``nan`` where a class is missing."""
    from scipy.stats import rankdata

    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    if proba.shape == y_true.shape:  # P(class 1) of two classes
        proba = np.stack([1 - proba, proba], axis=-1)
    y_true = np.atleast_2d(y_true)
    proba = proba.reshape(y_true.shape + proba.shape[-1:])
    n_classes = proba.shape[-1]
    aucs = []
    for k in range(1 if n_classes == 2 else 0, n_classes):
        positive = y_true == k
        n_pos = positive.sum(-1)
        n_neg = positive.shape[-1] - n_pos
        ranks = rankdata(proba[..., k], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            aucs.append(((ranks * positive).sum(-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return np.mean(aucs, axis=0)


def quadratic_weighted_kappa(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Cohen's kappa with quadratic weights (scikit-learn's ``weights="quadratic"``) of
    ordered classes; rows of 2-D inputs are resamples; ``nan`` where it is undefined."""
    y_true, y_pred = np.atleast_2d(y_true), np.atleast_2d(y_pred)
    rows = np.arange(y_true.shape[0])[:, None]
    cells = (rows * n_classes + y_true) * n_classes + y_pred
    observed = np.bincount(cells.ravel(), minlength=y_true.shape[0] * n_classes * n_classes)
    observed = observed.reshape(y_true.shape[0], n_classes, n_classes).astype(float)
    expected = observed.sum(2)[:, :, None] * observed.sum(1)[:, None, :] / y_true.shape[1]
    weights = (np.arange(n_classes)[:, None] - np.arange(n_classes)[None, :]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - (weights * observed).sum((1, 2)) / (weights * expected).sum((1, 2))


def ordinal_scores(y_true, y_pred, n_classes: int, class_values=None) -> dict[str, np.ndarray]:
    """``mae`` (in class values, e.g. stars; in classes without them), ``qwk`` and
    ``off_by_one`` (share of predictions at most one class away) of ordered classes."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    values = np.arange(n_classes, dtype=float) if class_values is None else np.asarray(class_values, dtype=float)
    qwk = quadratic_weighted_kappa(y_true, y_pred, n_classes)
    return {"mae": np.abs(values[y_pred] - values[y_true]).mean(-1), "qwk": qwk if y_true.ndim == 2 else qwk[0],
            "off_by_one": (np.abs(y_pred - y_true) <= 1).mean(-1)}


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


def brier_multiclass(y_true, proba) -> np.ndarray | float:
    """Mean over reviews of the squared distance between the probabilities and the one-hot
    true class (Brier's own multi-class score; lower is better)."""
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    onehot = np.eye(proba.shape[-1])[y_true]
    score = ((proba - onehot) ** 2).sum(-1).mean(-1)
    return float(score) if np.ndim(score) == 0 else score


@dataclass(frozen=True)
class Classes:
    """What the metrics need to know about the classes of a test split."""

    n: int = 2
    ordinal: bool = False
    values: tuple | None = None  # the number of each class (star ratings)

    @property
    def has_ordinal_metrics(self) -> bool:
        """MAE, QWK and off-by-one accuracy mean something for three ordered classes or more."""
        return self.ordinal and self.n >= 3


def _metrics_of(t, p, proba, classes: Classes) -> dict:
    out = {"accuracy": (t == p).mean(axis=-1), "f1_macro": macro_f1(t, p, classes.n)}
    if proba is not None:
        proba = np.asarray(proba)
        view_y, view_p = calibration_view(t, proba)
        out["ece"] = expected_calibration_error(view_y, view_p)
        out["brier"] = brier_score(t, view_p) if proba.shape == np.shape(t) or proba.shape[-1] == 2 else brier_multiclass(t, proba)
        out["roc_auc"] = roc_auc_ovr(t, proba)
        if np.ndim(t) == 1:
            out["roc_auc"] = out["roc_auc"][0]
    if classes.n > 2:
        per_class = per_class_scores(t, p, classes.n)
        out.update({f"{name}_{k}": per_class[name][..., k] for name in per_class for k in range(classes.n)})
    if classes.has_ordinal_metrics:
        out.update(ordinal_scores(t, p, classes.n, classes.values))
    return out


def resample_indices(n_items: int, n_resamples: int, seed: int, chunk: int = 200):
    """Bootstrap resamples of ``n_items`` test items, ``chunk`` rows at a time (memory
    ``chunk`` x ``n_items``); the seeded draws are the same whatever the chunk size."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n_items, size=(min(chunk, n_resamples - start), n_items))


def bootstrap_ci(y_true, y_pred, proba=None, *, classes: Classes | None = None, n_resamples: int = 1000,
                 confidence: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap confidence intervals of the test metrics.

    Accuracy and macro F1; with ``proba`` (P(class 1) of two classes, or (n, K)) the ECE,
    the Brier score and ROC-AUC; above two classes each class's precision, recall and F1
    (``precision_<k>``...); for three ordered classes or more MAE, QWK and off-by-one
    accuracy. Test items are resampled with replacement ``n_resamples`` times (seeded, so
    the same inputs give the same intervals).

    Returns
    -------
    dict
        ``{metric: {"value", "low", "high"}, "n_resamples", "confidence"}``; ``None``
        values where a metric is undefined (e.g. ROC-AUC when a class has no test review).
    """
    classes = classes or Classes()
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    proba = None if proba is None else np.asarray(proba, dtype=float)
    if len(y_true) == 0:
        raise ValueError("cannot bootstrap an empty test set")
    out: dict = {"n_resamples": int(n_resamples), "confidence": confidence}
    tail = (1 - confidence) / 2 * 100
    samples: dict[str, list] = {}
    for idx in resample_indices(len(y_true), n_resamples, seed):
        for name, values in _metrics_of(y_true[idx], y_pred[idx], None if proba is None else proba[idx], classes).items():
            samples.setdefault(name, []).append(values)
    for name, point in _metrics_of(y_true, y_pred, proba, classes).items():
        drawn = np.concatenate(samples[name])
        if not np.isfinite(point) or not np.isfinite(drawn).any():
            out[name] = {"value": None if not np.isfinite(point) else float(point), "low": None, "high": None}
            continue
        low, high = np.nanpercentile(drawn, [tail, 100 - tail])
        out[name] = {"value": float(point), "low": float(low), "high": float(high)}
        if name in BIASED_UPWARDS:
            out[name] = debiased_interval(float(point), drawn, low, high)
    return out


#: Metrics whose plug-in estimate is biased upwards under resampling: the binned ECE (an
#: absolute value of a noisy per-bin gap is never below the gap), so a percentile interval
#: lands above the estimate itself.
BIASED_UPWARDS = ("ece",)


def debiased_interval(point: float, drawn: np.ndarray, low: float, high: float) -> dict:
    """Efron's bootstrap bias correction of ``point`` and the basic bootstrap interval.

    The bias is estimated as ``mean(drawn) - point``; the value is ``point - bias``
    (a debiased ECE, in the manner of Kumar et al. 2019's debiased estimator) and the
    interval ``[2 point - high, 2 point - low]`` (the distribution of ``drawn - point``
    stands for that of ``point - truth``), both floored at 0. The value lies in its
    interval whenever the resamples' mean lies between their percentiles. ``plugin`` keeps
    the binned estimate itself (``metrics.ece``).
    """
    mean = float(np.nanmean(drawn))
    return {"value": max(0.0, 2 * point - mean), "low": max(0.0, 2 * point - float(high)),
            "high": max(0.0, 2 * point - float(low)), "plugin": point}


def paired_bootstrap_difference(y_true, pred_a, pred_b, *, metric: str = "accuracy", n_classes: int = 2,
                                n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> dict:
    """``metric`` of A minus that of B on the same test items, with a percentile bootstrap
    interval (the same resampled items for both, so the pairing is kept). ``metric``:
    ``accuracy``, ``f1_macro`` or ``qwk`` (ordered classes)."""
    y_true, pred_a, pred_b = map(np.asarray, (y_true, pred_a, pred_b))
    tail = (1 - confidence) / 2 * 100
    if metric == "accuracy":
        diff = (pred_a == y_true).astype(float) - (pred_b == y_true).astype(float)
        value = diff.mean()
        draws = np.concatenate([diff[idx].mean(axis=1) for idx in resample_indices(len(diff), n_resamples, seed)])
    else:
        value = score_by(metric, y_true, pred_a, n_classes) - score_by(metric, y_true, pred_b, n_classes)
        draws = np.concatenate([
            score_by(metric, y_true[idx], pred_a[idx], n_classes) - score_by(metric, y_true[idx], pred_b[idx], n_classes)
            for idx in resample_indices(len(y_true), n_resamples, seed)
        ])
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return {"value": float(value), "low": float(low), "high": float(high), "confidence": confidence}


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
