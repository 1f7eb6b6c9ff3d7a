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
        if ordinal:
            negative, positive = 0, k - 1
        else:
            negative = next((i for i, n in enumerate(lowered) if n in _NEGATIVE), None)
            positive = next((i for i, n in enumerate(lowered) if n in _POSITIVE), None)
        neutral = next((i for i, n in enumerate(lowered) if n in _NEUTRAL and i not in (negative, positive)), None)
        if negative is None or positive is None:
            return cls(names, negative, positive, neutral)
        if k == 2:
            values = tuple(float(i == positive) for i in range(2))
            return cls(names, negative, positive, neutral, values, f"P({names[positive]})", TOLERANCE)
        if not ordinal:
            return cls(names, negative, positive, neutral)
        if class_values is not None:
            values = tuple(float(v) for v in class_values)
            score = "expected star value"
        else:
            values = tuple(float(i) for i in range(k))
            score = f"expected class (0 = {names[0]} to {k - 1} = {names[-1]})"
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
