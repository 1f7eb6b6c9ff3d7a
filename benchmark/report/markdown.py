"""The text of ``report.md``: one function per section, each returning its lines.

Review text and everything else that comes from the user's data is shown as literal text
(:func:`dataset.md_literal`), never as Markdown or HTML.
"""

from __future__ import annotations

import numpy as np
from tabulate import tabulate

from dataset import dropped_text, md_literal, md_text

from ..decide import METRIC_WORDS
from ..environment import describe_gpu
from ..predictions_file import Predictions
from ..robustness.section import recommendation_notes, robustness_lines, slices_lines
from ..schema import RunResults, latency_p50_ms, train_time_s
from ..serve.section import deployed_lines
from ..stats import BOOTSTRAP_SEED, ECE_BINS, N_RESAMPLES, SIGNIFICANCE, SMALL_TEST_SPLIT
from ..timing import format_ms
from .tables import format_table

N_CONFIDENTLY_WRONG = 5
N_TOP_TERMS = 15
#: Below this share of the data in its smallest class, macro F1 is the fairer reading than accuracy.
IMBALANCED = 0.15


def render(results: RunResults, predictions: Predictions, mcnemar: list[dict], files: dict[str, list[str]],
           robustness: dict | None = None, deployed: dict | None = None) -> str:
    """The Markdown text of ``report.md`` (``robustness`` and ``deployed``: the run's
    ``robustness.json`` and ``deployed.json``, if any)."""
    sections = [
        _summary(results, robustness),
        _comparison(results),
        _per_class(results),
        _data_warnings(results["data"], results["split"]),
        _tuning(results["classifiers"]),
        _significance(mcnemar),
        _slices(results),
        _robustness(robustness),
        deployed_lines(deployed, results),
        _plots(files),
        _error_analysis(results["classifiers"], predictions, results["data"]["classes"]),
        _manifest(results["split"], results["data"]["classes"]),
        _environment(results["environment"]),
    ]
    return "\n".join(line for section in sections for line in section)


def _ci(entry: dict | None) -> str:
    if not entry or entry["value"] is None:
        return "undefined"
    if entry["low"] is None:
        return f"{entry['value']:.4f}"
    return f"{entry['value']:.4f} [{entry['low']:.4f}, {entry['high']:.4f}]"


def _summary(results: RunResults, robustness: dict | None = None) -> list[str]:
    data, split = results["data"], results["split"]
    out = [f"# sentibench report: run {md_literal(results['run_id'])}", ""]
    if results["status"] != "complete":
        out += [f"> Status: **{results['status']}**: only the classifiers listed finished.", ""]
    recommendation = results.get("recommendation")
    if recommendation:
        out += [f"**Recommendation.** {md_text(recommendation['reason'])}", ""]
        out += [line for note in recommendation_notes(robustness) for line in (note, "")]
    dropped = md_text(dropped_text(data["dropped"]))
    out += [
        f"Data: {md_literal(data['source'])} ({data['format']}), {data['rows_used']:,} reviews used "
        f"({data['rows_loaded']:,} loaded, {data['rows_read']:,} read; dropped: {dropped}). "
        f"Split seed {results['config']['seed']}: {split['sizes']['train']:,} train / "
        f"{split['sizes']['validation']:,} validation / {split['sizes']['test']:,} test.",
        "",
        f"Classes ({'ordered' if data['ordinal'] else 'unordered'}): " + ", ".join(
            f"{md_literal(c)} ({n:,})" for c, n in zip(data["classes"], _class_totals(split), strict=True)) + ".",
        "",
    ]
    metric = results["config"].get("metric", "accuracy")
    out += [f"The recommendation, the frontier and tuning rank by {METRIC_WORDS[metric][1].removeprefix('test ')} "
            "(`--metric`)." + (" " + _imbalance_note(split, metric) if _imbalanced(split) else ""), ""]
    return out


def _class_totals(split: dict) -> list[int]:
    parts = split["class_counts"].values()
    return [sum(part.get(str(k), 0) for part in parts) for k in range(len(next(iter(parts))))]


