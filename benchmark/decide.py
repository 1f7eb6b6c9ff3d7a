"""From measurements to an answer: the Pareto frontier, what a million reviews cost, and
which classifier to use within the user's budgets.

Everything here is a pure function of the records (and the test predictions for the
significance of a lead): the runner stores the answer in ``results.json`` after each
classifier, and the same records always give the same answer.
"""

from __future__ import annotations

import numpy as np

from .schema import accuracy, latency_p50_ms, model_size_mb, train_time_s
from .stats import SIGNIFICANCE, mcnemar_exact, paired_bootstrap_difference
from .timing import format_ms

#: Budget name -> (what it limits, getter of a record, unit).
BUDGETS = {
    "max_latency_ms": ("single-review latency", latency_p50_ms, "ms"),
    "max_train_s": ("training time", train_time_s, "s"),
    "max_model_mb": ("model size", model_size_mb, "MB"),
}


def pareto_front(records: dict, cost) -> list[str]:
    """Classifiers that no other classifier beats: none is at least as accurate and at
    least as cheap (``cost(record)``) and strictly better in one of the two."""
    names = list(records)
    front = []
    for a in names:
        acc_a, cost_a = accuracy(records[a]), cost(records[a])
        dominated = any(
            accuracy(records[b]) >= acc_a and cost(records[b]) <= cost_a
            and (accuracy(records[b]) > acc_a or cost(records[b]) < cost_a)
            for b in names if b != a
        )
        if not dominated:
            front.append(a)
    return front


def frontiers(records: dict) -> dict:
    """``latency``: accuracy against single-review p50; ``train_time``: against training time."""
    return {"latency": pareto_front(records, latency_p50_ms), "train_time": pareto_front(records, train_time_s)}


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
              *, seed: int = 0) -> dict:
    """The classifier to use, and why, in plain words.

    The most accurate classifier within every budget given (all of them when none is).
    When its lead over the runner-up is not significant (McNemar's exact test, p >=
    0.05), the cheaper of the two is recommended instead. When nothing fits a budget,
    nothing is recommended and the closest classifier is named.

    Parameters
    ----------
    records : dict
        Classifier name -> record (``results.json["classifiers"]``).
    y_true : ndarray
        Test labels.
    predictions : dict
        Classifier name -> test predictions (same order as ``y_true``).
    budgets : dict, optional
        ``max_latency_ms``, ``max_train_s``, ``max_model_mb`` (``None`` = no limit).

    Returns
    -------
    dict
        ``classifier`` (or ``None``), ``reason`` (two or three sentences), ``budgets``,
        ``within_budget``, and when there is a runner-up, ``runner_up``,
        ``accuracy_difference`` (with a paired bootstrap 95% CI) and ``mcnemar_p``. A
        classifier whose budgeted cost is unknown (``budget_unknown``) is never counted
        within that budget, and the reason says so.
    """
    choice = choose(records, y_true, predictions, budgets, seed=seed)
    case = choice.pop("case")
    return {**choice, "reason": _reason(case, choice, records)}


def choose(records: dict, y_true, predictions: dict[str, np.ndarray], budgets: dict | None = None, *, seed: int = 0) -> dict:
    """The decision of :func:`recommend` without its words: the fields it returns but
    ``reason``, and ``case``, which of its sentences applies."""
    budgets = {k: v for k, v in (budgets or {}).items() if v is not None}
    names = [n for n in records if n in predictions]
    fits = [n for n in names if not _over_budget(records[n], budgets) and not _unknown(records[n], budgets)]
    unknown = {n: _unknown(records[n], budgets) for n in names if _unknown(records[n], budgets)}
    out = {"budgets": budgets, "within_budget": fits, **({"budget_unknown": unknown} if unknown else {})}
    if not fits:
        measurable = [n for n in names if _over_budget(records[n], budgets)]
        if not measurable:
            return {**out, "classifier": None, "case": "nothing known to fit"}
        closest = min(measurable, key=lambda n: max(_over_budget(records[n], budgets).values()))
        return {**out, "classifier": None, "closest": closest, "case": "nothing fits"}
    ranked = sorted(fits, key=lambda n: (-accuracy(records[n]), latency_p50_ms(records[n])))
    best = ranked[0]
    if len(ranked) == 1:
        return {**out, "classifier": best, "case": "only one"}
    runner = ranked[1]
    diff = paired_bootstrap_difference(y_true, predictions[best], predictions[runner], seed=seed)
    p = mcnemar_exact(y_true, predictions[best], predictions[runner])["p_value"]
    out = {**out, "most_accurate": best, "runner_up": runner, "accuracy_difference": diff, "mcnemar_p": p}
    if p < SIGNIFICANCE:
        return {**out, "classifier": best, "case": "significant lead"}
    pick = _cheaper(records, best, runner)
    return {**out, "classifier": pick, "case": "no significant lead"}


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
    pick = choice["classifier"]
    if case == "only one":
        only = "the only classifier that fits the budget" if choice["budgets"] else "the only classifier measured"
        return f"{scope}use {pick}: it is {only} (test accuracy {accuracy(records[pick]):.1%})."
    best, runner = choice["most_accurate"], choice["runner_up"]
    diff, p = choice["accuracy_difference"], choice["mcnemar_p"]
    lead = (f"{diff['value'] * 100:+.1f} points, 95% CI [{diff['low'] * 100:+.1f}, {diff['high'] * 100:+.1f}], "
            f"McNemar p = {p:.2g}")
    acc = accuracy(records[best])
    if case == "significant lead":
        return (f"{scope}use {pick}: the most accurate (test accuracy {acc:.1%}), significantly ahead of {runner} "
                f"({lead}). It costs {_cost(records[pick])}.")
    if pick == best:
        return (f"{scope}use {pick}: the most accurate (test accuracy {acc:.1%}) and also cheaper than {runner}, "
                f"whose accuracy is not significantly different ({lead}). It costs {_cost(records[pick])}.")
    pick_cost = (f"{format_ms(latency_p50_ms(records[pick]))} ms per review against "
                 f"{format_ms(latency_p50_ms(records[best]))} ms, {train_time_s(records[pick]):,.1f} s to "
                 f"train against {train_time_s(records[best]):,.1f} s")
    return (f"{scope}use {pick}: {best} is more accurate on this test split ({acc:.1%} against "
            f"{accuracy(records[pick]):.1%}), but the lead is not significant ({lead}), and {pick} is cheaper ({pick_cost}).")


def _cost(record: dict) -> str:
    return f"{format_ms(latency_p50_ms(record))} ms per review and {train_time_s(record):,.1f} s to train"


def decide_run(records: dict, y_true, predictions: dict, budgets: dict | None = None) -> dict:
    """The run's answer from the records so far: ``pareto`` (:func:`frontiers`) and
    ``recommendation`` (:func:`recommend`); ``predictions`` maps a name to its ``pred`` array."""
    preds = {name: np.asarray(p["pred"]) for name, p in predictions.items()}
    return {"pareto": frontiers(records), "recommendation": recommend(records, y_true, preds, budgets)}
