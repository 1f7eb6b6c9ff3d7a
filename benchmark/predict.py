"""Using a finished run: label new reviews with its saved models, compare two runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np
from tabulate import tabulate

from classifiers import SentimentClassifier
from dataset import UsageError, terminal_safe

from .rundir import MODELS_DIR
from .schema import HEADLINE_METRICS, RunFolderError, folder_name, load_results

#: Reviews labelled at a time: memory stays flat in the number of input lines (each chunk is
#: read, labelled and written before the next is read), and BERT and embed batch within it.
CHUNK = 1000


def read_texts(texts: list[str], file: str | None, stdin) -> list[tuple[int, str]]:
    """All of :func:`iter_texts` at once (for callers that want a list)."""
    kept = list(iter_texts(texts, file, stdin))
    if not kept:
        raise UsageError(NO_REVIEWS)
    return kept


NO_REVIEWS = "no reviews given: pass them as arguments, with --file, or one per line on stdin"


def iter_texts(texts: list[str], file: str | None, stdin) -> Iterator[tuple[int, str]]:
    """Reviews from the command line, else ``file`` (one per line), else ``stdin``, each with
    its position among the inputs (line number - 1 for a file), read lazily.

    A line ends at ``\\n`` (or ``\\r\\n``) and nowhere else: NEL (U+0085), U+2028, form feeds
    and vertical tabs are characters of a review, as they are in scraped text, so that the
    positions always match the input's line numbers. Blank lines are skipped.
    """
    if texts:
        lines: Iterator[str] = iter(texts)
    elif file:
        lines = _file_lines(file)
    else:
        # The bytes under sys.stdin (its text layer would also split on a lone \r); a
        # text stream without them (a test's StringIO) splits on \n only.
        lines = _lines_of(stdin.buffer, "stdin") if hasattr(stdin, "buffer") else iter(stdin)
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            yield i, line


def _file_lines(file: str) -> Iterator[str]:
    try:
        handle = open(file, "rb")  # noqa: SIM115 - closed by the generator below
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    with handle:
        yield from _lines_of(handle, file)


def _lines_of(handle, name: str) -> Iterator[str]:
    """Lines of a binary stream, split on ``b"\\n"`` only (text mode would also split on
    ``\\r`` alone, and ``str.splitlines`` on NEL, U+2028 and form feeds)."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8").removesuffix("\n")
        except UnicodeDecodeError:
            raise UsageError(f"{name} is not UTF-8 text (line {number}); re-save it as UTF-8") from None


def chunks(numbered: Iterable[tuple[int, str]], size: int | None = None) -> Iterator[list[tuple[int, str]]]:
    """``numbered`` in lists of at most ``size`` (default :data:`CHUNK`)."""
    size = size or CHUNK
    iterator = iter(numbered)
    while chunk := list(islice(iterator, size)):
        yield chunk


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


class Labeller:
    """The saved classifiers of ``run_dir`` (``names``, by default all), each loaded once,
    labelling reviews chunk after chunk."""

    def __init__(self, run_dir, names: list[str] | None = None):
        self.classes = load_results(run_dir)["data"]["classes"]
        self.models = {name: SentimentClassifier.load(folder) for name, folder in saved_models(run_dir, names).items()}

    def rows(self, texts: list[str], indices: list[int] | None = None, *, with_text: bool = True) -> list[dict]:
        """Per review: ``index`` (its position among the inputs, ``indices``; by default
        its position in ``texts``), ``text`` (unless ``with_text`` is false) and, per
        classifier, its ``label`` (the class name), ``probability`` of that class and the
        ``probabilities`` of every class."""
        indices = list(range(len(texts))) if indices is None else indices
        rows = [{"index": i, "text": text, "predictions": {}} if with_text else {"index": i, "predictions": {}}
                for i, text in zip(indices, texts, strict=True)]
        classes = self.classes
        for name, clf in self.models.items():
            # The label is the classifier's own prediction (what predictions.jsonl holds): with
            # Platt scaling, the largest probability can belong to another class near the
            # decision boundary. Both come from one pass (BERT and embed encode each review once).
            labels, proba = clf.predict_with_proba(list(texts))
            positions = np.searchsorted(clf.classes_, labels)  # the run's classes are positions 0 to K - 1
            for row, k, p in zip(rows, positions, proba, strict=True):
                row["predictions"][name] = {
                    "label": classes[k], "probability": round(float(p[k]), 6),
                    "probabilities": {c: round(float(v), 6) for c, v in zip(classes, p, strict=True)},
                }
        return rows


def predict_rows(run_dir, texts: list[str], names: list[str] | None = None, *, indices: list[int] | None = None) -> list[dict]:
    """:meth:`Labeller.rows` of ``texts`` with the saved classifiers ``names`` of ``run_dir``."""
    return Labeller(run_dir, names).rows(texts, indices)


def prediction_table(rows: list[dict]) -> str:
    """A table of each saved classifier's label and its probability for each review."""
    names = list(rows[0]["predictions"]) if rows else []
    # Class and classifier names come from the run folder: printed, never obeyed.
    def cell(prediction: dict) -> str:
        return f"{terminal_safe(prediction['label'])} {prediction['probability']:.3f}"

    # Without the texts (--no-text), each answer is named by its line.
    first = ("review", lambda row: _short(row["text"])) if rows and "text" in rows[0] else ("line", lambda row: str(row["index"] + 1))
    cells = [[first[1](row), *(cell(row["predictions"][n]) for n in names)] for row in rows]
    headers = [first[0], *(f"{terminal_safe(n)} (P of the label)" for n in names)]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def _short(text: str, limit: int = 70) -> str:
    # A review is data: its escape sequences are shown, never obeyed by the terminal.
    text = terminal_safe(" ".join(text.split()))
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