def _imbalanced(split: dict) -> bool:
    totals = _class_totals(split)
    return min(totals) < IMBALANCED * sum(totals)


def _imbalance_note(split: dict, metric: str) -> str:
    totals = _class_totals(split)
    share = min(totals) / sum(totals)
    note = f"The classes are imbalanced (the smallest holds {share:.0%} of the reviews): macro F1 is the fairer reading"
    return note + (" (`--metric f1_macro`)." if metric == "accuracy" else ".")


def _comparison(results: RunResults) -> list[str]:
    records = results["classifiers"]
    ordinal = any("qwk" in r["ci"] for r in records.values())
    metrics = ["accuracy", "f1_macro", *(["qwk", "mae", "off_by_one"] if ordinal else []), "ece", "brier"]
    titles = {"accuracy": "accuracy", "f1_macro": "macro F1", "qwk": "QWK", "mae": "MAE", "off_by_one": "off-by-one",
              "ece": "debiased ECE", "brier": "Brier"}
    rows = [[name, *(_ci(r["ci"].get(m)) for m in metrics), f"{train_time_s(r):.2f}", format_ms(latency_p50_ms(r))]
            for name, r in records.items()]
    headers = ["classifier", *(f"{titles[m]} [95% CI]" for m in metrics), "train s", "p50 ms"]
    two = len(results["data"]["classes"]) == 2
    out = [
        "## Comparison",
        "",
        format_table(results),
        "",
        "Test accuracy, macro F1, "
        + ("MAE (in " + ("stars" if results["data"].get("class_values") else "classes") + "), quadratic weighted kappa "
           "(QWK) and off-by-one accuracy (ordered classes), " if ordinal else "")
        + f"expected calibration error (ECE: {ECE_BINS} equal-width bins of "
        + ("P(the second class)" if two else "the top class's probability (top-label)")
        + "; lower is better) and Brier score (" + ("of P(the second class)" if two else "multi-class") + "; lower is "
        f"better), with 95% bootstrap confidence intervals ({N_RESAMPLES:,} resamples of the test items, seed {BOOTSTRAP_SEED}). "
        "The binned ECE is biased upwards (its percentile interval can lie wholly above it), so this table gives it "
        "debiased by Efron's bootstrap bias correction, with the basic bootstrap interval; the comparison table above "
        "keeps the binned value:",
        "",
        tabulate(rows, headers=headers, tablefmt="github"),
        "",
    ]
    pareto = results.get("pareto")
    if pareto:
        by = METRIC_WORDS[pareto.get("metric", "accuracy")][1].removeprefix("test ")
        out += [
            f"Pareto frontier (no other classifier scores at least as well by {by} and costs less): against latency "
            f"{', '.join(pareto['latency'])}; against training time {', '.join(pareto['train_time'])}.",
            "",
        ]
    return out


def _per_class(results: RunResults) -> list[str]:
    """Precision, recall and F1 of each class, with CIs (three classes or more)."""
    classes = results["data"]["classes"]
    if len(classes) <= 2:
        return []
    out = ["## Per class", "", "Precision, recall and F1 of each class on the test split, with 95% bootstrap CIs:", ""]
    for name, record in results["classifiers"].items():
        ci = record["ci"]
        rows = [[md_literal(c, table=True), _ci(ci.get(f"precision_{k}")), _ci(ci.get(f"recall_{k}")), _ci(ci.get(f"f1_{k}")),
                 int(record["metrics"]["report"].get(str(c), {}).get("support", 0))] for k, c in enumerate(classes)]
        out += [f"### {name}", "", tabulate(rows, headers=["class", "precision", "recall", "F1", "test reviews"],
                                            tablefmt="github", disable_numparse=True), ""]
    return out


