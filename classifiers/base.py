"""The interface every sentibench classifier implements.

A classifier is a scikit-learn estimator over raw review texts: hyperparameters go in
``__init__`` (no logic there), ``fit(texts, labels, validation=None)`` learns attributes
ending in ``_`` and returns ``self``, and ``predict``/``predict_proba``/
``decision_function`` take a list, numpy array or pandas Series of ``str``.
Labels are ``0`` (negative) and ``1`` (positive).

Saved models are folders with a ``sentibench.json`` metadata file next to the
classifier's own files, written in formats that do not execute code when loaded.
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.utils.validation import check_is_fitted

from dataset import SentibenchError, atomic_write_bytes

logger = logging.getLogger(__name__)

#: Version of the on-disk model folder layout; a folder with another major version is refused.
FORMAT_VERSION = 1
METADATA_FILE = "sentibench.json"


class ModelFileError(SentibenchError, ValueError):
    """A saved model folder is missing, incomplete or from an incompatible version."""


def check_texts(texts, *, argument: str = "texts") -> list[str]:
    """Validate review texts and return them as a list of ``str``.

    Parameters
    ----------
    texts : list, tuple, numpy array or pandas Series of str
        The reviews.
    argument : str, default="texts"
        Name used in error messages.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``texts`` is not a sequence of ``str`` (a single ``str`` included).
    """
    kind = type(texts).__name__
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{argument} must be a list, numpy array or pandas Series of str, got a single "
            f"{kind}; wrap one review in a list: [text]"
        )
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise TypeError(f"{argument} must be 1-dimensional, got an array of shape {texts.shape}")
        values = texts.tolist()
    elif type(texts).__module__.startswith("pandas") and kind == "Series":
        values = texts.tolist()
    elif isinstance(texts, (list, tuple)):
        values = list(texts)
    else:
        raise TypeError(f"{argument} must be a list, numpy array or pandas Series of str, got {kind}")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TypeError(
                f"{argument}[{i}] is {type(value).__name__} ({value!r:.40}), expected str"
            )
    return values


def check_labels(labels, n_texts: int, *, require_both: bool = True) -> np.ndarray:
    """Validate binary labels (0 = negative, 1 = positive) for ``n_texts`` texts."""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-dimensional, got shape {y.shape}")
    if len(y) != n_texts:
        raise ValueError(f"texts and labels have different lengths: {n_texts} != {len(y)}")
    if n_texts == 0 and require_both:
        raise ValueError("cannot fit on 0 texts")
    try:
        y_int = y.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"labels must be 0 (negative) or 1 (positive), got values like {y[:3]!r}") from None
    if not np.array_equal(y_int, y) or not np.isin(y_int, (0, 1)).all():
        bad = sorted(set(np.unique(y).tolist()) - {0, 1})[:5]
        raise ValueError(f"labels must be 0 (negative) or 1 (positive), got {bad}")
    if require_both and len(np.unique(y_int)) < 2:
        raise ValueError(f"labels contain a single class ({int(y_int[0])}); need both 0 and 1 to fit")
    return y_int


def fit_platt(scores, y) -> tuple[float, float]:
    """Fit sigmoid calibration ``p = 1 / (1 + exp(-(a * score + b)))`` (Platt, 1999).

    This is what scikit-learn's ``CalibratedClassifierCV(method="sigmoid")`` does; here it
    is fitted on held-out scores (the validation split) so calibration costs no refit.

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
    a, b = coef
    p1 = 1.0 / (1.0 + np.exp(-(a * np.asarray(scores, dtype=np.float64) + b)))
    return np.column_stack([1.0 - p1, p1])


def calibration_scores(estimator, X_train, y_train, X_val=None, y_val=None):
    """Held-out decision scores and labels to fit :func:`fit_platt` on.

    The fitted ``estimator`` scores the validation features when they hold both classes;
    otherwise 3-fold cross-validated scores of clones on the training features are used
    (scikit-learn's ``cross_val_predict``), so calibration is never fitted on scores of
    items the model was trained on.
    """
    if y_val is not None and len(np.unique(y_val)) == 2:
        return estimator.decision_function(X_val), y_val
    folds = int(min(3, np.bincount(y_train).min()))
    if folds < 2:
        raise ValueError("need at least 2 examples of each class to calibrate probabilities")
    scores = cross_val_predict(clone(estimator), X_train, y_train, cv=folds, method="decision_function")
    return scores, y_train


def skops_dump(obj, path: Path) -> None:
    """Save scikit-learn objects with skops, a format that does not run code on load."""
    import skops.io as sio

    atomic_write_bytes(path, sio.dumps(obj))


def skops_load(path: Path, allowed: frozenset[str]):
    """Load a skops file, refusing any type outside ``allowed`` and skops' own defaults.

    skops reports the types it would have to trust beyond its safe defaults; loading a
    file that asks for anything else (a file we did not write) raises ModelFileError.
    """
    import skops.io as sio

    data = Path(path).read_bytes()
    untrusted = sio.get_untrusted_types(data=data)
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise ModelFileError(f"{path} asks to load untrusted types {refused}; refusing (not written by sentibench?)")
    return sio.loads(data, trusted=untrusted)


