"""Where each classifier fails in the user's own data: accuracy per slice of the test split.

Two kinds of slice: review length (short, medium and long, in tokens of sentibench's
tokenizer, cut at the test split's tertiles) always, and the user's groups (``--group-column``:
product, source, city) when given, with groups of fewer than :data:`MIN_GROUP` test reviews
pooled as "other". Each slice's accuracy has a percentile bootstrap interval (resampling
within the slice, seeded).

A slice is named the worst of its kind for a classifier only when it is significantly
below the classifier's accuracy on the rest of the test split: Fisher's exact test, one-sided,
of the slice against the other test reviews (two disjoint samples, so a two-sample test
applies, where comparing with the overall accuracy would count the slice twice; exact, so
it holds for small slices), with Holm's correction over the slices of that kind (the worst
of several slices is a choice among several tests).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import fisher_exact

from classifiers import tokenize

from ..stats import BOOTSTRAP_SEED, N_RESAMPLES, SIGNIFICANCE, resample_indices

__all__ = ["MIN_GROUP", "holm", "length_bins", "pooled_groups", "slice_accuracy", "slices_of"]

#: Groups with fewer test reviews than this are pooled as "other".
MIN_GROUP = 30
_LENGTH_NAMES = ("short", "medium", "long")


def length_bins(texts: list[str]) -> tuple[list[str], dict[str, str]]:
    """Each review's length bin and each bin's range in tokens (``classifiers.tokenize``).

    The cuts are the tertiles of the reviews' lengths: short up to the first, long above the
    second, medium between (ties make the bins uneven; a bin no review falls in is left out).
    """
    lengths = np.array([len(tokenize(t)) for t in texts])
    if not len(lengths):
        return [], {}
    low, high = (int(v) for v in np.quantile(lengths, [1 / 3, 2 / 3], method="lower"))
    bins = np.where(lengths <= low, 0, np.where(lengths <= high, 1, 2))
    ranges = {0: f"up to {low} tokens", 1: f"{low + 1} to {high} tokens", 2: f"{high + 1} tokens or more"}
    if low + 1 == high:
        ranges[1] = f"{high} tokens"
    present = sorted(set(bins.tolist()))
    return [_LENGTH_NAMES[b] for b in bins], {_LENGTH_NAMES[b]: ranges[b] for b in present}


def pooled_groups(groups: list[str], min_size: int = MIN_GROUP) -> tuple[list[str], str | None, list[str]]:
    """Groups with fewer than ``min_size`` reviews pooled into one: each review's slice, the
    pool's name (``None`` when nothing was pooled) and the groups it holds."""
    names, counts = np.unique(np.asarray(groups, dtype=object), return_counts=True)
    small = sorted(str(n) for n, c in zip(names, counts, strict=True) if c < min_size)
    if not small:
        return list(groups), None, []
    pool = "other"
    while pool in set(groups) - set(small):  # a real group of that name
        pool = f"{pool} (pooled)"
    small_set = set(small)
    return [pool if g in small_set else g for g in groups], pool, small


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (in the order given)."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def slice_accuracy(right: np.ndarray, members: np.ndarray, seed: int = BOOTSTRAP_SEED) -> dict:
    """Accuracy of one slice (``members``: a boolean mask of the test reviews), with a percentile
    bootstrap 95% CI over its reviews, and the one-sided Fisher test against the other reviews."""
    inside, outside = right[members], right[~members]
    draws = np.concatenate([inside[idx].mean(axis=1) for idx in resample_indices(len(inside), N_RESAMPLES, seed)])
    low, high = np.percentile(draws, [2.5, 97.5])
    if len(outside):
        table = [[int((~inside).sum()), int(inside.sum())], [int((~outside).sum()), int(outside.sum())]]
        p = float(fisher_exact(table, alternative="greater")[1])  # more errors inside than outside
    else:
        p = 1.0
    return {"n": int(members.sum()), "accuracy": float(inside.mean()), "low": float(low), "high": float(high),
            "rest_accuracy": float(outside.mean()) if len(outside) else None, "p_value": p}


def _kind(slice_of: list[str], order: list[str], labels, predictions: dict) -> dict:
    """Every classifier's accuracy per slice of one kind, with Holm-adjusted p-values and the worst slice."""
    slice_of = np.asarray(slice_of, dtype=object)
    out = {}
    for name, pred in predictions.items():
        right = np.asarray(pred) == np.asarray(labels)
        rows = {s: slice_accuracy(right, slice_of == s) for s in order}
        for s, adjusted in zip(order, holm([rows[s]["p_value"] for s in order]), strict=True):
            rows[s]["p_holm"] = adjusted
        below = [s for s in order if rows[s]["p_holm"] < SIGNIFICANCE]
        worst = min(below, key=lambda s: (rows[s]["accuracy"], order.index(s))) if below else None
        out[name] = {"slices": rows, "worst": worst, "accuracy": float(right.mean())}
    return out


def slices_of(texts: list[str], labels, predictions: dict, groups: list[str] | None = None, group_column: str | None = None) -> dict:
    """Accuracy per length bin and (with ``groups``) per group, for every classifier.

    Parameters
    ----------
    texts, labels : the test split's reviews and their classes
    predictions : dict
        Classifier name -> predicted classes of the test reviews.
    groups : list of str, optional
        Each test review's group (``--group-column``).

    Returns
    -------
    dict
        ``length``: ``bins`` (name -> token range), ``by`` (classifier -> ``accuracy``,
        ``worst`` and ``slices``: per slice ``n``, ``accuracy``, ``low``, ``high``,
        ``rest_accuracy``, ``p_value``, ``p_holm``); with groups, ``group`` likewise with
        ``column``, ``order`` (largest group first, the pool last), ``pooled`` (the pool's
        name or None) and ``pooled_groups``.
    """
    bins, ranges = length_bins(texts)
    out = {"min_group": MIN_GROUP, "length": {"bins": ranges, "by": _kind(bins, list(ranges), labels, predictions)}}
    if groups is not None:
        sliced, pool, small = pooled_groups(groups)
        names, counts = np.unique(np.asarray([s for s in sliced if s != pool], dtype=object), return_counts=True)
        order = [str(n) for _, n in sorted(zip(-counts, names, strict=True))] + ([pool] if pool else [])
        out["group"] = {"column": group_column, "order": order, "pooled": pool, "pooled_groups": small,
                        "by": _kind(sliced, order, labels, predictions)}
    return out
