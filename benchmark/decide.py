"""From measurements to an answer: the Pareto frontier, what a million reviews cost, and
which classifier to use within the user's budgets.

Everything here is a pure function of the records (and the test predictions for the
significance of a lead): the runner stores the answer in ``results.json`` after each
classifier, and the same records always give the same answer.
"""

from __future__ import annotations

import numpy as np

from .schema import latency_p50_ms, metric_value, model_size_mb, train_time_s
from .stats import SIGNIFICANCE, mcnemar_exact, paired_bootstrap_difference
from .timing import format_ms

#: Budget name -> (what it limits, getter of a record, unit).
BUDGETS = {
    "max_latency_ms": ("single-review latency", latency_p50_ms, "ms"),
    "max_train_s": ("training time", train_time_s, "s"),
    "max_model_mb": ("model size", model_size_mb, "MB"),
}


#: How the sentences name each metric: (the best, the value's name, a difference's unit, the value's format).
METRIC_WORDS = {
    "accuracy": ("the most accurate", "test accuracy", "points", "{:.1%}"),
    "f1_macro": ("the best by macro F1", "test macro F1", "macro F1", "{:.3f}"),
    "qwk": ("the best by quadratic weighted kappa", "test QWK", "QWK", "{:.3f}"),
}


def _score(record: dict, metric: str) -> float:
    value = metric_value(record, metric)
    return -np.inf if value is None else value


def pareto_front(records: dict, cost, metric: str = "accuracy") -> list[str]:
    """Classifiers that no other classifier beats: none scores at least as well on
    ``metric`` and costs at most as much (``cost(record)``) and is strictly better in one."""
    names = list(records)
    front = []
    for a in names:
        score_a, cost_a = _score(records[a], metric), cost(records[a])
        dominated = any(
            _score(records[b], metric) >= score_a and cost(records[b]) <= cost_a
            and (_score(records[b], metric) > score_a or cost(records[b]) < cost_a)
            for b in names if b != a
        )
        if not dominated:
            front.append(a)
    return front


def frontiers(records: dict, metric: str = "accuracy") -> dict:
    """``latency``: ``metric`` against single-review p50; ``train_time``: against training time."""
    return {"latency": pareto_front(records, latency_p50_ms, metric), "train_time": pareto_front(records, train_time_s, metric),
            "metric": metric}


def _cheaper(records: dict, a: str, b: str) -> str:
    """The one that costs less to serve (single-review latency), then to train."""
    key = lambda n: (latency_p50_ms(records[n]), train_time_s(records[n]))  # noqa: E731
    return a if key(a) <= key(b) else b


def _over_budget(record: dict, budgets: dict) -> dict[str, float]:
    """Budget name -> how many times over it the record is (only budgets it exceeds)."""
    over = {}
    for name, limit in budgets.items():
        value = BUDGETS[name][1](record)
        if limit is not None and value is not None and value > limit:
            over[name] = value / limit
    return over


def _unknown(record: dict, budgets: dict) -> list[str]:
    """Budgets the record cannot be checked against (e.g. the size of a model that could
    not be saved): such a classifier is not counted as within the budget."""
    return [name for name in budgets if BUDGETS[name][1](record) is None]


def _fmt(name: str, value: float) -> str:
    if BUDGETS[name][2] == "ms":
        return f"{format_ms(value)} ms"
    return f"{value:,.2f} {BUDGETS[name][2]}" if value < 10 else f"{value:,.0f} {BUDGETS[name][2]}"


