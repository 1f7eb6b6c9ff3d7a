"""A run folder: its name, its lock, and its files, always written atomically.

``results.json`` is the source of truth and ``predictions.jsonl`` holds every test
prediction (``predictions.csv`` is its copy for people); :mod:`benchmark.report` renders
the rest from them.
"""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dataset import Split, UsageError, atomic_write_json, atomic_write_text

from .schema import PREDICTIONS_FILE, PREDICTIONS_TABLE, RESULTS_FILE, RunResults

#: Sub-folder of a run folder holding the fitted classifiers (``--save-models``).
MODELS_DIR = "models"
#: Sub-folder holding per-epoch training checkpoints (removed when a classifier finishes).
CHECKPOINTS_DIR = "checkpoints"
_LOCK_FILE = ".lock"


def new_run_dir(parent, name: str, suffix: str = "") -> Path:
    """Create ``parent/<UTC timestamp>-<name><suffix>`` and return it; never reuses a folder.

    Safe when several processes create run folders at once: the folder is claimed by
    ``mkdir`` itself, and a name already taken moves on to ``-2``, ``-3``, ...
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--output {parent} is a file, not a folder; pass a folder (default results/)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {parent}: {exc.strerror or exc}; pass a writable --output") from None
    n = 1
    while True:
        candidate = parent / f"{stamp}-{name}{'' if n == 1 else f'-{n}'}{suffix}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
        except OSError as exc:
            raise UsageError(f"cannot create a run folder in {parent}: {exc.strerror or exc}; pass a writable --output") from None


class RunLock:
    """An exclusive lock on a run folder while a process writes it.

    ``flock`` on ``RUN_DIR/.lock``: the kernel releases it when the process ends, even
    after ``kill -9``, so a crashed run never leaves the folder locked. A second
    process (a second ``--resume`` of the same folder) is refused with one line.
    """

    def __init__(self, run_dir):
        self.path = Path(run_dir) / _LOCK_FILE
        self._fd: int | None = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
            return self
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise UsageError(f"{self.path.parent} is in use by another sentibench process; wait for it to finish") from None
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
        return False

def discard_if_unused(run_dir) -> None:
    """Remove a run folder that nothing was written to (only its lock file, if any): a
    run that stopped at a mistake in its input leaves no empty folder behind."""
    run_dir = Path(run_dir)
    try:
        if {p.name for p in run_dir.iterdir()} <= {_LOCK_FILE}:
            (run_dir / _LOCK_FILE).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass  # gone already, or something was written after all: keep it


#: A cell a spreadsheet would read as a formula (or as the start of one).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


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


def predictions_table(split: Split, predictions: dict) -> pd.DataFrame:
    """``predictions.csv``, for people: class names, and every text cell that a spreadsheet
    would run as a formula starting with ``'`` (the exact texts are in ``predictions.jsonl``)."""
    classes = split.data.classes
    frame = pd.DataFrame({"row_id": split.test, "text": [spreadsheet_safe(t) for t in split.texts("test")],
                          "label": [spreadsheet_safe(classes[k]) for k in split.labels("test")]})
    if split.data.groups is not None:
        frame["group"] = [spreadsheet_safe(g) for g in split.groups("test")]
    for name, preds in predictions.items():
        frame[name] = [spreadsheet_safe(classes[k]) for k in preds["pred"]]
        for k, cls in enumerate(classes):
            frame[f"{name} P({cls})"] = np.round(preds["proba"][:, k], 6)
    frame.columns = [spreadsheet_safe(str(c)) for c in frame.columns]
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_run(run_dir: Path, results: RunResults, split: Split, predictions: dict) -> None:
    """(Re)write the run's data files from the current state.

    ``results.json`` comes last: a process killed in between leaves a results file that
    claims no classifier the predictions file lacks, so ``--resume`` can continue.
    """
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / PREDICTIONS_TABLE, csv_text(predictions_table(split, predictions)))
    atomic_write_text(run_dir / PREDICTIONS_FILE, predictions_lines(split, predictions))
    atomic_write_json(run_dir / RESULTS_FILE, results)
