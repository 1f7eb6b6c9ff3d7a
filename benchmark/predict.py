"""Using a finished run: label new reviews with its saved models, compare two runs."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from classifiers import SentimentClassifier
from dataset import UsageError

from .rundir import MODELS_DIR
from .schema import HEADLINE_METRICS, RunFolderError, folder_name, load_results

#: Labels of the benchmark's 0/1 classes.
_LABELS = {0: "negative", 1: "positive"}


def read_texts(texts: list[str], file: str | None, stdin) -> list[str]:
    """Reviews from the command line, else ``file`` (one per line), else ``stdin``."""
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
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise UsageError("no reviews given: pass them as arguments, with --file, or one per line on stdin")
    return lines


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


def predict_rows(run_dir, texts: list[str], names: list[str] | None = None) -> list[dict]:
    """Per review: ``text`` and, per saved classifier, its ``label`` and ``p_positive``."""
    rows = [{"text": text, "predictions": {}} for text in texts]
    for name, folder in saved_models(run_dir, names).items():
        clf = SentimentClassifier.load(folder)
        # The label is the classifier's own prediction (what predictions.csv holds): with Platt
        # scaling, p_positive can sit on the other side of 0.5 near the decision boundary.
        # (Two passes for BERT; correctness first.)
        labels, proba = clf.predict(texts), clf.predict_proba(texts)[:, 1]
        for row, label, p in zip(rows, labels, proba, strict=True):
            row["predictions"][name] = {"label": _LABELS.get(label, str(label)), "p_positive": round(float(p), 6)}
    return rows


def prediction_table(rows: list[dict]) -> str:
    """A table of each saved classifier's label and probability for each review."""
    names = list(rows[0]["predictions"]) if rows else []
    cells = [
        [_short(row["text"]), *(f"{row['predictions'][n]['label']} {row['predictions'][n]['p_positive']:.3f}" for n in names)]
        for row in rows
    ]
    return tabulate(cells, headers=["review", *(f"{n} (P positive)" for n in names)], tablefmt="github", disable_numparse=True)


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
    header = f"A: {comparison['a']}  B: {comparison['b']}  split: {split}"
    cells = [
        [r["classifier"], r["metric"], _num(r["a"]), _num(r["b"]), "" if r["delta"] is None else f"{r['delta']:+.4f}"]
        for r in comparison["rows"]
    ]
    return header + "\n" + tabulate(cells, headers=["classifier", "metric", "A", "B", "B - A"], tablefmt="github", disable_numparse=True)


def _num(value) -> str:
    return "" if value is None else f"{value:.4f}"