def _data_warnings(data: dict, split: dict) -> list[str]:
    """Plain sentences about data problems that change how far the numbers can be trusted."""
    out = []
    n_test = split["sizes"]["test"]
    if n_test < SMALL_TEST_SPLIT:
        out.append(
            f"**Small test split:** {n_test} reviews. Accuracy is only known to within the wide intervals "
            "above; differences of a few points between classifiers may be chance. Use more data to rank them."
        )
    dup = data.get("duplicates") or {}
    if dup.get("test_in_train"):
        out.append(
            f"**Repeated reviews:** {dup['test_in_train']} of {n_test} test reviews also appear in the training "
            f"split ({dup['duplicate_rows']:,} repeated texts in the data), so test accuracy overstates accuracy "
            "on new reviews. Rerun with `--dedupe` to drop repeats before splitting."
        )
    if dup.get("conflicting_texts"):
        out.append(
            f"**Conflicting labels:** {dup['conflicting_texts']:,} texts appear with more than one label "
            f"({dup['conflicting_rows']:,} rows); no classifier can get all of them right."
        )
    if dup:
        out.append(
            f"Duplicates: {dup.get('duplicate_rows', 0):,} repeated texts in the data"
            + _dedupe_note(dup)
            + f"; validation/test reviews also in training: {dup.get('validation_in_train', 0)}/{dup.get('test_in_train', 0)}."
        )
    return [line for text in out for line in (text, "")]


def _dedupe_note(dup: dict) -> str:
    if "removed_by_dedupe" not in dup:
        return ""
    resolved = dup.get("conflicting_before_dedupe")
    return (f" ({dup['removed_by_dedupe']:,} dropped by --dedupe"
            + (f", which kept the first label of {resolved:,} texts that had more than one" if resolved else "") + ")")


def _tuning(records: dict) -> list[str]:
    tuned = {n: r["tuning"] for n, r in records.items() if r.get("tuning") and "trials" in r["tuning"]}
    if not tuned:
        return []
    rows = [[n, "not fitted" if t["default_val_score"] is None else f"{t['default_val_score']:.4f}",
             f"{t['tuned_val_score']:.4f}", len(t["trials"]),
             f"{t['tuning_time_s']:.1f}" + ("" if t["complete"] else " (budget)"),
             md_literal(", ".join(f"{k}={v}" for k, v in t["chosen"].items()), table=True)]
            for n, t in tuned.items()]
    metric = next(iter(tuned.values())).get("metric", "accuracy")
    return [
        "## Tuning",
        "",
        f"Each search used the training and validation parts only, scored by validation {metric}; the test numbers "
        "above come from one final fit with the chosen values. Training time in the table is that final fit.",
        "",
        tabulate(rows, headers=["classifier", "validation (defaults)", "validation (tuned)", "trials", "search s", "chosen"],
                 tablefmt="github"),
        "",
    ]


def _significance(mcnemar: list[dict]) -> list[str]:
    if not mcnemar:
        return []
    rows = [[m["a"], m["b"], m["a_only"], m["b_only"], f"{m['p_value']:.3g}", "yes" if m["p_value"] < SIGNIFICANCE else "no"]
            for m in mcnemar]
    return [
        "## Are the differences real?",
        "",
        "McNemar's exact test on the same test items: A-only counts items A gets right and B gets wrong.",
        "",
        tabulate(rows, headers=["A", "B", "A only", "B only", "p-value", f"significant at {SIGNIFICANCE}"], tablefmt="github"),
        "",
    ]


def _slices(results: RunResults) -> list[str]:
    """Accuracy per review length and per group, from the run-level ``slices`` of ``results.json``."""
    return slices_lines(results.get("slices"))


def _robustness(robustness: dict | None) -> list[str]:
    """Behavioural tests, from ``robustness.json`` (``run --robustness``, ``robustness --run``)."""
    return robustness_lines(robustness)


def _plots(files: dict[str, list[str]]) -> list[str]:
    out = []
    for key, title in (("overview", "Plots"), ("confusion", "Confusion matrices"), ("learning", "Learning curves")):
        if files.get(key):
            out += [f"## {title}", ""] + [f"![{f}]({f})" for f in files[key]] + [""]
    return out