class SentimentClassifier(ClassifierMixin, BaseEstimator):
    """Base class of sentibench's binary sentiment classifiers.

    Subclasses set ``name`` and implement ``_fit``, ``_decision_function``,
    ``_predict_proba``, ``_save_files`` and ``_load_files``. Everything a user calls
    (input checks, label checks, ``predict``, ``save``/``load``) lives here, once.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        Always ``[0, 1]``: 0 is negative, 1 is positive.
    """

    #: Short name used by the registry and the command line.
    name: ClassVar[str] = ""
    #: Files ``_save_files`` writes, checked by ``load`` so that a broken folder fails early.
    model_files: ClassVar[tuple[str, ...]] = ()

    # -- public API -------------------------------------------------------------------

    def fit(self, texts, labels, validation=None):
        """Fit the classifier.

        Parameters
        ----------
        texts : list, numpy array or pandas Series of str of shape (n_samples,)
            Training reviews.
        labels : array-like of shape (n_samples,)
            0 for negative, 1 for positive.
        validation : tuple (texts, labels), optional
            Held-out data: used for probability calibration and, for BERT, model
            selection and early stopping. Never used as training data.

        Returns
        -------
        self
        """
        texts = check_texts(texts)
        y = check_labels(labels, len(texts))
        if validation is not None:
            try:
                val_texts, val_labels = validation
            except (TypeError, ValueError):
                raise TypeError("validation must be a (texts, labels) tuple or None") from None
            val_texts = check_texts(val_texts, argument="validation texts")
            val_y = check_labels(val_labels, len(val_texts), require_both=False)
            validation = (val_texts, val_y)
        self.classes_ = np.array([0, 1])
        self._fit(texts, y, validation)
        return self

    def decision_function(self, texts) -> np.ndarray:
        """Signed confidence for the positive class.

        Returns
        -------
        ndarray of shape (n_samples,)
            Positive values predict class 1.
        """
        check_is_fitted(self)
        texts = check_texts(texts)
        if not texts:
            return np.zeros(0)
        return np.asarray(self._decision_function(texts), dtype=np.float64)

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns follow ``classes_`` (negative, positive); rows sum to 1.
        """
        check_is_fitted(self)
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, 2))
        return np.asarray(self._predict_proba(texts), dtype=np.float64)

    def predict(self, texts) -> np.ndarray:
        """Predicted labels.

        Returns
        -------
        ndarray of shape (n_samples,)
            0 (negative) or 1 (positive), from the sign of ``decision_function``.
        """
        return (self.decision_function(texts) > 0).astype(np.int64)

    def save(self, path) -> Path:
        """Save the fitted classifier into the folder ``path`` (created or replaced).

        The folder is written next to its final place and renamed into it at the end,
        so an interrupted save never leaves a half-written model behind.
        """
        check_is_fitted(self)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            self._save_files(tmp)
            meta = {
                "sentibench_format": FORMAT_VERSION,
                "classifier": self.name,
                "class": type(self).__name__,
                "params": _jsonable(self.get_params()),
            }
            (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
                tmp.rename(path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path) -> "SentimentClassifier":
        """Load a classifier saved with :meth:`save`.

        ``SentimentClassifier.load`` returns whichever classifier the folder holds;
        ``BowSvmClassifier.load`` (say) also checks that it holds that kind.

        Raises
        ------
        ModelFileError
            If the folder is missing, incomplete, from another sentibench format
            version, or holds a different classifier than asked for.
        """
        from . import REGISTRY

        path = Path(path)
        meta_path = path / METADATA_FILE
        if not meta_path.is_file():
            raise ModelFileError(f"{path} is not a saved sentibench model (no {METADATA_FILE})")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            version = int(meta["sentibench_format"])
            kind = meta["classifier"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{meta_path} is not valid sentibench metadata ({exc})") from None
        if version != FORMAT_VERSION:
            raise ModelFileError(
                f"{path} was saved in model format {version}; this sentibench reads format "
                f"{FORMAT_VERSION}: retrain it or use the sentibench version that saved it"
            )
        if kind not in REGISTRY:
            raise ModelFileError(f"{path} holds unknown classifier {kind!r} (known: {', '.join(sorted(REGISTRY))})")
        target = REGISTRY[kind]
        if cls is not SentimentClassifier and not issubclass(target, cls):
            raise ModelFileError(f"{path} holds a {target.__name__}, not a {cls.__name__}")
        missing = [f for f in target.model_files if not (path / f).exists()]
        if missing:
            raise ModelFileError(f"{path} is incomplete: missing {', '.join(missing)}")
        est = target(**_params_from_json(target, meta.get("params", {})))
        est.classes_ = np.array([0, 1])
        est._load_files(path)
        return est

    # -- to implement -------------------------------------------------------------------

    def _fit(self, texts: list[str], y: np.ndarray, validation) -> None:
        raise NotImplementedError

    def _decision_function(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _save_files(self, folder: Path) -> None:
        raise NotImplementedError

    def _load_files(self, folder: Path) -> None:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def _jsonable(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _params_from_json(cls, params: dict) -> dict:
    """Undo :func:`_jsonable`: lists go back to tuples where the default is a tuple."""
    signature = inspect.signature(cls.__init__).parameters
    out = {}
    for key, value in params.items():
        if key not in signature:
            logger.warning("ignoring unknown saved parameter %s=%r", key, value)
            continue
        if isinstance(signature[key].default, tuple) and isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out
