"""Probabilities for margin classifiers: Platt's sigmoid fitted on held-out scores."""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from dataset import DataError

logger = logging.getLogger(__name__)


def fit_platt(scores, y) -> tuple[float, float]:
    """Fit sigmoid calibration ``p = 1 / (1 + exp(-(a * score + b)))`` (Platt, 1999).

    Fitted by maximum likelihood on the hard 0/1 targets of held-out scores (the
    validation split), so calibration costs no refit. scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")`` fits the same curve on Platt's
    smoothed targets instead, which matters only for very small held-out sets.

    Returns
    -------
    (a, b) : tuple of float
        ``(1, 0)``, the plain sigmoid of the score, when the fitted slope is not positive.
    """
    # A large C: this is maximum-likelihood Platt scaling, not a regularised model.
    lr = LogisticRegression(C=1e6).fit(np.asarray(scores, dtype=np.float64).reshape(-1, 1), y)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    if a <= 0:
        # Held-out scores that rank the classes backwards (tiny or noisy validation
        # data) would make probabilities contradict predict(); keep the ranking instead.
        logger.warning("held-out scores do not separate the classes; using an uncalibrated sigmoid of the score")
        return 1.0, 0.0
    return a, b


def platt_proba(scores, coef: tuple[float, float]) -> np.ndarray:
    """Apply :func:`fit_platt`'s calibration; returns ndarray of shape (n_samples, 2)."""
    from scipy.special import expit

    a, b = coef
    p1 = expit(a * np.asarray(scores, dtype=np.float64) + b)
    return np.column_stack([1.0 - p1, p1])


def platt_one(score: float, coef: tuple[float, float]) -> float:
    """:func:`platt_proba`'s positive-class probability for one score, without NumPy's
    per-call overhead; never overflows (a separable validation split gives a steep slope)."""
    z = coef[0] * score + coef[1]
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def calibration_scores(estimator, X_train, y_train, X_val=None, y_val=None, fit_params=None):
    """Held-out decision scores and labels (0/1) to fit :func:`fit_platt` on.

    The fitted ``estimator`` scores the validation features when they hold both classes;
    otherwise 3-fold cross-validated scores of clones on the training features are used
    (scikit-learn's ``cross_val_predict``, with ``fit_params`` such as sample weights),
    so calibration is never fitted on scores of items the model was trained on.
    """
    if y_val is not None and len(np.unique(y_val)) == 2:
        return estimator.decision_function(X_val), y_val
    folds = int(min(3, np.bincount(y_train).min()))
    if folds < 2:
        raise DataError(
            "need at least 2 training reviews of each class to calibrate probabilities (or a validation split "
            "holding both classes)"
        )
    scores = cross_val_predict(
        clone(estimator), X_train, y_train, cv=folds, method="decision_function", params=fit_params or {}
    )
    return scores, y_train