def recommend(records: dict, y_true, predictions: dict[str, np.ndarray], budgets: dict | None = None,
              *, metric: str = "accuracy", n_classes: int = 2, seed: int = 0) -> dict:
    """The classifier to use, and why, in plain words.

    The classifier with the best test ``metric`` within every budget given (all of them
    when none is). When its lead over the runner-up is not significant (accuracy:
    McNemar's exact test, p >= 0.05; macro F1 and QWK: the paired bootstrap 95% CI of the
    difference holds 0), the cheaper of the two is recommended instead. When nothing fits
    a budget, nothing is recommended and the closest classifier is named.

    Parameters
    ----------
    records : dict
        Classifier name -> record (``results.json["classifiers"]``).
    y_true : ndarray
        Test labels (class positions).
    predictions : dict
        Classifier name -> test predictions (same order as ``y_true``).
    budgets : dict, optional
        ``max_latency_ms``, ``max_train_s``, ``max_model_mb`` (``None`` = no limit).
    metric : {"accuracy", "f1_macro", "qwk"}
        What "most accurate" means; the reason names it.
    n_classes : int
        Number of classes (for macro F1 and QWK).

    Returns
    -------
    dict
        ``classifier`` (or ``None``), ``reason`` (two or three sentences), ``metric``,
        ``budgets``, ``within_budget``, and when there is a runner-up, ``runner_up``,
        ``difference`` (of ``metric``, with a paired bootstrap 95% CI) and, for accuracy,
        ``mcnemar_p``. A classifier whose budgeted cost is unknown (``budget_unknown``) is
        never counted within that budget, and the reason says so.
    """
    choice = choose(records, y_true, predictions, budgets, metric=metric, n_classes=n_classes, seed=seed)
    case = choice.pop("case")
    reason = _reason(case, choice, records)
    labels = labels_needed(records, y_true, predictions, choice["within_budget"], metric=metric, n_classes=n_classes, seed=seed)
    if labels:
        choice["labels"] = labels
        reason += " " + _labels_sentence(labels, metric)
    return {**choice, "reason": reason}


def _lead(y_true, a, b, metric: str, n_classes: int, seed: int) -> tuple[dict, float | None, bool]:
    """``a``'s lead over ``b`` on the same test reviews: the paired bootstrap difference, McNemar's
    p (accuracy only) and whether the lead is significant."""
    diff = paired_bootstrap_difference(y_true, a, b, metric=metric, n_classes=n_classes, seed=seed)
    if metric != "accuracy":
        return diff, None, diff["low"] > 0
    p = mcnemar_exact(y_true, a, b)["p_value"]
    return diff, p, p < SIGNIFICANCE and diff["value"] > 0


def labels_needed(records: dict, y_true, predictions: dict, names: list[str], *, metric: str = "accuracy",
                  n_classes: int = 2, seed: int = 0) -> dict | None:
    """Do the training labels pay? The best classifier among ``names`` whose predictions use no
    training labels (its record says ``label_free``, e.g. zeroshot) against the best trained one:
    ``needed`` is whether the trained one is significantly ahead on the same test reviews (as in
    :func:`recommend`). ``None`` when ``names`` lacks one of the two kinds."""
    free = [n for n in names if records[n].get("label_free")]
    trained = [n for n in names if not records[n].get("label_free")]
    if not free or not trained:
        return None
    best_free, best_trained = (max(group, key=lambda n: _score(records[n], metric)) for group in (free, trained))
    diff, p, needed = _lead(y_true, predictions[best_trained], predictions[best_free], metric, n_classes, seed)
    return {"label_free": best_free, "trained": best_trained, "difference": diff, "needed": bool(needed),
            **({"mcnemar_p": p} if p is not None else {})}


def _labels_sentence(labels: dict, metric: str) -> str:
    free, trained, diff = labels["label_free"], labels["trained"], labels["difference"]
    lead = _lead_words(diff, labels.get("mcnemar_p"), metric)
    if labels["needed"]:
        return (f"The labels pay: {trained}, trained on them, is significantly ahead of {free}, the best classifier "
                f"that needs none ({lead}).")
    return (f"No labels needed: {free}, which uses no training labels, is not significantly behind {trained}, "
            f"the best trained classifier ({lead}).")


