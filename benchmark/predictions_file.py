"""``predictions.jsonl``, the run's test predictions: written (:func:`predictions_lines`),
read back and checked (:func:`read_predictions`), in one place; and the compact text form of
predicted classes that curve points and behavioural tests store (:func:`encode_predictions`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dataset import refuse_constant

from .schema import PREDICTIONS_FILE, RunFolderError

if TYPE_CHECKING:
    from dataset import Split

__all__ = ["Predictions", "decode_predictions", "encode_predictions", "predictions_lines", "read_predictions"]


#: One character per class position (up to ``dataset.MAX_CLASSES`` classes).
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_predictions(pred: np.ndarray) -> str:
    """Predicted class positions as one character each: compact in JSON (curve points'
    test predictions, a behavioural test's predictions)."""
    return "".join(_DIGITS[v] for v in np.asarray(pred).astype(int))


def decode_predictions(text: str) -> np.ndarray:
    """The inverse of :func:`encode_predictions`."""
    return np.array([_DIGITS.index(c) for c in text], dtype=np.int64)



def predictions_lines(split: Split, predictions: dict) -> str:
    """``predictions.jsonl``: one JSON object per test review, exactly as in the data: row id
    (row in the loaded data), text, true class, its group (with ``--group-column``), and per
    classifier its predicted class and the probability of each class (class positions;
    ``results.json`` names them)."""
    lines = []
    groups = split.groups("test")
    for i, (row, text, label) in enumerate(zip(split.test.tolist(), split.texts("test"), split.labels("test").tolist(), strict=True)):
        lines.append(json.dumps({
            "row_id": row, "text": text, "label": label, **({} if groups is None else {"group": groups[i]}),
            "pred": {name: int(p["pred"][i]) for name, p in predictions.items()},
            "proba": {name: [round(float(v), 6) for v in p["proba"][i]] for name, p in predictions.items()},
        }, ensure_ascii=False, allow_nan=False))
    return "".join(line + "\n" for line in lines)



@dataclass
class Predictions:
    """The test predictions of a run folder: ``predictions.jsonl``, read back and checked."""

    row_id: np.ndarray
    texts: list[str]
    labels: np.ndarray  # class positions
    pred: dict[str, np.ndarray]  # classifier -> predicted class positions
    proba: dict[str, np.ndarray]  # classifier -> (n, n_classes) probabilities
    groups: list[str] | None = None  # each review's group (a run with --group-column)

    def subset(self, names) -> dict[str, dict[str, np.ndarray]]:
        """``{name: {"pred", "proba"}}`` of ``names``: the runner's form of predictions."""
        return {n: {"pred": self.pred[n], "proba": self.proba[n]} for n in names}


def read_predictions(run_dir, names, n_classes: int) -> Predictions:
    """``predictions.jsonl`` of a run folder, checked to hold every classifier of ``names``
    with classes and probabilities of ``n_classes`` classes; a one-line error otherwise."""
    path = Path(run_dir) / PREDICTIONS_FILE
    names = list(names)
    rows, texts, labels, groups = [], [], [], []
    pred: dict[str, list] = {n: [] for n in names}
    proba: dict[str, list] = {n: [] for n in names}
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                item = json.loads(line, parse_constant=refuse_constant)
                problem = _prediction_problem(item, names, n_classes)
                if problem:
                    raise RunFolderError(f"{path} line {number}: {problem}; it is not the file sentibench wrote")
                rows.append(item["row_id"])
                texts.append(item["text"])
                labels.append(item["label"])
                groups.append(item.get("group"))
                for n in names:
                    pred[n].append(item["pred"][n])
                    proba[n].append(item["proba"][n])
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, RunFolderError):
            raise
        raise RunFolderError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    return Predictions(np.asarray(rows, dtype=np.int64), texts, np.asarray(labels, dtype=np.int64),
                       {n: np.asarray(v, dtype=np.int64) for n, v in pred.items()},
                       {n: np.asarray(v, dtype=np.float64).reshape(len(rows), n_classes) for n, v in proba.items()},
                       groups if groups and all(isinstance(g, str) for g in groups) else None)


def _prediction_problem(item, names: list[str], n_classes: int) -> str | None:
    """What is wrong with one line of ``predictions.jsonl`` (None: nothing)."""
    def is_class(v):
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_classes

    if not (isinstance(item, dict) and isinstance(item.get("row_id"), int) and isinstance(item.get("text"), str)
            and is_class(item.get("label")) and isinstance(item.get("pred"), dict) and isinstance(item.get("proba"), dict)):
        return "not a test review with row_id, text, label, pred and proba"
    for n in names:
        p = item["proba"].get(n)
        if not is_class(item["pred"].get(n)):
            return f"no valid prediction of {n!r}"
        if not (isinstance(p, list) and len(p) == n_classes
                and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in p)):
            return f"no valid probabilities of {n!r}"
    return None
