"""The files of a run folder, always written atomically.

``results.json`` is the source of truth; ``comparison.md``/``comparison.csv`` are
rendered from its records and ``predictions.csv`` holds every test prediction.
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from dataset import UsageError, atomic_write_text

from .schema import OPTIONAL_COLUMNS, PREDICTIONS_FILE, RESULTS_FILE, TABLE_COLUMNS, RunResults, SeedSummary
from .timing import format_ms

#: Sub-folder of a run folder holding the fitted classifiers (``--save-models``).
MODELS_DIR = "models"
#: Sub-folder holding per-epoch training checkpoints (removed when a classifier finishes).
CHECKPOINTS_DIR = "checkpoints"
_LOCK_FILE = ".lock"


def folder_name(name: str) -> str:
    """A classifier's name as a folder name (a ``module:attr`` spec has a colon)."""
    return re.sub(r"[^\w.-]", "_", name)


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


_FLOAT_FORMATS = {
    "accuracy": "{:.4f}", "f1_macro": "{:.4f}", "roc_auc": "{:.4f}", "train_time_s": "{:.2f}",
    "throughput_per_s": "{:,.0f}", "latency_p50_ms": format_ms, "latency_p95_ms": format_ms,
    "core_s_per_million": "{:,.0f}", "price_per_million": "{:,.4f}", "ece": "{:.4f}", "brier": "{:.4f}", "tuning_s": "{:,.1f}",
    "fit_peak_rss_mb": "{:,.0f}", "model_size_mb": "{:.1f}",
}


def _format(how, value) -> str:
    return how(value) if callable(how) else how.format(value)


def comparison_frame(results: RunResults) -> pd.DataFrame:
    """One row per classifier with the headline numbers, in run order."""
    rows = [{col: get(rec) for col, get in TABLE_COLUMNS.items()} for rec in results["classifiers"].values()]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    # A price needs --cpu-hour-price; the fit note matters only when some model was not
    # fitted on every training review.
    empty = [c for c in OPTIONAL_COLUMNS if not frame[c].map(lambda v: v is not None and v != "").any()]
    return frame.drop(columns=empty)


def format_table(results: RunResults, tablefmt: str = "github") -> str:
    """The comparison table as text (``tabulate`` format ``tablefmt``)."""
    frame = comparison_frame(results)
    cells = [
        [(_format(_FLOAT_FORMATS[c], v) if c in _FLOAT_FORMATS and v is not None else v) for c, v in row.items()]
        for row in frame.to_dict("records")
    ]
    return tabulate(cells, headers=list(frame.columns), tablefmt=tablefmt, disable_numparse=True)


def write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def predictions_frame(split, predictions: dict) -> pd.DataFrame:
    """Test row id (row in the loaded data), text, true label, then per classifier its
    prediction and probability of the positive class."""
    frame = pd.DataFrame({"row_id": split.test, "text": split.texts("test"), "label": split.labels("test")})
    for name, preds in predictions.items():
        frame[f"{name}_pred"] = preds["pred"]
        frame[f"{name}_proba"] = np.round(preds["proba"], 6)
    return frame


def _csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def write_run(run_dir: Path, results: RunResults, split, predictions: dict) -> None:
    """(Re)write every file of the run folder from the current state.

    ``results.json`` comes last: a process killed in between leaves a results file that
    claims no classifier the predictions file lacks, so ``--resume`` can continue.
    """
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / PREDICTIONS_FILE, _csv_text(predictions_frame(split, predictions)))
    atomic_write_text(run_dir / "comparison.csv", _csv_text(comparison_frame(results)))
    status = "" if results["status"] == "complete" else f"\n\nStatus: **{results['status']}**."
    atomic_write_text(
        run_dir / "comparison.md",
        f"# Comparison: run {results['run_id']}\n\n{format_table(results)}{status}\n",
    )
    write_json(run_dir / RESULTS_FILE, results)


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
        headers = ["A", "B", "A - B (points)", "t", "df", "p-value", "significant at 0.05"]
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