def choose(records: dict, y_true, predictions: dict[str, np.ndarray], budgets: dict | None = None, *,
           metric: str = "accuracy", n_classes: int = 2, seed: int = 0) -> dict:
    """The decision of :func:`recommend` without its words: the fields it returns but
    ``reason``, and ``case``, which of its sentences applies."""
    budgets = {k: v for k, v in (budgets or {}).items() if v is not None}
    names = [n for n in records if n in predictions]
    fits, unknown = _within(records, names, budgets)
    out = {"metric": metric, "budgets": budgets, "within_budget": fits, **({"budget_unknown": unknown} if unknown else {})}
    if not fits:
        return {**out, **_nothing_fits(records, names, budgets)}
    ranked = sorted(fits, key=lambda n: (-_score(records[n], metric), latency_p50_ms(records[n])))
    best = ranked[0]
    if len(ranked) == 1:
        return {**out, "classifier": best, "case": "only one"}
    runner = ranked[1]
    diff, p, significant = _lead(y_true, predictions[best], predictions[runner], metric, n_classes, seed)
    out = {**out, "most_accurate": best, "runner_up": runner, "difference": diff, **({"mcnemar_p": p} if p is not None else {})}
    if significant:
        return {**out, "classifier": best, "case": "significant lead"}
    return {**out, "classifier": _cheaper(records, best, runner), "case": "no significant lead"}


def _within(records: dict, names: list[str], budgets: dict) -> tuple[list[str], dict]:
    """The classifiers known to fit the budgets, and those with a budgeted figure unknown (and which)."""
    fits = [n for n in names if not _over_budget(records[n], budgets) and not _unknown(records[n], budgets)]
    unknown = {n: _unknown(records[n], budgets) for n in names if _unknown(records[n], budgets)}
    return fits, unknown


def _nothing_fits(records: dict, names: list[str], budgets: dict) -> dict:
    measurable = [n for n in names if _over_budget(records[n], budgets)]
    if not measurable:
        return {"classifier": None, "case": "nothing known to fit"}
    closest = min(measurable, key=lambda n: max(_over_budget(records[n], budgets).values()))
    return {"classifier": None, "closest": closest, "case": "nothing fits"}


def _reason(case: str, choice: dict, records: dict) -> str:
    """The sentences of a :func:`choose` decision."""
    budgets = choice["budgets"]
    limits = ", ".join(f"{BUDGETS[k][0]} at most {_fmt(k, v)}" for k, v in budgets.items())
    unknown = choice.get("budget_unknown", {})
    if case == "nothing known to fit":
        return (f"No classifier is known to fit the budget ({limits}): "
                + "; ".join(f"the {', '.join(BUDGETS[k][0] for k in ks)} of {n} is unknown" for n, ks in unknown.items()) + ".")
    if case == "nothing fits":
        closest = choice["closest"]
        over = _over_budget(records[closest], budgets)
        worst = max(over, key=over.get)
        reason = (f"No classifier fits the budget ({limits}). The closest is {closest}: its {BUDGETS[worst][0]} is "
                  f"{_fmt(worst, BUDGETS[worst][1](records[closest]))}, {over[worst]:.1f} times the limit.")
    else:
        reason = _use_sentence(case, choice, records, f"Within the budget ({limits}), " if budgets else "")
    if unknown:
        reason += " Not counted, as unknown: " + "; ".join(
            f"the {', '.join(BUDGETS[k][0] for k in ks)} of {n}" for n, ks in unknown.items()) + "."
    return reason


def _use_sentence(case: str, choice: dict, records: dict, scope: str) -> str:
    metric = choice["metric"]
    the_best, value_name, unit, fmt = METRIC_WORDS[metric]
    pick = choice["classifier"]
    if case == "only one":
        only = "the only classifier that fits the budget" if choice["budgets"] else "the only classifier measured"
        return f"{scope}use {pick}: it is {only} ({value_name} {fmt.format(_score(records[pick], metric))})."
    best, runner = choice["most_accurate"], choice["runner_up"]
    lead = _lead_words(choice["difference"], choice.get("mcnemar_p"), metric)
    shown = fmt.format(_score(records[best], metric))
    if case == "significant lead":
        return (f"{scope}use {pick}: {the_best} ({value_name} {shown}), significantly ahead of {runner} "
                f"({lead}). It costs {_cost(records[pick])}.")
    if pick == best:
        return (f"{scope}use {pick}: {the_best} ({value_name} {shown}) and {_cheaper_words(records, pick, runner)}, "
                f"whose {'accuracy' if metric == 'accuracy' else unit} is not significantly different ({lead}). "
                f"It costs {_cost(records[pick])}.")
    better = "is more accurate" if metric == "accuracy" else f"scores higher by {unit}"
    return (f"{scope}use {pick}: {best} {better} on this test split ({shown} against "
            f"{fmt.format(_score(records[pick], metric))}), but the lead is not significant ({lead}), "
            f"and {pick} is {_cheaper_words(records, pick, best)}.")