def _error_analysis(records: dict, predictions: Predictions, classes: list[str]) -> list[str]:
    out = ["## Error analysis", ""]
    for name in records:
        if name in predictions.pred:
            out += [f"### {name}", ""] + _most_confidently_wrong(name, predictions, classes)
            out += _top_terms(records[name].get("top_terms"), classes)
    return out


def _most_confidently_wrong(name: str, predictions: Predictions, classes: list[str]) -> list[str]:
    pred, proba = predictions.pred[name], predictions.proba[name]
    wrong = np.flatnonzero(pred != predictions.labels)
    if not len(wrong):
        return ["No test review misclassified.", ""]
    # The probability given to the predicted class, then the row: the same order every time.
    confidence = proba[wrong, pred[wrong]]
    order = wrong[np.lexsort((predictions.row_id[wrong], -confidence))][:N_CONFIDENTLY_WRONG]
    rows = [[int(predictions.row_id[i]), md_literal(classes[predictions.labels[i]], table=True),
             md_literal(classes[pred[i]], table=True), f"{proba[i, pred[i]]:.3f}",
             md_literal(predictions.texts[i], limit=160, table=True)] for i in order]
    return [
        f"Most confidently wrong ({len(wrong)} of {len(pred)} test reviews misclassified):",
        "",
        tabulate(rows, headers=["row", "true", "predicted", "P(predicted)", "review"], tablefmt="github", disable_numparse=True),
        "",
    ]


def _top_terms(terms: dict | None, classes: list[str]) -> list[str]:
    if not terms:
        return []
    if "positive" not in terms:  # one list per class (three classes or more)
        rows = [[md_literal(classes[int(k)], table=True), md_literal(", ".join(t for t, _ in ranked[:10]), table=True)]
                for k, ranked in terms.items()]
        return ["Terms that weigh most towards each class (n-grams, one-vs-rest linear model):", "",
                tabulate(rows, headers=["class", "strongest n-grams"], tablefmt="github", disable_numparse=True), ""]
    rows = [[md_literal(p[0], table=True), f"{p[1]:.2f}", md_literal(n[0], table=True), f"{n[1]:.2f}"]
            for p, n in zip(terms["positive"][:N_TOP_TERMS], terms["negative"][:N_TOP_TERMS], strict=True)]
    return [
        "Largest weights of the linear model (n-grams):",
        "",
        tabulate(rows, headers=[f"{md_literal(classes[1], table=True)} n-gram", "weight",
                                f"{md_literal(classes[0], table=True)} n-gram", "weight"], tablefmt="github"),
        "",
    ]


def _manifest(split: dict, classes: list[str]) -> list[str]:
    rows = [[part, split["sizes"][part], *(split["class_counts"][part].get(str(k), 0) for k in range(len(classes)))]
            for part in ("train", "validation", "test")]
    return [
        "## Split manifest",
        "",
        f"SHA-256 of the index arrays: `{split['sha256']}`",
        "",
        tabulate(rows, headers=["part", "reviews", *(md_literal(c, table=True) for c in classes)], tablefmt="github"),
        "",
    ]


def _environment(env: dict) -> list[str]:
    # Every string here is read from results.json (the machine's own words, or a crafted
    # folder's): shown literally.
    resumed = env.get("resumed_on_cpus") or []
    return [
        "## Environment",
        "",
        f"sentibench {md_literal(env.get('sentibench_version', '?'))}"
        + (f" (commit {md_literal(env['git_commit'])})" if env.get("git_commit") else "")
        + f"; Python {md_literal(env['python'])} on {md_literal(env['platform'])}; CPU {md_literal(env['cpu'])} "
        f"({env['cpu_count']} cores"
        + (f", {env['torch_threads']} torch threads" if "torch_threads" in env else "")
        + f"); GPU: {md_literal(describe_gpu(env.get('gpu')) if 'gpu' in env else env.get('cuda') or 'none')}."
        + (f" Resumed on another CPU ({', '.join(md_literal(c) for c in resumed)}): compare the timings of classifiers "
           "measured on different CPUs with care." if resumed else ""),
        "",
        ", ".join(f"{md_literal(k)} {md_literal(v)}" for k, v in env["packages"].items()),
        "",
    ]
