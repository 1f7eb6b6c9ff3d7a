"""What a classifier needs to search its own hyperparameters (``run --tune``).

Each classifier declares its ``search_space`` and runs its trials in ``search``, sharing
what does not change between trials (scikit-learn's ``BaseSearchCV._run_search`` shape);
the benchmark keeps only the time budget, the loop over classifiers and the record. A
search sees the training and validation parts only, and tries the classifier's own
hyperparameters first, so tuning never returns something that scores worse on validation
than what it started from.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import numpy as np

logger = logging.getLogger(__name__)

#: ``score(y_true, y_pred) -> float``, higher is better (validation accuracy by default).
Scorer = Callable[[np.ndarray, np.ndarray], float]


def accuracy(y_true, y_pred) -> float:
    return float((np.asarray(y_pred) == np.asarray(y_true)).mean())


def task_score(classes: np.ndarray) -> tuple[str, Scorer]:
    """The score a default is chosen by on validation, as the run's default metric: quadratic
    weighted kappa for three or more numbered classes (stars, in order), macro-F1 otherwise."""
    from sklearn.metrics import cohen_kappa_score, f1_score

    if len(classes) >= 3 and np.asarray(classes).dtype.kind in "biuf":
        return "qwk", lambda t, p: float(cohen_kappa_score(t, p, weights="quadratic"))
    return "f1_macro", lambda t, p: float(f1_score(t, p, average="macro"))


class SearchBudget:
    """Seconds a search may take; a trial starts only when one more (as long as the mean
    trial so far) still fits. Once it says no, it keeps saying no."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.perf_counter()
        self.durations: list[float] = []
        self.stopped = False

    def allows_another(self) -> bool:
        spent = time.perf_counter() - self.start
        mean = float(np.mean(self.durations)) if self.durations else 0.0
        self.stopped = self.stopped or spent + mean > self.seconds
        return not self.stopped

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class Trials:
    """The trials of one search, in the order they ran: each its parameters, validation
    score and seconds (its share of the set-up it reused included)."""

    def __init__(self, name: str, budget: SearchBudget, total: int):
        self.name, self.budget, self.total = name, budget, total
        self.records: list[dict] = []

    def allows_another(self) -> bool:
        """The first trial always runs; later ones only within the budget."""
        return not self.records or self.budget.allows_another()

    def add(self, params: dict, score: float, seconds: float) -> None:
        self.budget.durations.append(seconds)
        self.records.append({"params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
                             "val_score": float(score), "seconds": float(seconds)})
        # A log line per trial that took a second or more (a search can run for minutes).
        logger.log(logging.INFO if seconds >= 1 else logging.DEBUG,
                   "%s: trial %d of %d: validation score %.4f in %.1f s (best so far %.4f)", self.name, len(self.records),
                   self.total, score, seconds, max(t["val_score"] for t in self.records))


def defaults_first(default, candidates: Iterable) -> list:
    """``default`` followed by every other candidate, in order."""
    return [default] + [c for c in candidates if c != default]
