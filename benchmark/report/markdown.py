"""The text of ``report.md``: one function per section, each returning its lines.

Review text and everything else that comes from the user's data is shown as literal text
(:func:`dataset.md_literal`), never as Markdown or HTML.
"""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from dataset import md_literal

from ..schema import RunResults, latency_p50_ms, train_time_s
from ..stats import BOOTSTRAP_SEED, ECE_BINS, N_RESAMPLES, SIGNIFICANCE, SMALL_TEST_SPLIT
from ..timing import format_ms
from .tables import format_table

N_CONFIDENTLY_WRONG = 5
N_TOP_TERMS = 15


def render(results: RunResults, predictions: pd.DataFrame, mcnemar: list[dict], files: dict[str, list[str]]) -> str:
    """The Markdown text of ``report.md``."""
    sections = [
        _summary(results),
        _comparison(results),
        _data_warnings(results["data"], results["split"]),
        _tuning(results["classifiers"]),
        _significance(mcnemar),
        _plots(files),
        _error_analysis(results["classifiers"], predictions),
        _manifest(results["split"]),
        _environment(results["environment"]),
    ]
    return "\n".join(line for section in sections for line in section)


def _ci(entry: dict) -> str:
    return f"{entry['value']:.4f} [{entry['low']:.4f}, {entry['high']:.4f}]"


def _summary(results: RunResults) -> list[str]:
    data, split = results["data"], results["split"]
    out = [f"# sentibench report: run {results['run_id']}", ""]
    if results["status"] != "complete":
        out += [f"> Status: **{results['status']}**: only the classifiers listed finished.", ""]
    recommendation = results.get("recommendation")
    if recommendation:
        out += [f"**Recommendation.** {recommendation['reason']}", ""]
    dropped = ", ".join(f"{k}: {v}" for k, v in data["dropped"].items()) or "none"
    out += [
        f"Data: {md_literal(data['source'])} ({data['format']}), {data['rows_used']:,} reviews used "
        f"({data['rows_loaded']:,} loaded, {data['rows_read']:,} read; dropped: {dropped}). "
        f"Split seed {results['config']['seed']}: {split['sizes']['train']:,} train / "
        f"{split['sizes']['validation']:,} validation / {split['sizes']['test']:,} test.",
        "",
    ]
    return out


def _comparison(results: RunResults) -> list[str]:
    records = results["classifiers"]
    rows = [
        [name, _ci(r["ci"]["accuracy"]), _ci(r["ci"]["f1_macro"]), _ci(r["ci"]["ece"]), _ci(r["ci"]["brier"]),
         f"{train_time_s(r):.2f}", format_ms(latency_p50_ms(r))]
        for name, r in records.items()
    ]
    headers = ["classifier", "accuracy [95% CI]", "macro F1 [95% CI]", "ECE [95% CI]", "Brier [95% CI]", "train s", "p50 ms"]
    out = [
        "## Comparison",
        "",
        format_table(results),
        "",
        f"Test accuracy, macro F1, expected calibration error (ECE: {ECE_BINS} equal-width bins of "
        f"P(positive); lower is better) and Brier score (lower is better), with 95% bootstrap confidence "
        f"intervals ({N_RESAMPLES:,} resamples of the test items, seed {BOOTSTRAP_SEED}):",
        "",
        tabulate(rows, headers=headers, tablefmt="github"),
        "",
    ]
    pareto = results.get("pareto")
    if pareto:
        out += [
            f"Pareto frontier (no other classifier is at least as accurate and cheaper): against latency "
            f"{', '.join(pareto['latency'])}; against training time {', '.join(pareto['train_time'])}.",
            "",
        ]
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
            f"**Conflicting labels:** {dup['conflicting_texts']:,} texts appear with both labels "
            f"({dup['conflicting_rows']:,} rows); no classifier can get all of them right."
        )
    if dup:
        out.append(
            f"Duplicates: {dup.get('duplicate_rows', 0):,} repeated texts in the data"
            + (f" ({dup['removed_by_dedupe']:,} dropped by --dedupe)" if "removed_by_dedupe" in dup else "")
            + f"; validation/test reviews also in training: {dup.get('validation_in_train', 0)}/{dup.get('test_in_train', 0)}."
        )
    return [line for text in out for line in (text, "")]


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


def _plots(files: dict[str, list[str]]) -> list[str]:
    out = []
    for key, title in (("overview", "Plots"), ("confusion", "Confusion matrices"), ("learning", "Learning curves")):
        if files.get(key):
            out += [f"## {title}", ""] + [f"![{f}]({f})" for f in files[key]] + [""]
    return out


def _error_analysis(records: dict, predictions: pd.DataFrame) -> list[str]:
    out = ["## Error analysis", ""]
    for name in records:
        if f"{name}_pred" not in predictions:
            continue
        out += [f"### {name}", ""] + _most_confidently_wrong(name, predictions) + _top_terms(records[name].get("top_terms"))
    return out


def _most_confidently_wrong(name: str, predictions: pd.DataFrame) -> list[str]:
    wrong = predictions[predictions[f"{name}_pred"] != predictions["label"]].copy()
    if wrong.empty:
        return ["No test review misclassified.", ""]
    wrong["confidence"] = (wrong[f"{name}_proba"] - 0.5).abs()
    worst = wrong.sort_values(["confidence", "row_id"], ascending=[False, True]).head(N_CONFIDENTLY_WRONG)
    rows = [[int(r["row_id"]), "positive" if r["label"] else "negative", f"{r[f'{name}_proba']:.3f}",
             md_literal(r["text"], limit=160, table=True)] for r in worst.to_dict("records")]
    return [
        f"Most confidently wrong ({len(wrong)} of {len(predictions)} test reviews misclassified):",
        "",
        tabulate(rows, headers=["row", "true", "P(positive)", "review"], tablefmt="github"),
        "",
    ]


def _top_terms(terms: dict | None) -> list[str]:
    if not terms:
        return []
    rows = [[md_literal(p[0], table=True), f"{p[1]:.2f}", md_literal(n[0], table=True), f"{n[1]:.2f}"]
            for p, n in zip(terms["positive"][:N_TOP_TERMS], terms["negative"][:N_TOP_TERMS], strict=True)]
    return [
        "Largest weights of the linear model (n-grams):",
        "",
        tabulate(rows, headers=["positive n-gram", "weight", "negative n-gram", "weight"], tablefmt="github"),
        "",
    ]


def _manifest(split: dict) -> list[str]:
    rows = [[part, split["sizes"][part], split["class_counts"][part]["0"], split["class_counts"][part]["1"]]
            for part in ("train", "validation", "test")]
    return [
        "## Split manifest",
        "",
        f"SHA-256 of the index arrays: `{split['sha256']}`",
        "",
        tabulate(rows, headers=["part", "reviews", "negative", "positive"], tablefmt="github"),
        "",
    ]


def _environment(env: dict) -> list[str]:
    return [
        "## Environment",
        "",
        f"sentibench {env.get('sentibench_version', '?')}"
        + (f" (commit {env['git_commit']})" if env.get("git_commit") else "")
        + f"; Python {env['python']} on {env['platform']}; CPU {env['cpu']} ({env['cpu_count']} cores"
        + (f", {env['torch_threads']} torch threads" if "torch_threads" in env else "")
        + f"); GPU: {env.get('cuda') or 'none'}.",
        "",
        ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        "",
    ]
