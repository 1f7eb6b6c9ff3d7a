"""``report.md``: what a person looks at after a run.

Everything here is computed from the run folder's ``results.json`` and
``predictions.csv`` (seeded statistics, fixed plot metadata), so
``python -m benchmark report RUN_DIR`` regenerates byte-identical files without
retraining.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from dataset import atomic_write_text, md_literal

from .measure import BOOTSTRAP_SEED, N_RESAMPLES
from .output import folder_name, format_table
from .prepare import SMALL_TEST_SPLIT
from .schema import PREDICTIONS_FILE, RunFolderError, RunResults, load_results
from .stats import ECE_BINS, bootstrap_ci, pairwise_mcnemar, reliability_bins
from .timing import format_ms

REPORT_FILE = "report.md"
N_CONFIDENTLY_WRONG = 5
N_TOP_TERMS = 15


def load_run(run_dir) -> tuple[RunResults, pd.DataFrame]:
    """``results.json`` and ``predictions.csv`` of a run folder, checked."""
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    path = run_dir / PREDICTIONS_FILE
    try:
        predictions = pd.read_csv(path, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    missing = [c for c in ("row_id", "text", "label") if c not in predictions.columns]
    missing += [f"{n}_{k}" for n in results["classifiers"] for k in ("pred", "proba") if f"{n}_{k}" not in predictions.columns]
    if missing:
        raise RunFolderError(f"{path} lacks the column(s) {', '.join(missing)}; it is not the file sentibench wrote")
    return results, predictions


def statistics(results: dict, predictions: pd.DataFrame) -> dict:
    """Bootstrap confidence intervals per classifier and McNemar's test per pair."""
    names = [n for n in results["classifiers"] if f"{n}_pred" in predictions]
    y = predictions["label"].to_numpy()
    preds = {n: predictions[f"{n}_pred"].to_numpy() for n in names}
    return {
        "bootstrap": {
            n: bootstrap_ci(y, preds[n], predictions[f"{n}_proba"].to_numpy(), n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED)
            for n in names
        },
        "mcnemar": pairwise_mcnemar(y, preds),
    }


def _ci(entry: dict) -> str:
    return f"{entry['value']:.4f} [{entry['low']:.4f}, {entry['high']:.4f}]"


def make_plots(run_dir: Path, results: dict, predictions: pd.DataFrame, cis: dict | None = None) -> dict[str, list[str]]:
    """Write every PNG of the run; returns section -> file names. ``cis``: accuracy
    confidence intervals per classifier, drawn as error bars."""
    from . import plots  # matplotlib: imported only when a report is drawn

    records = results["classifiers"]
    names = [n for n in records if f"{n}_proba" in predictions]
    files: dict[str, list[str]] = {"confusion": [], "learning": [], "overview": []}
    for name in names:
        stem = folder_name(name)  # a MODULE:ATTR name has a colon, no file name should
        files["confusion"].append(
            plots.confusion_matrix_plot(name, records[name]["metrics"]["confusion_matrix"], run_dir / f"confusion_{stem}.png")
        )
        if records[name].get("history"):
            files["learning"].append(plots.learning_curves_plot(name, records[name]["history"], run_dir / f"learning_curves_{stem}.png"))
    if names:
        front = results.get("pareto", {}).get("latency", [])
        files["overview"].append(
            plots.tradeoff_plot({n: records[n] for n in names}, run_dir / "tradeoff.png", cis=cis, front=front)
        )
        y = predictions["label"].to_numpy()
        files["overview"].append(
            plots.reliability_plot(
                {n: reliability_bins(y, predictions[f"{n}_proba"].to_numpy()) for n in names},
                {n: records[n]["metrics"].get("ece") for n in names}, run_dir / "reliability.png",
            )
        )
        if len(np.unique(y)) == 2:
            files["overview"].append(
                plots.roc_plot(
                    y, {n: predictions[f"{n}_proba"].to_numpy() for n in names},
                    {n: records[n]["metrics"]["roc_auc"] for n in names}, run_dir / "roc.png",
                )
            )
    return files


