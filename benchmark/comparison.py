"""A run folder seen from Python: what :func:`benchmark.compare` returns and
:meth:`Comparison.load` reads back.

Everything here is read from the run folder's own files (``results.json``,
``predictions.jsonl``, ``report.html``, ``models/``) through the readers and the report code
the command line uses, so a notebook shows the numbers, digits and pages ``run`` and
``report`` write. Review text is never markup: the inline page is ``report.html``'s own body,
rendered with raw HTML switched off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dataset import UsageError

__all__ = ["Comparison", "Recommendation"]

#: The content of report.html's ``<main>``: what a notebook shows inline.
_MAIN = re.compile(r"<main>\n?(.*)</main>", re.DOTALL)


@dataclass(frozen=True)
class Recommendation:
    """The run's recommendation: ``classifier`` (``None`` when none fits the budgets), the
    ``reason`` (the sentence the command line prints) and ``details`` (the whole record of
    ``results.json``: budgets, runner-up, difference with its CI, McNemar's p...)."""

    classifier: str | None
    reason: str
    details: dict = field(repr=False)

    def __str__(self) -> str:
        return self.reason


class Comparison:
    """The classifiers of one run folder, compared.

    Parameters
    ----------
    run_dir : path
        A run folder written by ``python -m benchmark run`` or :func:`benchmark.compare`.
    fitted : dict, optional
        Estimators fitted in this process (name -> classifier); the others are loaded from
        the folder's ``models/`` when it has them.
    keep : object, optional
        Whatever must live as long as this object (the temporary folder of ``output=None``).
    """

    def __init__(self, run_dir, *, fitted: dict | None = None, keep=None):
        from .report import load_run

        self.run_dir = Path(run_dir)
        self.results, self._predictions = load_run(self.run_dir)
        self._fitted = {n: c for n, c in (fitted or {}).items() if n in self.results["classifiers"]}
        self._keep = keep

    @classmethod
    def load(cls, run_dir) -> Comparison:
        """The comparison of a run folder, finished or interrupted."""
        return cls(run_dir)

    def __repr__(self) -> str:
        return f"Comparison({str(self.run_dir)!r}: {', '.join(self.results['classifiers']) or 'no classifier'}, " \
               f"{self.results['status']})"

    @property
    def status(self) -> str:
        """``complete``, ``interrupted``, ``running`` or ``failed: NAME``."""
        return self.results["status"]

    @property
    def table(self):
        """The comparison table (a pandas DataFrame, one row per classifier, in run order):
        the columns of ``comparison.csv`` with each metric's bootstrap 95% CI beside it
        (``accuracy_low``, ``accuracy_high``, ``f1_macro_low``...)."""
        from .report.tables import comparison_frame

        frame = comparison_frame(self.results)
        records = list(self.results["classifiers"].values())
        for metric in ("f1_macro", "accuracy"):  # inserted right after their metric
            at = list(frame.columns).index(metric) + 1
            for side in ("high", "low"):
                frame.insert(at, f"{metric}_{side}", [r["ci"].get(metric, {}).get(side) for r in records])
        return frame.set_index("classifier")

    @property
    def recommendation(self) -> Recommendation | None:
        """The recommendation of the run (``None`` before any classifier finished)."""
        rec = self.results.get("recommendation")
        if not rec:
            return None
        return Recommendation(rec.get("classifier"), rec.get("reason", ""), dict(rec))

    @property
    def predictions(self):
        """Every test review with its true class and each classifier's predicted class and
        probabilities (a pandas DataFrame; the exact texts of ``predictions.jsonl``)."""
        import pandas as pd

        p, classes = self._predictions, self.results["data"]["classes"]
        frame = pd.DataFrame({"row_id": p.row_id, "text": p.texts, "label": [classes[k] for k in p.labels]})
        if p.groups is not None:
            frame["group"] = p.groups
        for name in self.results["classifiers"]:
            frame[name] = [classes[k] for k in p.pred[name]]
            for k, cls in enumerate(classes):
                frame[f"{name} P({cls})"] = p.proba[name][:, k]
        return frame

    @property
    def classifiers(self) -> dict:
        """The fitted classifiers, by name: from memory for the ones this process fitted, else
        loaded from the run's ``models/`` (a run with ``save_models=True``)."""
        from classifiers import SentimentClassifier

        from .rundir import MODELS_DIR
        from .schema import folder_name

        fitted = {}
        for name in self.results["classifiers"]:
            if name in self._fitted:
                fitted[name] = self._fitted[name]
                continue
            path = self.run_dir / MODELS_DIR / folder_name(name)
            if not path.is_dir():
                raise UsageError(f"{name} was not fitted in this session and {self.run_dir} keeps no model of it; run "
                                 "compare(..., save_models=True) to keep the fitted classifiers")
            fitted[name] = SentimentClassifier.load(path)
        return fitted

    def plot(self, kind: str = "tradeoff", classifier: str | None = None):
        """A figure of the report, as a matplotlib Figure (not saved, not left open in pyplot).

        Parameters
        ----------
        kind : {"tradeoff", "reliability", "roc", "confusion", "learning"}
            ``confusion`` and ``learning`` (BERT's epochs) are per classifier.
        classifier : str, optional
            The classifier of a per-classifier kind; ``None``: a dict name -> figure of
            every classifier that has one.

        Returns
        -------
        matplotlib.figure.Figure or dict of str to Figure
        """
        from .report.plots import FIGURE_KINDS, run_figure

        if kind not in FIGURE_KINDS:
            raise UsageError(f"no plot {kind!r}; choose from: {', '.join(FIGURE_KINDS)}")
        names = list(self.results["classifiers"])
        if classifier is not None and classifier not in names:
            raise UsageError(f"{classifier!r} is not in this run; it has: {', '.join(names)}")
        if kind in ("confusion", "learning"):
            figures = {n: _detached(run_figure(self.results, self._predictions, kind, n))
                       for n in ([classifier] if classifier else names)}
            figures = {n: f for n, f in figures.items() if f is not None}
            if classifier is None:
                return figures
            if not figures:
                raise UsageError(f"{classifier} has no {kind} plot (no per-epoch history)")
            return figures[classifier]
        if not names:
            raise UsageError("no classifier has finished in this run; there is nothing to plot")
        figure = _detached(run_figure(self.results, self._predictions, kind))
        if figure is None:
            raise UsageError("a ROC curve needs two classes, each present in the test split")
        return figure

    def robustness(self, suite: str | None = None):
        """The behavioural tests of the run's saved models (``save_models=True``), as
        ``python -m benchmark robustness RUN_DIR`` runs them: ``robustness.json`` and the report
        are written again; the failure rates with Wilson 95% CIs come back as a DataFrame.
        ``suite``: a ``--robustness-suite`` file (default: the run's own, or the built-in one)."""
        from .notebook_studies import run_robustness

        return run_robustness(self.run_dir, suite)

    def report_html(self) -> str:
        """``report.html`` of the run (written again from the folder when it is missing)."""
        from .report import REPORT_PAGE, write_report

        page = self.run_dir / REPORT_PAGE
        if not page.is_file():
            write_report(self.run_dir)
        return page.read_text(encoding="utf-8")

    def _repr_html_(self) -> str:
        """The report page inline: the body of ``report.html``, byte for byte (escaped as it
        is: raw HTML off, review text as text), without its page-wide styles."""
        return report_main(self.report_html())


def report_main(page: str) -> str:
    """The ``<main>`` of a report page, byte for byte, in a ``div`` (without the page-wide styles)."""
    found = _MAIN.search(page)
    body = found.group(1) if found else ""
    return f'<div class="sentibench-report">\n{body}</div>\n'


def _detached(figure):
    """``figure`` closed in pyplot, so a notebook shows it once: as the value returned."""
    if figure is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return figure
