"""``run --tune``: each classifier searches its own hyperparameters on the validation split.

Every classifier declares its ``search_space`` and runs its trials in ``search``, reusing
what does not change between trials (see :mod:`classifiers._search`). This module keeps
what is the run's: the time budget, the call, and the record kept in ``results.json``.
Trials fit on the training part and are scored on the validation part only: the test split
is used once, after the choice, by the final fit in :func:`~benchmark.measure.run_one`.
"""

from __future__ import annotations

import logging

import numpy as np

from classifiers import SentimentClassifier
from classifiers._search import Scorer, SearchBudget, accuracy
from dataset import DataError

from .stats import score_by

logger = logging.getLogger(__name__)


def scorer(metric: str, n_classes: int) -> Scorer:
    """``score(y_true, y_pred)`` of a validation split by ``metric`` (higher is better)."""
    if metric == "accuracy":
        return accuracy  # BERT reads its validation accuracy from its training history
    # QWK is undefined when a trial predicts one class only: it then ranks below every other.
    return lambda y_true, y_pred: float(np.nan_to_num(score_by(metric, y_true, y_pred, n_classes), nan=-1.0))


def tune(name: str, prototype: SentimentClassifier, train, validation, budget_s: float,
         metric: str = "accuracy") -> tuple[dict, dict]:
    """Search ``prototype``'s hyperparameters; returns (chosen params, tuning record).

    Parameters
    ----------
    name : str
        The classifier's name in the run (for messages).
    prototype : SentimentClassifier
        The classifier with the run's hyperparameters (the first candidate of the search).
    train, validation : (texts, labels)
        The only data a search sees.
    budget_s : float
        Seconds the search may take.
    metric : {"accuracy", "f1_macro", "qwk"}
        What a trial's validation score is.
    """
    if not prototype.search_space:
        return {}, {"skipped": f"no search space for {name}"}
    budget = SearchBudget(budget_s)
    trials = prototype.search(train, validation, budget, scorer(metric, len(np.unique(np.asarray(train[1])))))
    if not trials:
        raise DataError(f"{name}: no candidate of the search could be fitted on this training split")
    # The run's own values come first unless they could not be fitted (e.g. min_df on tiny data).
    own = {k: list(v) if isinstance(v, tuple) else v for k, v in prototype.get_params(deep=False).items()}
    default = next((t for t in trials if all(own.get(k) == v for k, v in t["params"].items())), None)
    best = max(trials, key=lambda t: (t["val_score"], -trials.index(t)))
    record = {
        "metric": metric,
        "space": {k: [list(v) if isinstance(v, tuple) else v for v in values] for k, values in prototype.search_space.items()},
        "trials": trials,
        "chosen": best["params"],
        "default_val_score": None if default is None else default["val_score"],
        "tuned_val_score": best["val_score"],
        "tuning_time_s": budget.elapsed(),
        "budget_s": budget_s,
        "complete": not budget.stopped,  # every candidate tried (else stopped by the budget)
    }
    logger.info("%s tuned: validation score %.4f (defaults %s) with %s; %d trials in %.0f s",
                name, best["val_score"], "not fitted" if default is None else f"{default['val_score']:.4f}",
                best["params"], len(trials), record["tuning_time_s"])
    return dict(best["params"]), record
