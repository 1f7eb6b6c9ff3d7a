"""The report's sections on how each classifier fails: behavioural tests (``robustness.json``)
and slices (``results.json["slices"]``). Every name or text that can come from the user's data
or suite file is shown with :func:`dataset.md_literal`, as the error analysis shows reviews."""

from __future__ import annotations

import numpy as np
from tabulate import tabulate

from dataset import md_literal

from ..predictions_file import decode_predictions
from ..stats import BOOTSTRAP_SEED, N_RESAMPLES, SIGNIFICANCE
from .gaps import robustness_sentences
from .polarity import Polarity
from .score import failures

__all__ = ["failure_rows", "recommendation_notes", "robustness_lines", "slices_lines"]

#: Example failures shown per classifier and test.
N_EXAMPLES = 3
_KIND_WORDS = {"mft": "minimum functionality", "inv": "invariance", "dir": "directional"}


def _rate(result: dict | None) -> str:
    if not result:
        return "n/a"
    return f"{result['rate']:.1%} [{result['low'] * 100:.1f}, {result['high'] * 100:.1f}]"


def failure_rows(robustness: dict, quote=str) -> tuple[list[list], list[str]]:
    """The failure-rate table (one row per test that ran, one column per classifier) and its headers."""
    names = list(robustness["classifiers"])
    rows = []
    for test in robustness["tests"]:
        if "skipped" in test or not test["cases"]:
            continue
        results = [robustness["classifiers"][n]["tests"].get(test["name"]) for n in names]
        rows.append([quote(test["family"]), quote(test["name"]), test["kind"], len(test["cases"]), *map(_rate, results)])
    return rows, ["family", "test", "kind", "cases", *(f"{n} failures [95% CI]" for n in names)]


def recommendation_notes(robustness: dict | None) -> list[str]:
    """The recommendation's sentences on behavioural tests, names shown as code."""
    if not robustness or not robustness.get("recommendation"):
        return []
    return robustness_sentences(robustness["recommendation"], quote=md_literal, show=md_literal)


def robustness_lines(robustness: dict | None) -> list[str]:
    """``## Behavioural tests``: failure rates, McNemar between classifiers, example failures."""
    if not robustness:
        return []
    polarity = Polarity.from_json(robustness["classes"])
    rows, headers = failure_rows(robustness, quote=lambda s: md_literal(s, table=True))
    out = ["## Behavioural tests", "", *_intro(robustness, polarity), ""]
    out += [tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""] if rows else ["No test had a case.", ""]
    out += _not_run(robustness)
    out += _pairs(robustness)
    out += _examples(robustness, polarity)
    return out


def _intro(robustness: dict, polarity: Polarity) -> list[str]:
    suite, reviews = robustness["suite"], robustness["reviews"]
    classes = [f"negative = {md_literal(polarity.names[polarity.negative])}" if polarity.negative is not None else None,
               f"positive = {md_literal(polarity.names[polarity.positive])}" if polarity.positive is not None else None,
               f"neutral = {md_literal(polarity.names[polarity.neutral])}" if polarity.neutral is not None else None]
    direction = (f" Directional tests watch {polarity.score}: an added sentence must not move it the wrong way by more "
                 f"than {polarity.tolerance:.2g}." if polarity.values is not None else "")
    cost = ", ".join(f"{n} {e['seconds']:.2f} s ({e['texts']:,} texts)" for n, e in robustness["classifiers"].items())
    return [
        "How each classifier fails, after CheckList (Ribeiro et al., ACL 2020): minimum-functionality tests (mft: "
        "templates, each case with an expected class), invariance tests (inv: a perturbation of a test review must not "
        "change the predicted class) and directional tests (dir)." + direction,
        "",
        f"Suite: {md_literal(suite['source'])} (at most {suite['max_cases']:,} cases per template test; "
        f"{len(reviews['row_id']):,} of {reviews['of']:,} test reviews perturbed), drawn with seed {robustness['seed']}; every "
        f"classifier sees the same cases. Classes: {', '.join(c for c in classes if c) or 'no polarity known'}. Failure rates "
        f"with Wilson 95% intervals. Cost of the tests: {cost or 'none scored'}.",
    ]


def _not_run(robustness: dict) -> list[str]:
    skipped = [f"{md_literal(t['name'])} ({t['skipped']})" for t in robustness["tests"] if "skipped" in t]
    empty = [md_literal(t["name"]) for t in robustness["tests"] if "skipped" not in t and not t["cases"]]
    out = []
    if skipped:
        out += ["Not run with these classes: " + "; ".join(skipped) + ".", ""]
    if empty:
        out += ["No sampled test review to perturb (nothing the perturbation applies to): " + ", ".join(empty) + ".", ""]
    for name, why in robustness.get("not_scored", {}).items():
        out += [f"{name} was not tested: {why}.", ""]
    return out


def _pairs(robustness: dict) -> list[str]:
    """Per test, McNemar's exact test between each pair of classifiers on the same cases."""
    pairs = robustness.get("pairs") or {}
    if not pairs:
        return []
    columns = list(dict.fromkeys((p["a"], p["b"]) for ps in pairs.values() for p in ps))
    rows = []
    for test in robustness["tests"]:
        found = {(p["a"], p["b"]): p for p in pairs.get(test["name"], [])}
        if not found:
            continue
        rows.append([md_literal(test["name"], table=True), *(_pair_cell(found.get(c)) for c in columns)])
    return [
        "McNemar's exact test per test on the same cases (fewer failures: who fails less often, where significant "
        f"at {SIGNIFICANCE}):",
        "",
        tabulate(rows, headers=["test", *(f"{a} vs {b}" for a, b in columns)], tablefmt="github", disable_numparse=True),
        "",
    ]


