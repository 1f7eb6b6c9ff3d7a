"""Where the recommended classifier fails behavioural tests clearly more often than the one it
was weighed against: the choice (:func:`robustness_gaps`) and its words (:func:`robustness_sentences`)."""

from __future__ import annotations

from ..stats import SIGNIFICANCE

__all__ = ["CLEAR_GAP", "robustness_gaps", "robustness_sentences"]

#: A failure rate counts as clearly higher from this many points up, with McNemar's test on
#: the same cases significant too (a difference of a few points on 500 cases can be chance).
CLEAR_GAP = 0.10


def robustness_gaps(recommendation: dict, tests: list[dict], scored: dict, pairs: dict) -> dict | None:
    """Where the recommended classifier fails behavioural tests clearly more often than the
    classifier it was weighed against (the runner-up, or the more accurate one it was
    preferred to): per family, the test with the largest such gap. The choice; the words are
    :func:`robustness_sentences`.

    Parameters
    ----------
    recommendation : dict
        ``results.json["recommendation"]``.
    tests, scored, pairs : the ``tests``, ``classifiers`` and ``pairs`` of ``robustness.json``.

    Returns
    -------
    dict or None
        ``classifier``, ``other`` and ``gaps`` (per family: ``family``, ``test``, ``rates`` of the
        two classifiers with their Wilson intervals, McNemar's ``p_value``); ``None`` when there is no pair to weigh.
    """
    pick = recommendation.get("classifier")
    other = recommendation.get("runner_up") if pick == recommendation.get("most_accurate") else recommendation.get("most_accurate")
    if not pick or not other or pick not in scored or other not in scored:
        return None
    worst: dict[str, dict] = {}
    for test in tests:
        gap = _clear_gap(test, scored[pick]["tests"].get(test["name"]), scored[other]["tests"].get(test["name"]),
                         pick, other, pairs)
        best = worst.get(test["family"])
        if gap is not None and (best is None or gap["size"] > best["size"]):
            worst[test["family"]] = gap
    return {"classifier": pick, "other": other, "gaps": [{k: v for k, v in g.items() if k != "size"} for g in worst.values()]}


def _clear_gap(test: dict, a: dict | None, b: dict | None, pick: str, other: str, pairs: dict) -> dict | None:
    """The gap between ``pick``'s failure rate ``a`` and ``other``'s ``b`` on one test, when it is
    clear (at least CLEAR_GAP, McNemar's test significant); else ``None``."""
    pair = next((p for p in pairs.get(test["name"], []) if {p["a"], p["b"]} == {pick, other}), None)
    if not a or not b or pair is None:
        return None
    if a["rate"] - b["rate"] < CLEAR_GAP or pair["p_value"] >= SIGNIFICANCE:
        return None
    return {"family": test["family"], "test": test["name"], "p_value": pair["p_value"], "size": a["rate"] - b["rate"],
            "rates": {pick: {k: a[k] for k in ("rate", "low", "high")}, other: {k: b[k] for k in ("rate", "low", "high")}}}


def robustness_sentences(gaps: dict | None, quote=lambda name: f'"{name}"', show=str) -> list[str]:
    """One sentence per family where :func:`robustness_gaps` found the recommended classifier
    clearly worse, e.g. 'bow fails "negated positive" 71% [66, 76] of the time, bert 9% [6, 12]'.
    ``quote`` shows a test's name and ``show`` a family's (they may come from a user's suite
    file: the report passes ``md_literal`` for both)."""
    if not gaps:
        return []
    pick, other = gaps["classifier"], gaps["other"]

    def rate(r):
        return f"{r['rate']:.0%} [{r['low'] * 100:.0f}, {r['high'] * 100:.0f}]"

    return [f"Behavioural tests ({show(g['family'])}): {pick} fails {quote(g['test'])} {rate(g['rates'][pick])} of the time, {other} "
            f"{rate(g['rates'][other])} (McNemar p = {g['p_value']:.2g} on the same cases)." for g in gaps["gaps"]]