def render(results: dict, predictions: pd.DataFrame, stats: dict, files: dict[str, list[str]]) -> str:
    """The Markdown text of ``report.md``."""
    records = results["classifiers"]
    data, split, env = results["data"], results["split"], results["environment"]
    out = [f"# sentibench report: run {results['run_id']}", ""]
    if results["status"] != "complete":
        out += [f"> Status: **{results['status']}**: only the classifiers listed finished.", ""]
    recommendation = results.get("recommendation")
    if recommendation:
        out += [f"**Recommendation.** {recommendation['reason']}", ""]
    out += [
        f"Data: {md_literal(data['source'])} ({data['format']}), {data['rows_used']:,} reviews used "
        f"({data['rows_loaded']:,} loaded, {data['rows_read']:,} read; dropped: "
        f"{', '.join(f'{k}: {v}' for k, v in data['dropped'].items()) or 'none'}). "
        f"Split seed {results['config']['seed']}: {split['sizes']['train']:,} train / "
        f"{split['sizes']['validation']:,} validation / {split['sizes']['test']:,} test.",
        "",
        "## Comparison",
        "",
        format_table(results),
        "",
        f"Test accuracy, macro F1, expected calibration error (ECE: {ECE_BINS} equal-width bins of "
        f"P(positive); lower is better) and Brier score (lower is better), with 95% bootstrap confidence "
        f"intervals ({N_RESAMPLES:,} resamples of the test items, seed {BOOTSTRAP_SEED}):",
        "",
    ]
    rows = [
        [name, _ci(b["accuracy"]), _ci(b["f1_macro"]), _ci(b["ece"]), _ci(b["brier"]),
         f"{records[name]['train_time_s']:.2f}", format_ms(records[name]['inference']['latency_p50_ms'])]
        for name, b in stats["bootstrap"].items()
    ]
    headers = ["classifier", "accuracy [95% CI]", "macro F1 [95% CI]", "ECE [95% CI]", "Brier [95% CI]", "train s", "p50 ms"]
    out += [tabulate(rows, headers=headers, tablefmt="github"), ""]
    pareto = results.get("pareto")
    if pareto:
        out += [
            f"Pareto frontier (no other classifier is at least as accurate and cheaper): against latency "
            f"{', '.join(pareto['latency'])}; against training time {', '.join(pareto['train_time'])}.",
            "",
        ]
    out += _data_warnings(data, split)
    tuned = {n: r["tuning"] for n, r in records.items() if r.get("tuning") and "trials" in r["tuning"]}
    if tuned:
        out += [
            "## Tuning",
            "",
            "Each search used the training and validation parts only; the test numbers above come from one final fit "
            "with the chosen values. Training time in the table is that final fit.",
            "",
            tabulate(
                [[n, "not fitted" if t["default_val_accuracy"] is None else f"{t['default_val_accuracy']:.4f}",
                  f"{t['tuned_val_accuracy']:.4f}", len(t["trials"]),
                  f"{t['tuning_time_s']:.1f}" + ("" if t["complete"] else " (budget)"),
                  md_literal(", ".join(f"{k}={v}" for k, v in t["chosen"].items()), table=True)]
                 for n, t in tuned.items()],
                headers=["classifier", "validation (defaults)", "validation (tuned)", "trials", "search s", "chosen"],
                tablefmt="github",
            ),
            "",
        ]
    if stats["mcnemar"]:
        out += [
            "## Are the differences real?",
            "",
            "McNemar's exact test on the same test items: A-only counts items A gets right and B gets wrong.",
            "",
            tabulate(
                [[m["a"], m["b"], m["a_only"], m["b_only"], f"{m['p_value']:.3g}", "yes" if m["p_value"] < 0.05 else "no"]
                 for m in stats["mcnemar"]],
                headers=["A", "B", "A only", "B only", "p-value", "significant at 0.05"], tablefmt="github",
            ),
            "",
        ]
    if files["overview"]:
        out += ["## Plots", ""] + [f"![{f}]({f})" for f in files["overview"]] + [""]
    if files["confusion"]:
        out += ["## Confusion matrices", ""] + [f"![{f}]({f})" for f in files["confusion"]] + [""]
    if files["learning"]:
        out += ["## Learning curves", ""] + [f"![{f}]({f})" for f in files["learning"]] + [""]
    out += _error_analysis(records, predictions)
    out += [
        "## Split manifest",
        "",
        f"SHA-256 of the index arrays: `{split['sha256']}`",
        "",
        tabulate(
            [[part, split["sizes"][part], split["class_counts"][part]["0"], split["class_counts"][part]["1"]]
             for part in ("train", "validation", "test")],
            headers=["part", "reviews", "negative", "positive"], tablefmt="github",
        ),
        "",
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
    return "\n".join(out)


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


def _error_analysis(records: dict, predictions: pd.DataFrame) -> list[str]:
    out = ["## Error analysis", ""]
    for name in records:
        if f"{name}_pred" not in predictions:
            continue
        wrong = predictions[predictions[f"{name}_pred"] != predictions["label"]].copy()
        out += [f"### {name}", ""]
        if wrong.empty:
            out += ["No test review misclassified.", ""]
        else:
            wrong["confidence"] = (wrong[f"{name}_proba"] - 0.5).abs()
            worst = wrong.sort_values(["confidence", "row_id"], ascending=[False, True]).head(N_CONFIDENTLY_WRONG)
            out += [
                f"Most confidently wrong ({len(wrong)} of {len(predictions)} test reviews misclassified):",
                "",
                tabulate(
                    [[int(r["row_id"]), "positive" if r["label"] else "negative", f"{r[f'{name}_proba']:.3f}",
                      md_literal(r["text"], limit=160, table=True)]
                     for r in worst.to_dict("records")],
                    headers=["row", "true", "P(positive)", "review"], tablefmt="github",
                ),
                "",
            ]
        terms = records[name].get("top_terms")
        if terms:
            out += [
                "Largest weights of the linear model (n-grams):",
                "",
                tabulate(
                    [[md_literal(p[0], table=True), f"{p[1]:.2f}", md_literal(n[0], table=True), f"{n[1]:.2f}"]
                     for p, n in zip(terms["positive"][:N_TOP_TERMS], terms["negative"][:N_TOP_TERMS], strict=True)],
                    headers=["positive n-gram", "weight", "negative n-gram", "weight"], tablefmt="github",
                ),
                "",
            ]
    return out


def write_report(run_dir) -> Path:
    """(Re)generate ``report.md`` and its PNGs in ``run_dir``; returns the report path."""
    run_dir = Path(run_dir)
    results, predictions = load_run(run_dir)
    stats = statistics(results, predictions)
    files = make_plots(run_dir, results, predictions, cis={n: b["accuracy"] for n, b in stats["bootstrap"].items()})
    path = run_dir / REPORT_FILE
    atomic_write_text(path, render(results, predictions, stats, files))
    return path
