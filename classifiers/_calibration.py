"""Probabilities for margin classifiers, fitted on held-out decision values.

Two classes: Platt's sigmoid of the decision value. More classes: a multinomial logistic
regression on the K decision values (a linear map and a softmax; "matrix scaling"), which
had the lowest cross-validated validation log-loss of the candidates measured for both
SVMs on star ratings and negative/neutral/positive (docs/design.md).
"""

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
    """Held-out decision scores and labels (class positions) to fit :func:`fit_calibration` on.

    The fitted ``estimator`` scores the validation features when they hold every class;
    otherwise 3-fold cross-validated scores of clones on the training features are used
    (scikit-learn's ``cross_val_predict``, with ``fit_params`` such as sample weights),
    so calibration is never fitted on scores of items the model was trained on.
    """
    n_classes = int(np.max(y_train)) + 1
    if y_val is not None and len(np.unique(y_val)) == n_classes:
        return estimator.decision_function(X_val), y_val
    folds = int(min(3, np.bincount(y_train, minlength=n_classes).min()))
    if folds < 2:
        raise DataError(
            "need at least 2 training reviews of each class to calibrate probabilities (or a validation split "
            "holding every class)"
        )
    scores = cross_val_predict(
        clone(estimator), X_train, y_train, cv=folds, method="decision_function", params=fit_params or {}
    )
    return scores, y_train


def fit_calibration(scores, y):
    """Calibration of held-out decision ``scores`` (n,) for two classes, (n, K) above.

    Returns
    -------
    tuple (a, b), for two classes (:func:`fit_platt`), or dict
        ``{"coef": K x K, "intercept": K}`` of the multinomial logistic regression on the
        decision values, as lists (saved as JSON-like values).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        return fit_platt(scores, y)
    # C=1: a little regularisation keeps K x K weights from fitting a small validation split's noise.
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(scores, y)
    return {"coef": lr.coef_.tolist(), "intercept": lr.intercept_.tolist()}


def calibrated_proba(scores, calibration) -> np.ndarray:
    """Class probabilities of decision ``scores`` under a :func:`fit_calibration` result; (n, K)."""
    if not isinstance(calibration, dict):
        return platt_proba(scores, calibration)
    from scipy.special import softmax

    z = np.asarray(scores, dtype=np.float64) @ np.asarray(calibration["coef"]).T + np.asarray(calibration["intercept"])
    return softmax(z, axis=1)


def calibration_state(calibration):
    """The calibration as plain lists (for a saved model)."""
    return calibration if isinstance(calibration, dict) else list(calibration)


def calibration_from_state(state, n_classes: int):
    """The inverse of :func:`calibration_state`, checked; ``ValueError`` when it does not fit ``n_classes``."""
    if n_classes == 2:
        a, b = float(state[0]), float(state[1])
        return a, b
    coef, intercept = np.asarray(state["coef"], dtype=np.float64), np.asarray(state["intercept"], dtype=np.float64)
    if coef.shape != (n_classes, n_classes) or intercept.shape != (n_classes,) or not np.isfinite(coef).all():
        raise ValueError("calibration does not fit the classes")
    return {"coef": coef.tolist(), "intercept": intercept.tolist()}


def decision_logits(d: np.ndarray) -> np.ndarray:
    """Logits of the decision values ``d``: ``[-d/2, d/2]`` for two classes (their softmax is
    the sigmoid of ``d``), ``d`` itself above two."""
    return np.column_stack([-d / 2, d / 2]) if d.ndim == 1 else d


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """The softmax of each row of ``z``."""
    from scipy.special import softmax

    return softmax(z, axis=1)