def _pair_cell(pair: dict | None) -> str:
    if pair is None:
        return ""
    p = pair["p_value"]
    if p >= SIGNIFICANCE:
        return f"p = {p:.2g}"
    # a_only counts the cases A passes and B fails: the one with more of them fails less.
    return f"{pair['a'] if pair['a_only'] > pair['b_only'] else pair['b']} fewer, p = {p:.2g}"


def _examples(robustness: dict, polarity: Polarity) -> list[str]:
    out = ["### Example failures", "", f"Up to {N_EXAMPLES} per test, in case order (the cases are drawn with the seed).", ""]
    reviews = robustness["reviews"]["text"]
    for name, entry in robustness["classifiers"].items():
        rows = []
        for test in robustness["tests"]:
            result = entry["tests"].get(test["name"])
            if not result or not result["failures"]:
                continue
            failed = np.flatnonzero(failures(test, result, entry["original"], polarity))[:N_EXAMPLES]
            rows += [_example(test, int(i), result, entry["original"], reviews, polarity) for i in failed]
        out += [f"#### {name}", ""]
        out += [tabulate(rows, headers=["test", "review as tested", "original review", "expected", "got"], tablefmt="github",
                         disable_numparse=True), ""] if rows else ["No failure.", ""]
    return out


def _example(test: dict, i: int, result: dict, original: dict, reviews: list[str], polarity: Polarity) -> list[str]:
    case = test["cases"][i]

    def cls(k: int) -> str:
        return md_literal(polarity.names[k], table=True)

    text = md_literal(case["text"], limit=160, table=True)
    predicted = cls(decode_predictions(result["pred"])[i])
    if test["kind"] == "mft":
        return [md_literal(test["name"], table=True), text, "", md_literal(case["expect"], table=True), predicted]
    before = md_literal(reviews[case["review"]], limit=160, table=True)
    if test["kind"] == "inv":
        k = decode_predictions(original["pred"])[case["review"]]
        return [md_literal(test["name"], table=True), text, before, f"{cls(k)}, as the original", predicted]
    was = original["score"][case["review"]]
    bound = f"at most {was + polarity.tolerance:.3f}" if test["must_not"] == "rise" else f"at least {was - polarity.tolerance:.3f}"
    return [md_literal(test["name"], table=True), text, before, f"{polarity.score} {bound} (was {was:.3f})",
            f"{result['score'][i]:.3f}"]


def slices_lines(slices: dict | None) -> list[str]:
    """``## Slices``: accuracy per review length and per group, and the worst slice where it is significantly worse."""
    if not slices:
        return []
    length = slices["length"]
    ranges = ", ".join(f"{name} ({span})" for name, span in length["bins"].items())
    out = [
        "## Slices: where each classifier fails",
        "",
        f"Accuracy on slices of the test split, with 95% bootstrap CIs ({N_RESAMPLES:,} resamples within each slice, seed "
        f"{BOOTSTRAP_SEED}). A slice is named below when it is significantly worse than the classifier does on the other "
        f"test reviews: one-sided Fisher's exact test of the slice against the rest, Holm-adjusted over the slices of its "
        f"kind, at {SIGNIFICANCE}.",
        "",
        f"By review length, in tokens (cut at the test split's tertiles): {ranges}.",
        "",
        *_slice_table(length["by"], list(length["bins"]), quote=str),
    ]
    group = slices.get("group")
    if group:
        pooled = (f" Groups with fewer than {slices['min_group']} test reviews are pooled as {md_literal(group['pooled'])} "
                  f"({', '.join(md_literal(g) for g in group['pooled_groups'])})." if group["pooled"] else "")
        out += [f"By {md_literal(group['column'] or 'group')} (`--group-column`).{pooled}", "",
                *_slice_table(group["by"], group["order"], quote=lambda s: md_literal(s, table=True))]
    out += _worst(length["by"], "length", lambda s: f"{s} reviews")
    if group:
        out += _worst(group["by"], "group", lambda s: f"the group {md_literal(s)}")
    return out


def _slice_table(by: dict, order: list[str], quote) -> list[str]:
    names = list(by)
    if not names:
        return []
    n = {s: next(iter(by.values()))["slices"][s]["n"] for s in order}
    rows = [[quote(s), n[s], *(f"{by[c]['slices'][s]['accuracy']:.4f} [{by[c]['slices'][s]['low']:.4f}, "
                               f"{by[c]['slices'][s]['high']:.4f}]" for c in names)] for s in order]
    rows.append(["all", sum(n.values()), *(f"{by[c]['accuracy']:.4f}" for c in names)])
    return [tabulate(rows, headers=["slice", "test reviews", *(f"{c} accuracy [95% CI]" for c in names)], tablefmt="github",
                     disable_numparse=True), ""]


def _worst(by: dict, kind: str, what) -> list[str]:
    out = []
    for name, entry in by.items():
        worst = entry["worst"]
        if worst is None:
            continue
        s = entry["slices"][worst]
        out.append(f"{name} does worst on {what(worst)}: accuracy {s['accuracy']:.4f} [{s['low']:.4f}, {s['high']:.4f}] "
                   f"against {s['rest_accuracy']:.4f} on the other test reviews (Holm-adjusted p = {s['p_holm']:.2g} over "
                   f"{len(entry['slices'])} {kind} slices).")
    return [line for sentence in out for line in (sentence, "")]
