"""The summary of ``run --seeds`` (the whole comparison repeated per seed: sample, split,
classifiers): the mean and spread of every headline metric and, for every pair, the
corrected resampled t-test across the splits."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
from tabulate import tabulate

from dataset import atomic_write_json, atomic_write_text

from .schema import SeedSummary
from .stats import SIGNIFICANCE, corrected_resampled_ttest


def seed_pairs(per_seed: dict[str, dict[str, list[float]]], test_train_ratio: float) -> list[dict]:
    """For each pair of classifiers, the mean accuracy difference over the splits and
    Nadeau and Bengio's corrected resampled t-test (the splits' training sets overlap)."""
    pairs = []
    for a, b in combinations(per_seed, 2):
        acc_a, acc_b = per_seed[a]["accuracy"], per_seed[b]["accuracy"]
        k = min(len(acc_a), len(acc_b))
        test = corrected_resampled_ttest(np.subtract(acc_a[:k], acc_b[:k]), test_train_ratio)
        significant = test["p_value"] is not None and test["p_value"] < SIGNIFICANCE
        leader, other = (a, b) if test["mean"] >= 0 else (b, a)
        sentence = (
            f"{leader} was more accurate than {other} by the same {abs(test['mean']) * 100:.1f} points on every split; "
            "with no spread the t-test is undefined (more seeds or a larger test split would test it)."
            if test["std"] == 0 and test["mean"] != 0 else
            f"{leader} is more accurate than {other} by {abs(test['mean']) * 100:.1f} points on average "
            f"(corrected t-test p = {test['p_value']:.3g})." if significant else
            f"The difference between {a} and {b} ({test['mean'] * 100:+.1f} points on average) is not significant"
            + (f" (corrected t-test p = {test['p_value']:.3g})." if test["p_value"] is not None else ".")
        )
        pairs.append({"a": a, "b": b, "splits": k, "test_train_ratio": test_train_ratio, **test,
                      "significant": significant, "sentence": sentence})
    return pairs


def write_seed_summary(parent: Path, summary: SeedSummary, per_seed: dict, ratio: float | None) -> None:
    summary["metrics"] = {
        name: {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
               for m, v in metrics.items()}
        for name, metrics in per_seed.items()
    }
    summary["pairs"] = seed_pairs(per_seed, ratio) if ratio is not None else []
    atomic_write_json(parent / "summary.json", summary)
    atomic_write_text(parent / "summary.md", format_seed_summary(summary))



def format_seed_summary(summary: SeedSummary) -> str:
    """Markdown table of mean ± standard deviation per classifier and metric over seeds."""
    metrics = list(next(iter(summary["metrics"].values()), {}))
    rows = [
        [name] + [f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in metrics]
        for name, m in summary["metrics"].items()
    ]
    runs = ", ".join(f"seed {s}: `{d}`" for s, d in summary["runs"].items())
    pairs = summary.get("pairs") or []
    tests = ""
    if pairs:
        cells = [[p["a"], p["b"], f"{p['mean'] * 100:+.2f}", "" if p["t"] is None else f"{p['t']:.2f}", p["df"],
                  "" if p["p_value"] is None else f"{p['p_value']:.3g}", "yes" if p["significant"] else "no"] for p in pairs]
        weak = len(summary["runs"]) < 5
        headers = ["A", "B", "A - B (points)", "t", "df", "p-value", f"significant at {SIGNIFICANCE}"]
        tests = (
            "## Are the differences real across splits?\n\n"
            "Accuracy of A minus B over the splits, with Nadeau and Bengio's (2003) corrected resampled t-test: the "
            "splits' training sets overlap, so the variance is inflated by the test/train size ratio "
            f"({pairs[0]['test_train_ratio']:.3f}).\n\n"
            f"{tabulate(cells, headers=headers, tablefmt='github', disable_numparse=True)}\n\n"
            + "".join(f"- {p['sentence']}\n" for p in pairs)
            + ("\n" + f"With {len(summary['runs'])} splits the test has little power: a real difference of a point or two "
               "will often not show as significant; 5 or more seeds are better.\n" if weak else "")
            + "\n"
        )
    return (
        f"# Comparison over seeds {', '.join(map(str, summary['seeds']))}\n\n"
        f"Mean ± sample standard deviation over {len(summary['runs'])} runs ({summary['status']}).\n\n"
        f"{tabulate(rows, headers=['classifier', *metrics], tablefmt='github', disable_numparse=True)}\n\n"
        f"{tests}"
        f"Per-seed runs: {runs}\n"
    )
