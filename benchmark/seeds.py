"""The summary of ``run --seeds`` (the whole comparison repeated per seed: sample, split,
classifiers): the mean and spread of every headline metric and, for every pair, the
corrected resampled t-test across the splits."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
from tabulate import tabulate

from dataset import SentibenchError, atomic_write_json, atomic_write_text

from .schema import HEADLINE_METRICS, RESULTS_FILE, RunFolderError, SeedSummary, load_results
from .stats import SIGNIFICANCE, corrected_resampled_ttest

#: The summary of a ``-seeds`` folder, and its table for people.
SUMMARY_FILE = "summary.json"
SUMMARY_TABLE = "summary.md"


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


def seed_folders(parent: Path) -> dict[int, Path]:
    """The run folder of each seed inside a ``-seeds`` folder, from the seed its results name
    (a complete one first, then the newest, should a seed have two)."""
    found: dict[int, tuple[bool, str, Path]] = {}
    for child in sorted(p for p in Path(parent).iterdir() if p.is_dir() and not p.is_symlink()):
        try:
            results = load_results(child)
        except SentibenchError:
            continue  # killed before its results were written, or not a run folder
        seed = results["config"].get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            rank = (results["status"] == "complete", child.name, child)
            found[seed] = max(found.get(seed, rank), rank)
    return {seed: child for seed, (_, _, child) in found.items()}


def update_seed_summary(parent: Path, summary: SeedSummary) -> SeedSummary:
    """Recompute ``summary`` from the seeds' run folders and write ``summary.json`` and
    ``summary.md``: written when the run starts and whenever a seed finishes, so an interrupted
    ``--seeds`` run keeps a summary of what finished and can be resumed as a whole."""
    parent = Path(parent)
    folders = seed_folders(parent)
    per_seed: dict[str, dict[str, list[float]]] = {}
    runs: dict[str, str] = {}
    ratio = None
    for seed in summary["seeds"]:
        if seed not in folders:
            continue
        results = load_results(folders[seed])
        if results["status"] != "complete":
            continue
        runs[str(seed)] = folders[seed].name
        sizes = results["split"]["sizes"]
        ratio = sizes["test"] / sizes["train"]
        for name, record in results["classifiers"].items():
            for metric, get in HEADLINE_METRICS.items():
                if get(record) is not None:  # qwk: ordered classes only
                    per_seed.setdefault(name, {}).setdefault(metric, []).append(get(record))
    summary["runs"] = runs
    summary["folders"] = {str(seed): folders[seed].name for seed in summary["seeds"] if seed in folders}
    summary["metrics"] = {
        name: {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
               for m, v in metrics.items()}
        for name, metrics in per_seed.items()
    }
    summary["pairs"] = seed_pairs(per_seed, ratio) if ratio is not None else []
    atomic_write_json(parent / SUMMARY_FILE, summary)
    atomic_write_text(parent / SUMMARY_TABLE, format_seed_summary(summary))
    return summary


def read_seed_summary(parent: Path) -> SeedSummary:
    """``summary.json`` of a ``-seeds`` folder, checked enough to resume it (one line otherwise)."""
    path = Path(parent) / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"cannot read {path}: {type(exc).__name__}") from None
    seeds = summary.get("seeds") if isinstance(summary, dict) else None
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            and len(set(seeds)) == len(seeds) and isinstance(summary.get("config"), dict)
            and isinstance(summary.get("status"), str)):
        raise RunFolderError(f"{path} is not the summary of a --seeds run (no seeds, config or status)")
    return summary


def is_seeds_folder(path: Path) -> bool:
    """Whether ``path`` is the parent folder of a ``run --seeds`` (not a run folder itself)."""
    path = Path(path)
    return (path / SUMMARY_FILE).is_file() and not (path / RESULTS_FILE).exists()


def format_seed_summary(summary: SeedSummary) -> str:
    """Markdown table of mean ± standard deviation per classifier and metric over seeds."""
    metrics = list(next(iter(summary["metrics"].values()), {}))
    rows = [
        [name] + [f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in metrics]
        for name, m in summary["metrics"].items()
    ]
    runs = ", ".join(f"seed {s}: `{d}`" + ("" if s in summary["runs"] else " (not finished)")
                     for s, d in (summary.get("folders") or summary["runs"]).items())
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
