"""The comparison table: one row per classifier, rendered from the records alone."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from ..schema import OPTIONAL_COLUMNS, TABLE_COLUMNS, RunResults
from ..timing import format_ms

_FLOAT_FORMATS = {
    "accuracy": "{:.4f}", "f1_macro": "{:.4f}", "qwk": "{:.4f}", "mae": "{:.3f}", "roc_auc": "{:.4f}", "train_time_s": "{:.2f}",
    "throughput_per_s": "{:,.0f}", "latency_p50_ms": format_ms, "latency_p95_ms": format_ms,
    "core_s_per_million": "{:,.0f}", "gpu_s_per_million": "{:,.1f}", "price_per_million": "{:,.4f}", "ece": "{:.4f}",
    "brier": "{:.4f}", "tuning_s": "{:,.1f}",
    "fit_peak_rss_mb": "{:,.0f}", "fit_peak_gpu_mb": "{:,.0f}", "model_size_mb": "{:.1f}",
}


def _format(how, value) -> str:
    return how(value) if callable(how) else how.format(value)


def comparison_frame(results: RunResults) -> pd.DataFrame:
    """One row per classifier with the headline numbers, in run order."""
    rows = [{col: get(rec) for col, get in TABLE_COLUMNS.items()} for rec in results["classifiers"].values()]
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    # A price needs --cpu-hour-price (or --gpu-hour-price); GPU columns need a classifier on a
    # GPU; the fit note matters only when some model was not fitted on every training review.
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
