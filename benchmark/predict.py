"""Using a finished run: label new reviews with its saved models, compare two runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tabulate import tabulate

from classifiers import SentimentClassifier
from dataset import UsageError, terminal_safe

from .rundir import MODELS_DIR
from .schema import HEADLINE_METRICS, RunFolderError, folder_name, load_results


def read_texts(texts: list[str], file: str | None, stdin) -> list[tuple[int, str]]:
    """Reviews from the command line, else ``file`` (one per line), else ``stdin``, each with
    its position among the inputs (line number - 1 for a file): blank lines are skipped,
    and the positions say which input each result belongs to."""
    if texts:
        lines = texts
    elif file:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"{file} is not UTF-8 text; re-save it as UTF-8") from None
    else:
        lines = stdin.read().splitlines()
    kept = [(i, line) for i, line in enumerate(lines) if line.strip()]
    if not kept:
        raise UsageError("no reviews given: pass them as arguments, with --file, or one per line on stdin")
    return kept


def saved_models(run_dir, names: list[str] | None = None) -> dict[str, Path]:
    """Folders of the classifiers saved in ``run_dir`` (in run order)."""
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    available = {n: run_dir / MODELS_DIR / folder_name(n) for n in results["classifiers"]
                 if (run_dir / MODELS_DIR / folder_name(n)).is_dir()}
    if not available:
        raise RunFolderError(f"{run_dir} has no saved models; rerun with 'run --save-models'")
    if names:
        missing = [n for n in names if n not in available]
        if missing:
            raise RunFolderError(f"{run_dir} has no saved model for {', '.join(missing)} (saved: {', '.join(available)})")
        available = {n: available[n] for n in names}
    return available


def predict_rows(run_dir, texts: list[str], names: list[str] | None = None, *, indices: list[int] | None = None) -> list[dict]:
    """Per review: ``index`` (its position among the inputs, ``indices``; by default its
    position in ``texts``), ``text`` and, per saved classifier, its ``label`` (the class
    name), ``probability`` of that class and the ``probabilities`` of every class."""
    classes = load_results(run_dir)["data"]["classes"]
    indices = list(range(len(texts))) if indices is None else indices
    rows = [{"index": i, "text": text, "predictions": {}} for i, text in zip(indices, texts, strict=True)]
    plain = list(texts)
    for name, folder in saved_models(run_dir, names).items():
        clf = SentimentClassifier.load(folder)
        # The label is the classifier's own prediction (what predictions.jsonl holds): with
        # Platt scaling, the largest probability can belong to another class near the
        # decision boundary. Both come from one pass (BERT and embed encode each review once).
        labels, proba = clf.predict_with_proba(plain)
        positions = np.searchsorted(clf.classes_, labels)  # the run's classes are positions 0 to K - 1
        for row, k, p in zip(rows, positions, proba, strict=True):
            row["predictions"][name] = {
                "label": classes[k], "probability": round(float(p[k]), 6),
                "probabilities": {c: round(float(v), 6) for c, v in zip(classes, p, strict=True)},
            }
    return rows


def prediction_table(rows: list[dict]) -> str:
    """A table of each saved classifier's label and its probability for each review."""
    names = list(rows[0]["predictions"]) if rows else []
    # Class and classifier names come from the run folder: printed, never obeyed.
    def cell(prediction: dict) -> str:
        return f"{terminal_safe(prediction['label'])} {prediction['probability']:.3f}"

    cells = [[_short(row["text"]), *(cell(row["predictions"][n]) for n in names)] for row in rows]
    headers = ["review", *(f"{terminal_safe(n)} (P of the label)" for n in names)]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_runs(run_a, run_b) -> dict:
    """Metric values and differences (B - A) per classifier found in both runs.

    Returns
    -------
    dict
        ``a`` and ``b`` (run ids), ``same_split`` (same manifest hash), ``same_data``
        (same texts and labels, where both runs recorded it) and ``rows``: one
        ``{classifier, metric, a, b, delta}`` per classifier and headline metric.
    """
    a, b = load_results(run_a), load_results(run_b)
    common = [n for n in a["classifiers"] if n in b["classifiers"]]
    if not common:
        raise RunFolderError(f"{run_a} and {run_b} have no classifier in common")
    rows = []
    for name in common:
        for metric, get in HEADLINE_METRICS.items():
            va, vb = get(a["classifiers"][name]), get(b["classifiers"][name])
            rows.append({"classifier": name, "metric": metric, "a": va, "b": vb,
                         "delta": None if va is None or vb is None else vb - va})
    data_a, data_b = a["split"].get("data_sha256"), b["split"].get("data_sha256")
    return {
        "a": a["run_id"], "b": b["run_id"],
        "same_split": a["split"]["sha256"] == b["split"]["sha256"],
        "same_data": data_a is None or data_b is None or data_a == data_b,
        "rows": rows,
    }


def format_comparison(comparison: dict) -> str:
    split = "identical" if comparison["same_split"] and comparison["same_data"] else "DIFFERENT"
    # Run ids and classifier names come from the run folders: printed, never obeyed.
    header = f"A: {terminal_safe(comparison['a'])}  B: {terminal_safe(comparison['b'])}  split: {split}"
    cells = [
        [terminal_safe(r["classifier"]), r["metric"], _num(r["a"]), _num(r["b"]), "" if r["delta"] is None else f"{r['delta']:+.4f}"]
        for r in comparison["rows"]
    ]
    return header + "\n" + tabulate(cells, headers=["classifier", "metric", "A", "B", "B - A"], tablefmt="github", disable_numparse=True)


def _num(value) -> str:
    return "" if value is None else f"{value:.4f}"
