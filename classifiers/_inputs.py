"""What every classifier checks of its inputs: texts, labels, sample weights; and how
decision values become class positions."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

__all__ = ["check_sample_weight", "check_texts", "decision_to_codes", "encode_labels"]

_MIXED_TYPES = "y mixes label types (e.g. str and int); use one type for both classes"


def check_texts(texts, *, argument: str = "X") -> list[str]:
    """Validate review texts and return them as a list of ``str``.

    Parameters
    ----------
    texts : list, tuple, numpy array or pandas Series of str
        The reviews.
    argument : str, default="X"
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
            raise TypeError(f"{argument}[{i}] is {type(value).__name__} ({value!r:.40}), expected str")
    return values


def _label_vector(y, n_texts: int) -> np.ndarray:
    """``y`` as a 1-dimensional array of ``n_texts`` labels, or the ``ValueError`` saying why not."""
    if not isinstance(y, np.ndarray):
        # np.asarray would turn [1, "1"] into two equal strings, silently merging the classes.
        values = np.asarray(y, dtype=object)
        if values.ndim == 1 and len({isinstance(v, str) for v in values}) > 1:
            raise ValueError(_MIXED_TYPES)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # a column vector: warn and ravel, as scikit-learn does
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if len(y) != n_texts:
        raise ValueError(f"X and y have different lengths: {n_texts} != {len(y)}")
    return y


def _unique_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct labels of ``y`` and each label's position among them."""
    try:
        check_classification_targets(y)
        return np.unique(y, return_inverse=True)
    except TypeError:
        raise ValueError(_MIXED_TYPES) from None


def _codes_in(classes: np.ndarray, found: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions of the labels ``y`` (distinct values ``found``) in the known ``classes``."""
    unknown = [v for v in found.tolist() if v not in classes.tolist()]
    if unknown:
        raise ValueError(f"validation labels {unknown[:5]} are not among the training classes {classes.tolist()}")
    return np.searchsorted(classes, y).astype(np.int64)


def encode_labels(y, n_texts: int, classes=None) -> tuple[np.ndarray, np.ndarray]:
    """Check labels and encode them as positions (0 to K - 1) in ``classes``.

    Parameters
    ----------
    y : array-like of shape (n_texts,)
        Two or more distinct labels (str, int, float with integral values, bool).
    n_texts : int
    classes : ndarray of shape (n_classes,), optional
        Known classes (validation labels must be among them); by default the sorted
        unique values of ``y``, which must be at least two.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    codes : ndarray of int64 of shape (n_texts,)
    """
    y = _label_vector(y, n_texts)
    if classes is None and n_texts == 0:
        raise ValueError("cannot fit on 0 sample(s)")
    if n_texts == 0:
        return classes, np.zeros(0, dtype=np.int64)
    found, codes = _unique_labels(y)
    if classes is None:
        if len(found) < 2:
            raise ValueError(f"y contains only one class ({found[0].item()!r}); need two classes to fit")
        return found, codes.astype(np.int64)
    return classes, _codes_in(classes, found, y)


def decision_to_codes(decision) -> np.ndarray:
    """Class positions from decision values: the sign for two classes (n,), the largest
    column above (n, n_classes), as scikit-learn's classifiers decide."""
    decision = np.asarray(decision)
    if decision.ndim == 1:
        return (decision > 0).astype(np.int64)
    return decision.argmax(axis=1).astype(np.int64)


def check_sample_weight(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim == 0:
        weights = np.full(n, float(weights))
    if weights.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    return weights
