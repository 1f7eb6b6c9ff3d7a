"""A run folder: its name, its lock, and its files, always written atomically.

``results.json`` is the source of truth and ``predictions.csv`` holds every test
prediction; :mod:`benchmark.report` renders the rest from them.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dataset import UsageError, atomic_write_json, atomic_write_text

from .schema import PREDICTIONS_FILE, RESULTS_FILE, RunResults

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


def predictions_frame(split, predictions: dict) -> pd.DataFrame:
    """Test row id (row in the loaded data), text, true label, then per classifier its
    prediction and probability of the positive class."""
    frame = pd.DataFrame({"row_id": split.test, "text": split.texts("test"), "label": split.labels("test")})
    for name, preds in predictions.items():
        frame[f"{name}_pred"] = preds["pred"]
        frame[f"{name}_proba"] = np.round(preds["proba"], 6)
    return frame


def csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_run(run_dir: Path, results: RunResults, split, predictions: dict) -> None:
    """(Re)write every file of the run folder from the current state.

    ``results.json`` comes last: a process killed in between leaves a results file that
    claims no classifier the predictions file lacks, so ``--resume`` can continue.
    """
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / PREDICTIONS_FILE, csv_text(predictions_frame(split, predictions)))
    atomic_write_json(run_dir / RESULTS_FILE, results)
