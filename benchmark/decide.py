"""From measurements to an answer: the Pareto frontier, what a million reviews cost, and
which classifier to use within the user's budgets.

Everything here is a pure function of the records (and the test predictions for the
significance of a lead): the runner stores the answer in ``results.json`` after each
classifier, and the same records always give the same answer.
"""

from __future__ import annotations

import numpy as np

from .stats import mcnemar_exact, paired_bootstrap_difference
from .timing import format_ms

#: Budget name -> (what it limits, getter of a record, unit).
BUDGETS = {
    "max_latency_ms": ("single-review latency", lambda r: r["inference"]["latency_p50_ms"], "ms"),
    "max_train_s": ("training time", lambda r: r["train_time_s"], "s"),
    "max_model_mb": ("model size", lambda r: r.get("model_size_mb"), "MB"),
}
SIGNIFICANCE = 0.05


def pareto_front(records: dict, cost) -> list[str]:
    """Classifiers that no other classifier beats: none is at least as accurate and at
    least as cheap (``cost(record)``) and strictly better in one of the two."""
    names = list(records)
    front = []
    for a in names:
        acc_a, cost_a = records[a]["metrics"]["accuracy"], cost(records[a])
        dominated = any(
            records[b]["metrics"]["accuracy"] >= acc_a and cost(records[b]) <= cost_a
            and (records[b]["metrics"]["accuracy"] > acc_a or cost(records[b]) < cost_a)
            for b in names if b != a
        )
        if not dominated:
            front.append(a)
    return front


def frontiers(records: dict) -> dict:
    """``latency``: accuracy against single-review p50; ``train_time``: against training time."""
    return {
        "latency": pareto_front(records, lambda r: r["inference"]["latency_p50_ms"]),
        "train_time": pareto_front(records, lambda r: r["train_time_s"]),
    }


def cost_per_million(inference: dict, n_test: int, cpu_hour_price: float | None = None) -> dict:
    """Core-seconds (CPU time of every thread) to classify a million reviews, from the
    whole-test-set prediction, and the price at ``cpu_hour_price`` per core-hour."""
    cpu_s = inference.get("test_cpu_s")
    if cpu_s is None or not n_test:
        return {"core_s_per_million": None, "price_per_million": None}
    core_s = cpu_s / n_test * 1e6
    price = None if cpu_hour_price is None else core_s / 3600 * cpu_hour_price
    return {"core_s_per_million": core_s, "price_per_million": price}


def _cheaper(records: dict, a: str, b: str) -> str:
    """The one that costs less to serve (single-review latency), then to train."""
    key = lambda n: (records[n]["inference"]["latency_p50_ms"], records[n]["train_time_s"])  # noqa: E731
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
    answer = _recommend(records, y_true, predictions, budgets, seed=seed)
    unknown = answer.get("budget_unknown", {})
    if unknown and not answer["reason"].startswith("No classifier is known"):
        answer["reason"] += " Not counted, as unknown: " + "; ".join(
            f"the {', '.join(BUDGETS[k][0] for k in ks)} of {n}" for n, ks in unknown.items()) + "."
    return answer


def _recommend(records: dict, y_true, predictions: dict[str, np.ndarray], budgets: dict | None, *, seed: int) -> dict:
    """:func:`recommend` without the note on unknown costs."""
    budgets = {k: v for k, v in (budgets or {}).items() if v is not None}
    names = [n for n in records if n in predictions]
    fits = [n for n in names if not _over_budget(records[n], budgets) and not _unknown(records[n], budgets)]
    limits = ", ".join(f"{BUDGETS[k][0]} at most {_fmt(k, v)}" for k, v in budgets.items())
    unknown = {n: _unknown(records[n], budgets) for n in names if _unknown(records[n], budgets)}
    out = {"budgets": budgets, "within_budget": fits}
    if unknown:
        out["budget_unknown"] = unknown
    if not fits:
        measurable = [n for n in names if _over_budget(records[n], budgets)]
        if not measurable:
            return {**out, "classifier": None, "reason": (
                f"No classifier is known to fit the budget ({limits}): "
                + "; ".join(f"the {', '.join(BUDGETS[k][0] for k in ks)} of {n} is unknown" for n, ks in unknown.items())
                + "."
            )}
        closest = min(measurable, key=lambda n: max(_over_budget(records[n], budgets).values()))
        over = _over_budget(records[closest], budgets)
        worst = max(over, key=over.get)
        value = BUDGETS[worst][1](records[closest])
        return {**out, "classifier": None, "closest": closest, "reason": (
            f"No classifier fits the budget ({limits}). The closest is {closest}: its {BUDGETS[worst][0]} is "
            f"{_fmt(worst, value)}, {over[worst]:.1f} times the limit."
        )}
    ranked = sorted(fits, key=lambda n: (-records[n]["metrics"]["accuracy"], records[n]["inference"]["latency_p50_ms"]))
    best = ranked[0]
    acc = records[best]["metrics"]["accuracy"]
    scope = f"Within the budget ({limits}), " if budgets else ""
    if len(ranked) == 1:
        only = "the only classifier that fits the budget" if budgets else "the only classifier measured"
        return {**out, "classifier": best, "reason": f"{scope}use {best}: it is {only} (test accuracy {acc:.1%})."}
    runner = ranked[1]
    diff = paired_bootstrap_difference(y_true, predictions[best], predictions[runner], seed=seed)
    p = mcnemar_exact(y_true, predictions[best], predictions[runner])["p_value"]
    details = {**out, "runner_up": runner, "accuracy_difference": diff, "mcnemar_p": p}
    lead = (f"{diff['value'] * 100:+.1f} points, 95% CI [{diff['low'] * 100:+.1f}, {diff['high'] * 100:+.1f}], "
            f"McNemar p = {p:.2g}")
    cost = (f"{format_ms(records[best]['inference']['latency_p50_ms'])} ms per review and "
            f"{records[best]['train_time_s']:,.1f} s to train")
    if p < SIGNIFICANCE:
        reason = (f"{scope}use {best}: the most accurate (test accuracy {acc:.1%}), significantly ahead of {runner} "
                  f"({lead}). It costs {cost}.")
        return {**details, "classifier": best, "reason": reason}
    pick = _cheaper(records, best, runner)
    other = runner if pick == best else best
    if pick == best:
        reason = (f"{scope}use {best}: the most accurate (test accuracy {acc:.1%}) and also cheaper than {runner}, "
                  f"whose accuracy is not significantly different ({lead}). It costs {cost}.")
    else:
        pick_cost = (f"{format_ms(records[pick]['inference']['latency_p50_ms'])} ms per review against "
                     f"{format_ms(records[other]['inference']['latency_p50_ms'])} ms, {records[pick]['train_time_s']:,.1f} s to "
                     f"train against {records[other]['train_time_s']:,.1f} s")
        reason = (f"{scope}use {pick}: {other} is more accurate on this test split ({acc:.1%} against "
                  f"{records[pick]['metrics']['accuracy']:.1%}), but the lead is not significant ({lead}), and {pick} "
                  f"is cheaper ({pick_cost}).")
    return {**details, "classifier": pick, "reason": reason}
