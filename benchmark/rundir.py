"""A run folder: its name, its lock, and its files, always written atomically.

``results.json`` is the source of truth and ``predictions.jsonl`` holds every test
prediction (``predictions.csv`` is its copy for people); :mod:`benchmark.report` renders
the rest from them.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dataset import Split, UsageError, atomic_write_json, atomic_write_text

from .predictions_file import predictions_lines
from .schema import CURVE_FILE, PREDICTIONS_FILE, PREDICTIONS_TABLE, RESULTS_FILE, RunFolderError, RunResults

#: Sub-folder of a run folder holding the fitted classifiers (``--save-models``).
MODELS_DIR = "models"
#: Sub-folder holding per-epoch training checkpoints (removed when a classifier finishes).
CHECKPOINTS_DIR = "checkpoints"
_LOCK_FILE = ".lock"

logger = logging.getLogger(__name__)


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

    Every write into a run folder happens under this lock, so taking it is also where an
    existing folder (``existing=True``: ``--resume``) is checked and tidied: the lock file
    is opened without following a link, a folder holding a link (or a pipe, a device)
    anywhere is refused in one line, since sentibench would otherwise write or read
    through it, and the temporary files a killed process left (``.NAME.*.tmp`` files and
    model folders, ``.NAME.old`` model folders) are removed: no live process can be
    writing them while the lock is held.
    """

    def __init__(self, run_dir, *, existing: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / _LOCK_FILE
        self.existing = existing
        #: Leftovers of a killed process removed when the lock was taken (relative paths).
        self.removed: list[str] = []
        self._fd: int | None = None

    def __enter__(self):
        if self.existing and not any(os.path.lexists(self.run_dir / name) for name in _RUN_FOLDER_MARKS):
            raise RunFolderError(f"{self.run_dir} is not a run folder (no {RESULTS_FILE}); pass a folder under results/")
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, no check
            return self
        try:
            # O_NOFOLLOW: a crafted folder's .lock linking elsewhere must not create its target.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if os.path.islink(self.path):
                raise RunFolderError(f"{self.path} is a symbolic link; {_NO_LINKS}") from None
            raise RunFolderError(f"cannot lock {self.run_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._close()
            raise UsageError(f"{self.run_dir} is in use by another sentibench process; wait for it to finish") from None
        if self.existing:
            try:
                refuse_links(self.run_dir)
                self.removed = remove_leftovers(self.run_dir)
            except BaseException:
                self._close()
                raise
        return self

    def __exit__(self, *exc):
        self._close()
        return False

    def _close(self):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


#: Names of which one is in every folder sentibench made (the lock file from the start;
#: the others in folders of versions before it, and ``summary.json`` of ``--seeds``).
_RUN_FOLDER_MARKS = (_LOCK_FILE, RESULTS_FILE, CURVE_FILE, "summary.json")
_NO_LINKS = ("sentibench never follows links in a run folder (it would write through them); replace the link "
             "with the file or folder itself, or start a new run")
#: A temporary file or model folder of an atomic write (``.NAME.XXXXXXXX.tmp``), or the
#: earlier model a save moves aside (``.NAME.old``).
_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp|\..+\.old")


def refuse_links(run_dir) -> None:
    """Raise :class:`RunFolderError` when anything inside ``run_dir`` is a symbolic link or
    neither a regular file nor a folder (a pipe would block a read, a device is no file)."""
    for folder, entries in _walk(Path(run_dir)):
        for entry in entries:
            if entry.is_symlink():
                raise RunFolderError(f"{Path(folder) / entry.name} is a symbolic link; {_NO_LINKS}")
            if not (entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)):
                raise RunFolderError(f"{Path(folder) / entry.name} is neither a file nor a folder; remove it, or start a new run")


def remove_leftovers(run_dir) -> list[str]:
    """Delete what an atomic write or a model save killed halfway left in ``run_dir`` (at the
    top, in ``models/`` and in ``checkpoints/NAME/``); returns their paths relative to it.

    Only call this while holding the folder's lock: a live writer's temporary file has the
    same name. Links were refused before (:func:`refuse_links`), so nothing outside the
    folder is touched.
    """
    run_dir = Path(run_dir)
    removed = []
    for folder, entries in _walk(run_dir):
        for entry in entries:
            if not _LEFTOVER.fullmatch(entry.name):
                continue
            path = Path(folder) / entry.name
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(str(path.relative_to(run_dir)))
    if removed:
        logger.info("removed what a killed run left half-written in %s: %s", run_dir, ", ".join(removed))
    return removed


def _walk(top: Path):
    """``(folder, entries)`` of ``top`` and every sub-folder, links never followed; a sub-folder
    is listed before its contents (so removing it skips them)."""
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: e.name)
    yield top, entries
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and not _LEFTOVER.fullmatch(entry.name):
            yield from _walk(Path(entry.path))


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


def discard_run(run_dir) -> None:
    """Remove a run folder this process made and in which nothing finished (its files and
    empty ``models/``, ``checkpoints/``), so that a run that failed at once leaves no
    folder, as a bad input does."""
    shutil.rmtree(run_dir, ignore_errors=True)


#: A cell a spreadsheet would read as a formula (or as the start of one).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


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


def csv_for_people(frame: pd.DataFrame) -> str:
    """``frame`` as a CSV meant for a spreadsheet (``comparison.csv``, ``learning_curve.csv``):
    a text cell or column title that a spreadsheet would run as a formula starts with ``'``
    (a classifier's name, a fit note: anything read back from a run folder); numbers stay
    numbers. The exact values are in the JSON files beside it."""
    safe = frame.rename(columns=lambda c: spreadsheet_safe(str(c)))
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(lambda v: spreadsheet_safe(v) if isinstance(v, str) else v)
    return csv_text(safe)


def write_run(run_dir: Path, results: RunResults, split: Split, predictions: dict) -> None:
    """(Re)write the run's data files from the current state.

    ``results.json`` comes last: a process killed in between leaves a results file that
    claims no classifier the predictions file lacks, so ``--resume`` can continue.
    """
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / PREDICTIONS_TABLE, csv_text(predictions_table(split, predictions)))
    atomic_write_text(run_dir / PREDICTIONS_FILE, predictions_lines(split, predictions))
    atomic_write_json(run_dir / RESULTS_FILE, results)
