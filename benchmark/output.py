"""The files of a run folder, always written atomically.

``results.json`` is the source of truth; ``comparison.md``/``comparison.csv`` are
rendered from its records and ``predictions.csv`` holds every test prediction.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from dataset import atomic_write_text

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.csv"

#: Column title -> function of a classifier record.
TABLE_COLUMNS = {
    "classifier": lambda r: r["classifier"],
    "accuracy": lambda r: r["metrics"]["accuracy"],
    "f1_macro": lambda r: r["metrics"]["f1_macro"],
    "roc_auc": lambda r: r["metrics"]["roc_auc"],
    "train_time_s": lambda r: r["train_time_s"],
    "throughput_per_s": lambda r: r["inference"]["throughput_per_s"],
    "latency_p50_ms": lambda r: r["inference"]["latency_p50_ms"],
    "latency_p95_ms": lambda r: r["inference"]["latency_p95_ms"],
    "fit_peak_rss_mb": lambda r: r.get("memory", {}).get("fit_peak_rss_mb"),
    "model_size_mb": lambda r: r.get("model_size_mb"),
    "fit": lambda r: _fit_note(r.get("fit_info")),
}
_FLOAT_FORMATS = {
    "accuracy": "{:.4f}", "f1_macro": "{:.4f}", "roc_auc": "{:.4f}", "train_time_s": "{:.2f}",
    "throughput_per_s": "{:,.0f}", "latency_p50_ms": "{:.2f}", "latency_p95_ms": "{:.2f}",
    "fit_peak_rss_mb": "{:,.0f}", "model_size_mb": "{:.1f}",
}


def _fit_note(info: dict | None) -> str:
    """How the model was fitted when it was not simply on every training review."""
    if not info or info["rows"] == info["of_rows"] and info["method"] in ("rbf", "full"):
        return ""
    return f"{info['method']} on {info['rows']:,} of {info['of_rows']:,}"


def comparison_frame(results: dict) -> pd.DataFrame:
    """One row per classifier with the headline numbers, in run order."""
    rows = [{col: get(rec) for col, get in TABLE_COLUMNS.items()} for rec in results["classifiers"].values()]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    # The fit note only matters when some model was not fitted on every training review.
    return frame if frame["fit"].astype(bool).any() else frame.drop(columns="fit")


def format_table(results: dict, tablefmt: str = "github") -> str:
    """The comparison table as text (``tabulate`` format ``tablefmt``)."""
    frame = comparison_frame(results)
    cells = [
        [(_FLOAT_FORMATS[c].format(v) if c in _FLOAT_FORMATS and v is not None else v) for c, v in row.items()]
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


def write_run(run_dir: Path, results: dict, split, predictions: dict) -> None:
    """(Re)write every file of the run folder from the current state."""
    run_dir = Path(run_dir)
    write_json(run_dir / RESULTS_FILE, results)
    atomic_write_text(run_dir / PREDICTIONS_FILE, _csv_text(predictions_frame(split, predictions)))
    atomic_write_text(run_dir / "comparison.csv", _csv_text(comparison_frame(results)))
    status = "" if results["status"] == "complete" else f"\n\nStatus: **{results['status']}**."
    atomic_write_text(
        run_dir / "comparison.md",
        f"# Comparison: run {results['run_id']}\n\n{format_table(results)}{status}\n",
    )


def format_seed_summary(summary: dict) -> str:
    """Markdown table of mean ± standard deviation per classifier and metric over seeds."""
    metrics = list(next(iter(summary["metrics"].values()), {}))
    rows = [
        [name] + [f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" for k in metrics]
        for name, m in summary["metrics"].items()
    ]
    runs = ", ".join(f"seed {s}: `{d}`" for s, d in summary["runs"].items())
    return (
        f"# Comparison over seeds {', '.join(map(str, summary['seeds']))}\n\n"
        f"Mean ± sample standard deviation over {len(summary['runs'])} runs ({summary['status']}).\n\n"
        f"{tabulate(rows, headers=['classifier', *metrics], tablefmt='github', disable_numparse=True)}\n\n"
        f"Per-seed runs: {runs}\n"
    )
