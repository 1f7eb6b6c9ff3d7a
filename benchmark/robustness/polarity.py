"""Which class is negative, positive and neutral, and the score directional tests watch.

Polarity tests map to the most negative and most positive classes: the first and last class
when the classes are ordered (negative/neutral/positive, 1 to 5 stars, the groups of a label
map), the classes named negative and positive otherwise. Neutral tests run only where a class
is named neutral. Directional tests watch P(positive) for two classes and the expected class
value above (the expected star value for star ratings); unordered classes have no direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["TOLERANCE", "Polarity"]

#: How far the watched score may move the wrong way before a directional case fails, as a
#: share of its range (CheckList's own tolerance of 0.1 for probabilities).
TOLERANCE = 0.1
_NEGATIVE, _NEUTRAL, _POSITIVE = {"negative", "neg"}, {"neutral", "neu"}, {"positive", "pos"}


def _first_named(lowered: list[str], words: set[str], exclude: tuple = ()) -> int | None:
    """Position of the first class named one of ``words`` and not in ``exclude`` (None: no such class)."""
    return next((i for i, n in enumerate(lowered) if n in words and i not in exclude), None)


def _poles(lowered: list[str], ordinal: bool) -> tuple[int | None, int | None]:
    """Positions of the negative and positive classes: the ends when ordered, else by name."""
    if ordinal:
        return 0, len(lowered) - 1
    return _first_named(lowered, _NEGATIVE), _first_named(lowered, _POSITIVE)


def _ordinal_score(names: tuple[str, ...], class_values) -> tuple[tuple[float, ...], str]:
    """The value of each ordered class in the directional score, and what that score is."""
    if class_values is not None:
        return tuple(float(v) for v in class_values), "expected star value"
    k = len(names)
    return tuple(float(i) for i in range(k)), f"expected class (0 = {names[0]} to {k - 1} = {names[-1]})"


@dataclass(frozen=True)
class Polarity:
    """Class positions of the polarities (``None``: no such class) and the directional score."""

    names: tuple[str, ...]
    negative: int | None = None
    positive: int | None = None
    neutral: int | None = None
    values: tuple[float, ...] | None = None  # the value of each class in the directional score
    score: str | None = None  # what that score is, in words
    tolerance: float | None = None  # in the score's units

    @classmethod
    def of(cls, classes, ordinal: bool = False, class_values=None) -> Polarity:
        """The polarity of a run's classes (``results.json["data"]``: classes, ordinal, class_values)."""
        names = tuple(str(c) for c in classes)
        lowered = [n.strip().lower() for n in names]
        k = len(names)
        negative, positive = _poles(lowered, ordinal)
        neutral = _first_named(lowered, _NEUTRAL, exclude=(negative, positive))
        if negative is None or positive is None:
            return cls(names, negative, positive, neutral)
        if k == 2:
            values = tuple(float(i == positive) for i in range(2))
            return cls(names, negative, positive, neutral, values, f"P({names[positive]})", TOLERANCE)
        if not ordinal:
            return cls(names, negative, positive, neutral)
        values, score = _ordinal_score(names, class_values)
        return cls(names, negative, positive, neutral, values, score, TOLERANCE * (max(values) - min(values)))

    def missing_for(self, expectation: str) -> str | None:
        """Why a case expecting ``expectation`` cannot be judged with these classes (None: it can)."""
        if expectation == "neutral" and self.neutral is None:
            return "no class is named neutral"
        if self.negative is None or self.positive is None:
            return f"the classes ({', '.join(self.names)}) are not known as negative and positive (use --label-map)"
        return None

    def failed(self, expectation: str, pred: np.ndarray) -> np.ndarray:
        """Which predicted classes fail ``expectation``."""
        pred = np.asarray(pred)
        target = {"positive": self.positive, "negative": self.negative, "neutral": self.neutral,
                  "not negative": self.negative, "not positive": self.positive}[expectation]
        return pred == target if expectation.startswith("not ") else pred != target

    def scores(self, proba: np.ndarray) -> np.ndarray:
        """The directional score of each row of class probabilities."""
        return np.asarray(proba, dtype=float) @ np.asarray(self.values)

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> Polarity:
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})
