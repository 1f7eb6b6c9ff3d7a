"""A user's own classifier in the ring: ``--classifiers bow,mypkg.module:attr``.

``attr`` is a :class:`SentimentClassifier` subclass (used as it is), or a class or a
zero-argument callable that returns a scikit-learn-compatible classifier over raw texts
(``fit(texts, y)``, ``predict``, and ``predict_proba`` or ``decision_function``), which
:class:`ExternalClassifier` wraps so that timing, metrics, latency, memory, the report
and the statistics apply to it exactly as to the built-in classifiers.

Saving stays safe: a wrapped estimator is saved with skops when every type in it is one
skops trusts (scikit-learn, numpy); otherwise, like a plugin's own SentimentClassifier,
it is not saved (loading would have to import the plugin's code) and the run says why.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
from sklearn.base import clone

from dataset import UsageError

from ._calibration import calibrated_proba, calibration_from_state, calibration_scores, calibration_state, fit_calibration
from ._persist import PROBE_REVIEW, ModelFileError, UntrustedTypes, check_estimator, check_predicts, skops_dump, skops_load
from .base import SentimentClassifier

_MODEL_FILE = "estimator.skops"
#: Types beyond skops' defaults (scikit-learn estimators, numpy) a saved estimator may hold.
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64", "numpy.int32", "numpy.float32"})


#: Training reviews whose predictions are checked after a fit (predictions outside the classes).
_PROBE_ROWS = 64
#: The review a loaded estimator's prediction is checked on.


class NotSaved(Exception):
    """A fitted classifier that sentibench cannot save without a format that runs code."""


def code_digest(spec: str) -> str | None:
    """SHA-256 of the source file of the module ``spec`` names (``None`` when it has none,
    as a module built into the interpreter): what a resumed run checks its code against."""
    module_name = spec.partition(":")[0]
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    origin = found.origin if found is not None else None
    if not origin or not os.path.isfile(origin):
        return None
    with open(origin, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def resolve(spec: str):
    """Import ``module:attr`` (code the user named on the command line or installed as a
    plugin) and return the object it names."""
    module_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r} for classifier {spec!r}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no {attr!r} (classifier {spec!r})") from None
    return obj


def make_external(spec: str, obj=None) -> SentimentClassifier:
    """The classifier ``spec`` names, as a SentimentClassifier (wrapped when it is not one)."""
    obj = resolve(spec) if obj is None else obj
    if inspect.isclass(obj) and issubclass(obj, SentimentClassifier):
        return obj()
    try:
        estimator = obj() if callable(obj) else obj
    except TypeError as exc:
        raise UsageError(f"classifier {spec!r} must be a class or a callable taking no arguments ({exc})") from None
    # get_params and set_params: each fit works on a clone (sklearn.base.clone), and --set and
    # --tune set hyperparameters (sklearn.base.BaseEstimator gives both).
    missing = [m for m in ("fit", "predict", "get_params", "set_params") if not hasattr(estimator, m)]
    if missing or not (hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")):
        raise UsageError(
            f"classifier {spec!r} gave a {type(estimator).__name__}, which lacks "
            f"{', '.join(missing) or 'predict_proba and decision_function'}; give a scikit-learn classifier over texts "
            "(subclass sklearn.base.BaseEstimator and ClassifierMixin)"
        )
    return ExternalClassifier(spec=spec, estimator=estimator)


class ExternalClassifier(SentimentClassifier):
    """A scikit-learn-compatible classifier over raw texts, behind sentibench's interface.

    The estimator is fitted on the texts and the classes' positions (0 to K - 1).
    Probabilities are its own ``predict_proba`` when it has one, else a calibration of its
    decision function fitted on the validation split, as for the built-in SVMs.

    Parameters
    ----------
    spec : str
        ``module:attr`` the classifier came from (its name in results).
    estimator : object
        The unfitted estimator (cloned at every fit).

    Attributes
    ----------
    estimator_ : the fitted estimator
    calibration_ : tuple (a, b) or None
    classes_ : ndarray of shape (n_classes,)
    """

    model_files = (_MODEL_FILE,)

    def __init__(self, *, spec=None, estimator=None):
        self.spec = spec
        self.estimator = estimator

    @property
    def name(self) -> str:
        """The spec it came from: its name in results and reports."""
        return self.spec or "external"

    def _fit(self, texts, y, validation, sample_weight):
        estimator = clone(self.estimator)
        accepts_weight = "sample_weight" in inspect.signature(estimator.fit).parameters
        if sample_weight is not None and not accepts_weight:
            raise UsageError(f"{self.spec}: its fit() takes no sample_weight")
        kwargs = {"sample_weight": sample_weight} if sample_weight is not None else {}
        self.estimator_ = estimator.fit(texts, y, **kwargs)
        self._check_classes(texts[:_PROBE_ROWS])
        self.calibration_ = None
        if not hasattr(self.estimator_, "predict_proba"):
            X_val, y_val = (validation[0], validation[1]) if validation else (None, None)
            # Cross-validated scores (no validation split) come from clones fitted with the same weights.
            scores, labels = calibration_scores(self.estimator_, texts, y, X_val, y_val, kwargs or None)
            self.calibration_ = fit_calibration(self._checked(scores, "decision_function", len(labels)), labels)

    def _check_classes(self, texts) -> None:
        """The estimator's classes must be the positions it was fitted on (0 to K - 1), and
        its predictions among them: its scores are read as columns in that order."""
        k = len(self.classes_)
        own = getattr(self.estimator_, "classes_", None)
        if own is not None and not np.array_equal(np.asarray(own).ravel(), np.arange(k)):
            raise UsageError(
                f"{self.name}: its classes_ are {np.asarray(own).ravel().tolist()[:10]} after fitting on the class positions "
                f"{list(range(k))}; sentibench cannot tell which of its scores belongs to which class"
            )
        predicted = np.unique(np.asarray(self.estimator_.predict(texts)))
        outside = [v for v in predicted.tolist() if not (isinstance(v, int | np.integer | float) and v in range(k))]
        if outside:
            raise UsageError(f"{self.name}: it predicts {outside[:5]}, outside the class positions {list(range(k))} it was fitted on")

    def _checked(self, values, method: str, n: int) -> np.ndarray:
        """The estimator's ``method`` output, refused in one line unless it has the shape
        and values sentibench's classes need (else it would be scored silently)."""
        k = len(self.classes_)
        out = np.asarray(values, dtype=np.float64)
        if method == "decision_function" and k == 2 and out.shape == (n, 1):
            out = out.ravel()
        expected = (n,) if method == "decision_function" and k == 2 else (n, k)
        problem = None
        if out.shape != expected:
            problem = f"gave shape {out.shape} for {k} classes, not {expected}"
        elif not np.isfinite(out).all():
            problem = "gave values that are not finite numbers"
        elif method == "predict_proba" and ((out < 0).any() or not np.allclose(out.sum(axis=1), 1.0, atol=1e-4)):
            problem = "gave rows that are not probabilities (non-negative, summing to 1)"
        if problem:
            raise UsageError(f"{self.name}: its {method} {problem}")
        return out

    def _decision_function(self, texts):
        if hasattr(self.estimator_, "decision_function"):
            return self._checked(self.estimator_.decision_function(texts), "decision_function", len(texts))
        proba = self._predict_proba(texts)
        return proba[:, 1] - 0.5 if proba.shape[1] == 2 else proba

    def _predict_proba(self, texts):
        if self.calibration_ is None:
            return self._checked(self.estimator_.predict_proba(texts), "predict_proba", len(texts))
        return calibrated_proba(self._decision_function(texts), self.calibration_)

    def _save_files(self, folder: Path, context: dict):
        state = {"estimator": self.estimator_, "calibration": None if self.calibration_ is None else calibration_state(self.calibration_)}
        try:
            skops_dump(state, folder / _MODEL_FILE, _ALLOWED_TYPES)
        except UntrustedTypes as exc:
            raise NotSaved(
                f"{self.spec} holds types skops does not trust ({str(exc)[:200]}); loading them would "
                "run their code, so it was not saved"
            ) from None

    def _load_files(self, folder: Path):
        path = folder / _MODEL_FILE
        state = skops_load(path, _ALLOWED_TYPES)
        try:
            self.estimator_ = state["estimator"]
            calibration = state["calibration"]
            self.calibration_ = None if calibration is None else calibration_from_state(calibration, len(self.classes_))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ModelFileError(f"{path} does not hold a saved external estimator") from None
        if not hasattr(self.estimator_, "predict"):
            raise ModelFileError(f"{path} does not hold an estimator")
        if not (hasattr(self.estimator_, "predict_proba") or hasattr(self.estimator_, "decision_function")) or (
                self.calibration_ is not None and not hasattr(self.estimator_, "decision_function")):
            # Platt scaling needs decision values; without either method nothing gives a score.
            raise ModelFileError(f"{path} holds an estimator that cannot score reviews as saved")
        check_estimator(self.estimator_, path)
        self.estimator = clone(self.estimator_)  # unfitted, for a later fit
        try:
            self._check_classes([PROBE_REVIEW])
        except UsageError as exc:
            raise ModelFileError(f"{path} holds an estimator that does not score its classes ({exc})") from None
        check_predicts(self, path)
