"""The report of a run folder: ``report.md`` and its plots, from the folder's files alone.

Everything here is computed from ``results.json`` (whose records carry their confidence
intervals, and the run its slices), ``predictions.jsonl`` (for the paired tests and the error
analysis) and ``robustness.json`` when the run has behavioural tests, with
seeded statistics and fixed plot metadata, so ``python -m benchmark report RUN_DIR``
regenerates byte-identical files without retraining.
"""

from __future__ import annotations

from pathlib import Path

from dataset import atomic_write_text, md_literal

from ..predictions_file import Predictions, read_predictions
from ..robustness.record import load_robustness
from ..rundir import csv_for_people
from ..schema import RunResults, load_results
from ..serve.measure import load_deployed
from ..stats import pairwise_mcnemar
from .markdown import render
from .tables import comparison_frame, format_table

REPORT_FILE = "report.md"
#: The same report as one self-contained page (plots inline, no scripts, nothing from elsewhere).
REPORT_PAGE = "report.html"

__all__ = ["REPORT_FILE", "REPORT_PAGE", "load_run", "write_comparison", "write_pages", "write_report"]


def write_comparison(run_dir, results: RunResults) -> None:
    """``comparison.csv`` and ``comparison.md``: one row per classifier finished so far."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / "comparison.csv", csv_for_people(comparison_frame(results)))
    status = "" if results["status"] == "complete" else f"\n\nStatus: **{results['status']}**."
    atomic_write_text(run_dir / "comparison.md",
                      f"# Comparison: run {md_literal(results['run_id'])}\n\n{format_table(results)}{status}\n")


def load_run(run_dir) -> tuple[RunResults, Predictions]:
    """``results.json`` and ``predictions.jsonl`` of a run folder, checked."""
    results = load_results(run_dir)
    return results, read_predictions(run_dir, results["classifiers"], len(results["data"]["classes"]))


def write_report(run_dir) -> Path:
    """(Re)generate ``report.md`` and its PNGs in ``run_dir``; returns the report path."""
    from .plots import make_plots  # matplotlib: imported only when a report is drawn

    run_dir = Path(run_dir)
    results, predictions = load_run(run_dir)
    mcnemar = pairwise_mcnemar(predictions.labels, {n: predictions.pred[n] for n in results["classifiers"]})
    files = make_plots(run_dir, results, predictions)
    markdown = render(results, predictions, mcnemar, files, load_robustness(run_dir), load_deployed(run_dir))
    return write_pages(run_dir, markdown, f"sentibench report: run {results['run_id']}")


def write_pages(run_dir, markdown_text: str, title: str) -> Path:
    """``report.md`` and, from it, ``report.html``; returns the Markdown file's path."""
    from .html import render_html

    run_dir = Path(run_dir)
    path = run_dir / REPORT_FILE
    atomic_write_text(path, markdown_text)
    atomic_write_text(run_dir / REPORT_PAGE, render_html(markdown_text, run_dir, title))
    return path