def _lead_words(diff: dict, p: float | None, metric: str) -> str:
    """A lead in words: "+2.1 points, 95% CI [+0.4, +3.8], McNemar p = 0.012"."""
    if metric == "accuracy":
        return (f"{diff['value'] * 100:+.1f} points, 95% CI [{diff['low'] * 100:+.1f}, {diff['high'] * 100:+.1f}], "
                f"McNemar p = {p:.2g}")
    return f"{diff['value']:+.3f} {METRIC_WORDS[metric][2]}, 95% CI [{diff['low']:+.3f}, {diff['high']:+.3f}]"


def _cheaper_words(records: dict, pick: str, other: str) -> str:
    """How ``pick`` is cheaper than ``other``, in what and by how much: "faster per review
    than w2v (0.13 ms against 0.25 ms) but 15x slower to train (3.0 s against 0.2 s)"
    (:func:`_cheaper` ranks by latency, then training time)."""
    lat, lat_other = latency_p50_ms(records[pick]), latency_p50_ms(records[other])
    fit, fit_other = train_time_s(records[pick]), train_time_s(records[other])
    per_review = f"{format_ms(lat)} ms against {format_ms(lat_other)} ms"
    to_train = f"{fit:,.1f} s against {fit_other:,.1f} s"
    if lat == lat_other:
        return f"as fast per review as {other} ({per_review}) and faster to train ({to_train})"
    if fit <= fit_other:
        return f"faster per review than {other} ({per_review}) and to train ({to_train})"
    ratio = fit / fit_other if fit_other > 0 else float("inf")
    slower = f"{ratio:,.0f}x slower" if 2 <= ratio < float("inf") else "slower"
    return f"faster per review than {other} ({per_review}) but {slower} to train ({to_train})"


def _cost(record: dict) -> str:
    text = f"{format_ms(latency_p50_ms(record))} ms per review and {train_time_s(record):,.1f} s to train"
    inference = record.get("inference", {})
    if inference.get("device", "cpu") == "cpu" or inference.get("gpu_s_per_million") is None:
        return text
    # On a GPU the GPU is what a million reviews cost, and its memory what it needs.
    parts = [f"{inference['gpu_s_per_million']:,.1f} GPU-seconds per million reviews"]
    if inference.get("price_per_million") is not None:
        parts[0] += f" (price {inference['price_per_million']:,.2f})"
    peak = record.get("memory", {}).get("fit_peak_gpu_mb")
    if peak is not None:
        parts.append(f"{peak / 1024:,.1f} GiB of GPU memory at its peak in training")
    return f"{text} on a GPU: {', '.join(parts)}"


def decide_run(records: dict, y_true, predictions: dict, budgets: dict | None = None, metric: str = "accuracy") -> dict:
    """The run's answer from the records so far: ``pareto`` (:func:`frontiers`) and
    ``recommendation`` (:func:`recommend`); ``predictions`` maps a name to its ``pred`` array."""
    preds = {name: np.asarray(p["pred"]) for name, p in predictions.items()}
    n_classes = next(iter(predictions.values()))["proba"].shape[1] if predictions else 2
    return {"pareto": frontiers(records, metric),
            "recommendation": recommend(records, y_true, preds, budgets, metric=metric, n_classes=n_classes)}
