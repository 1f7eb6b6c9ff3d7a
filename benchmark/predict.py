"""Using a finished run: label new reviews with its saved models, compare two runs."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from classifiers import SentimentClassifier

from .report import ReportError, load_run
from .runner import HEADLINE_METRICS, MODELS_DIR


def read_texts(texts: list[str], file: str | None, stdin) -> list[str]:
    """Reviews from the command line, else ``file`` (one per line), else ``stdin``."""
    if texts:
        lines = texts
    elif file:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ReportError(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ReportError(f"{file} is not UTF-8 text; re-save it as UTF-8") from None
    else:
        lines = stdin.read().splitlines()
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ReportError("no reviews given: pass them as arguments, with --file, or one per line on stdin")
    return lines


def saved_models(run_dir, names: list[str] | None = None) -> dict[str, Path]:
    """Folders of the classifiers saved in ``run_dir`` (in run order)."""
    run_dir = Path(run_dir)
    results, _ = load_run(run_dir)
    available = {n: run_dir / MODELS_DIR / n for n in results["classifiers"] if (run_dir / MODELS_DIR / n).is_dir()}
    if not available:
        raise ReportError(f"{run_dir} has no saved models; rerun with 'run --save-models'")
    if names:
        missing = [n for n in names if n not in available]
        if missing:
            raise ReportError(f"{run_dir} has no saved model for {', '.join(missing)} (saved: {', '.join(available)})")
        available = {n: available[n] for n in names}
    return available


def predict_texts(run_dir, texts: list[str], names: list[str] | None = None) -> str:
    """A table of each saved classifier's label and probability for each review."""
    columns = {}
    for name, folder in saved_models(run_dir, names).items():
        proba = SentimentClassifier.load(folder).predict_proba(texts)[:, 1]
        columns[name] = [f"{'positive' if p > 0.5 else 'negative'} {p:.3f}" for p in proba]
    rows = [[_short(t), *(columns[n][i] for n in columns)] for i, t in enumerate(texts)]
    return tabulate(rows, headers=["review", *(f"{n} (P positive)" for n in columns)], tablefmt="github")


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_runs(run_a, run_b) -> tuple[str, bool]:
    """Metric values and differences (B - A) per classifier found in both runs.

    Returns
    -------
    text : str
    same_split : bool
        Whether both runs used the identical split (same manifest hash).
    """
    a, _ = load_run(run_a)
    b, _ = load_run(run_b)
    common = [n for n in a["classifiers"] if n in b["classifiers"]]
    if not common:
        raise ReportError(f"{run_a} and {run_b} have no classifier in common")
    rows = []
    for name in common:
        for metric, get in HEADLINE_METRICS.items():
            va, vb = get(a["classifiers"][name]), get(b["classifiers"][name])
            delta = None if va is None or vb is None else vb - va
            rows.append([name, metric, _num(va), _num(vb), "" if delta is None else f"{delta:+.4f}"])
    same_split = a["split"]["sha256"] == b["split"]["sha256"]
    header = f"A: {a['run_id']}  B: {b['run_id']}  split: {'identical' if same_split else 'DIFFERENT'}"
    return header + "\n" + tabulate(rows, headers=["classifier", "metric", "A", "B", "B - A"], tablefmt="github", disable_numparse=True), same_split


def _num(value) -> str:
    return "" if value is None else f"{value:.4f}"
