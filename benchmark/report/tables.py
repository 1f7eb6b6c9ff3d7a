"""The comparison table: one row per classifier, rendered from the records alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pandas as pd
from tabulate import tabulate

from ..schema import ClassifierRecord, RunResults, accuracy, latency_p50_ms, model_size_mb, train_time_s
from ..timing import format_ms


class Column(NamedTuple):
    """A column of the comparison table: its value in a record, how it is written, and
    whether it is left out when no classifier has a value in it."""

    get: Callable[[ClassifierRecord], object]
    format: str | Callable[[float], str] | None = None
    optional: bool = False


def fit_note(info: dict | None) -> str:
    """How the model was fitted when it was not simply on every training review."""
    if not info or info["rows"] == info["of_rows"] and info["method"] in ("rbf", "full"):
        return ""
    return f"{info['method']} on {info['rows']:,} of {info['of_rows']:,}"


#: Column title -> the column, declared once. A price needs --cpu-hour-price (or
#: --gpu-hour-price); GPU columns need a classifier on a GPU; the fit note matters only when
#: some model was not fitted on every training review: those are optional.
COLUMNS = {
    "classifier": Column(lambda r: r["classifier"]),
    "accuracy": Column(accuracy, "{:.4f}"),
    "f1_macro": Column(lambda r: r["metrics"]["f1_macro"], "{:.4f}"),
    "qwk": Column(lambda r: r["metrics"].get("qwk"), "{:.4f}", optional=True),
    "mae": Column(lambda r: r["metrics"].get("mae"), "{:.3f}", optional=True),
    "roc_auc": Column(lambda r: r["metrics"]["roc_auc"], "{:.4f}"),
    "train_time_s": Column(train_time_s, "{:.2f}"),
    "throughput_per_s": Column(lambda r: r["inference"]["throughput_per_s"], "{:,.0f}"),
    "latency_p50_ms": Column(latency_p50_ms, format_ms),
    "latency_p95_ms": Column(lambda r: r["inference"]["latency_p95_ms"], format_ms),
    "core_s_per_million": Column(lambda r: r["inference"].get("core_s_per_million"), "{:,.0f}"),
    "gpu_s_per_million": Column(lambda r: r["inference"].get("gpu_s_per_million"), "{:,.1f}", optional=True),
    "price_per_million": Column(lambda r: r["inference"].get("price_per_million"), "{:,.4f}", optional=True),
    "ece": Column(lambda r: r["metrics"].get("ece"), "{:.4f}"),
    "brier": Column(lambda r: r["metrics"].get("brier"), "{:.4f}"),
    "tuning_s": Column(lambda r: (r.get("tuning") or {}).get("tuning_time_s"), "{:,.1f}", optional=True),
    "fit_peak_rss_mb": Column(lambda r: r.get("memory", {}).get("fit_peak_rss_mb"), "{:,.0f}"),
    "fit_peak_gpu_mb": Column(lambda r: r.get("memory", {}).get("fit_peak_gpu_mb"), "{:,.0f}", optional=True),
    "model_size_mb": Column(model_size_mb, "{:.1f}"),
    "fit": Column(lambda r: fit_note(r.get("fit_info")), optional=True),
}


def _format(how, value) -> str:
    return how(value) if callable(how) else how.format(value)


def comparison_frame(results: RunResults) -> pd.DataFrame:
    """One row per classifier with the headline numbers, in run order."""
    rows = [{name: col.get(rec) for name, col in COLUMNS.items()} for rec in results["classifiers"].values()]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    empty = [name for name, col in COLUMNS.items()
             if col.optional and not frame[name].map(lambda v: v is not None and v != "").any()]
    return frame.drop(columns=empty)


def format_table(results: RunResults, tablefmt: str = "github") -> str:
    """The comparison table as text (``tabulate`` format ``tablefmt``)."""
    frame = comparison_frame(results)
    cells = [
        [(_format(COLUMNS[c].format, v) if COLUMNS[c].format is not None and v is not None else v) for c, v in row.items()]
        for row in frame.to_dict("records")
    ]
    return tabulate(cells, headers=list(frame.columns), tablefmt=tablefmt, disable_numparse=True)
