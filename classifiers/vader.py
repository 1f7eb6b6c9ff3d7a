"""VADER: a sentiment lexicon and rules, no model trained. Can labels be skipped?

VADER (Hutto and Gilbert, ICWSM 2014; PyPI ``vaderSentiment``) scores a text by a
hand-made lexicon and rules for negation, intensifiers and punctuation: its *compound*
score lies in [-1, 1]. Nothing is learned from the reviews but where to cut that score
into the K classes (K - 1 thresholds) and how confident a score is (a calibration).
"""

from __future__ import annotations

import json
import logging
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import Interval

from dataset import atomic_write_text, json_text

from ._calibration import calibrated_proba, calibration_from_state, calibration_state, fit_calibration
from ._persist import ModelFileError, state_file
from .base import SentimentClassifier

logger = logging.getLogger(__name__)

_STATE_FILE = "vader.json"


class VaderClassifier(SentimentClassifier):
    """The VADER compound score, cut into K ordered classes by thresholds chosen on labels.

    ``fit`` scores the training reviews with VADER and chooses the K - 1 thresholds on the
    **training split** that give the most (weighted) correct training reviews (exactly, by
    dynamic programming over quantile bins of the score); the validation split is not used
    for them. The classes are put in order from most negative to most positive: numeric or
    boolean labels (star ratings, 0/1) in their sorted order; other labels (``"neg"``,
    ``"neutral"``, ``"pos"``) by their mean compound score on the training reviews.

    ``decision_function`` is ``compound - threshold`` for two classes (sign flipped when the
    order puts ``classes_[0]`` on the positive side) and, above, minus the distance of the
    compound score to each class's interval (0 inside it). ``predict_proba`` is a calibration
    of these decision values, fitted on the validation split when it holds every class,
    else on the training reviews (their thresholds were chosen there, so it is a little
    overconfident then): Platt's sigmoid for two classes, a multinomial logistic regression
    on the K values above (see ``classifiers._calibration``).

    Parameters
    ----------
    bins : int, default=200
        Quantile bins of the training scores that thresholds may fall between.
    max_chars : int, default=5000
        Characters of each review that VADER reads (the rest is cut, as BERT cuts at
        ``max_length`` tokens): its rules take time quadratic in the length of a text,
        0.05 s for 5,000 characters and 4 s for 50,000.

    Attributes
    ----------
    order_ : ndarray of shape (n_classes,)
        Class positions (into ``classes_``) from most negative to most positive.
    thresholds_ : ndarray of shape (n_classes - 1,)
        Increasing compound-score cuts between consecutive classes of ``order_``.
    calibration_ : tuple (a, b) or dict
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from classifiers import VaderClassifier
    >>> clf = VaderClassifier().fit(["I loved it", "awful food"], [1, 0])
    >>> clf.predict(["What a great place!"]).tolist()
    [1]
    """

    name = "vader"
    model_files = (_STATE_FILE,)
    _parameter_constraints = {"bins": [Interval(Integral, 2, 10_000, closed="both")],
                              "max_chars": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, bins=200, max_chars=5000):
        self.bins = bins
        self.max_chars = max_chars

    def _analyzer(self):
        if getattr(self, "_vader", None) is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = SentimentIntensityAnalyzer()
        return self._vader

    def compound(self, texts) -> np.ndarray:
        """VADER's compound score of each text, in [-1, 1]; ndarray of shape (n_samples,)."""
        scores, cut = self._analyzer().polarity_scores, int(self.max_chars)
        return np.fromiter((scores(t[:cut])["compound"] for t in texts), dtype=np.float64, count=len(texts))

    def _fit(self, texts, y, validation, sample_weight):
        k = len(self.classes_)
        s = self.compound(texts)
        w = np.ones(len(s)) if sample_weight is None else sample_weight
        self.order_ = self._class_order(s, y, w)
        rank = np.empty(k, dtype=np.int64)
        rank[self.order_] = np.arange(k)
        self.thresholds_ = best_thresholds(s, rank[y], w, k, int(self.bins))
        if validation is not None and len(np.unique(validation[1])) == k:
            s, y = self.compound(validation[0]), validation[1]
        self.calibration_ = fit_calibration(self._decision_of(s), y)

    def _class_order(self, s, y, w) -> np.ndarray:
        if self.classes_.dtype.kind in "biuf":
            return np.arange(len(self.classes_))
        totals = np.bincount(y, weights=w * s, minlength=len(self.classes_))
        counts = np.bincount(y, weights=w, minlength=len(self.classes_))
        return np.argsort(totals / np.maximum(counts, 1e-12), kind="stable")

    def _decision_of(self, s: np.ndarray) -> np.ndarray:
        t = self.thresholds_
        if len(self.classes_) == 2:
            return (s - t[0]) if self.order_[1] == 1 else (t[0] - s)
        lo = np.concatenate([[-np.inf], t])  # interval of the class at each rank
        hi = np.concatenate([t, [np.inf]])
        by_rank = -np.maximum(np.maximum(lo[None, :] - s[:, None], s[:, None] - hi[None, :]), 0.0)
        out = np.empty_like(by_rank)
        out[:, self.order_] = by_rank
        return out

    def _decision_function(self, texts):
        return self._decision_of(self.compound(texts))

    def _predict_proba(self, texts):
        return calibrated_proba(self._decision_function(texts), self.calibration_)

    def _decision_and_proba(self, texts):
        d = self._decision_function(texts)
        return d, calibrated_proba(d, self.calibration_)

    def extra_record(self, test=None) -> dict:
        return {"thresholds": {"class_order": self.classes_[self.order_].tolist(), "compound_cuts": self.thresholds_.tolist()}}

    def _save_files(self, folder: Path, context: dict):
        from importlib.metadata import version

        state = {"order": self.order_.tolist(), "thresholds": self.thresholds_.tolist(),
                 "calibration": calibration_state(self.calibration_), "vaderSentiment": version("vaderSentiment")}
        atomic_write_text(folder / _STATE_FILE, json_text(state, indent=2))

    def _load_files(self, folder: Path):
        path = folder / _STATE_FILE
        k = len(self.classes_)
        with state_file(path):
            state = json.loads(path.read_text(encoding="utf-8"))
            order = np.asarray(state["order"], dtype=np.int64)
            thresholds = np.asarray(state["thresholds"], dtype=np.float64)
            calibration = calibration_from_state(state["calibration"], k)
        if sorted(order.tolist()) != list(range(k)) or thresholds.shape != (k - 1,) or not (
                np.isfinite(thresholds).all() and np.all(np.diff(thresholds) >= 0)):
            raise ModelFileError(f"{path} does not hold an order of the {k} classes and {k - 1} increasing thresholds")
        self.order_, self.thresholds_, self.calibration_ = order, thresholds, calibration

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_vader", None)  # the lexicon, read again from the package on demand
        return state


def candidate_cuts(s: np.ndarray, bins: int) -> np.ndarray:
    """Increasing cuts a threshold may take: between quantile bins of ``s``, and one below
    and one above every score (a class left empty)."""
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)[1:-1]))
    inner = (edges[:-1] + edges[1:]) / 2 if len(edges) > 1 else edges
    return np.unique(np.concatenate([[s.min() - 1.0], inner, [s.max() + 1.0]]))


def best_thresholds(s: np.ndarray, rank: np.ndarray, w: np.ndarray, k: int, bins: int) -> np.ndarray:
    """The ``k - 1`` increasing cuts of scores ``s`` that put the most weight ``w`` in its
    class ``rank`` (0 to k - 1, lowest scores first), among cuts between quantile bins.

    Dynamic programming over the bins: ``best[c, j]`` is the largest weight correctly
    placed when bins ``0..j-1`` go to classes ``0..c``. A class may be left empty.
    """
    cuts = candidate_cuts(s, bins)
    m = len(cuts) - 1  # bins between consecutive cuts
    counts = np.zeros((m, k))
    np.add.at(counts, (np.clip(np.searchsorted(cuts, s, side="right") - 1, 0, m - 1), rank), w)
    prefix = np.vstack([np.zeros(k), np.cumsum(counts, axis=0)])  # prefix[j, c]: weight of class c in bins < j
    best = prefix[:, 0].copy()
    back = np.zeros((k, m + 1), dtype=np.int64)
    for c in range(1, k):
        # best_new[j] = max over i <= j of best[i] + prefix[j, c] - prefix[i, c]
        gain = best - prefix[:, c]
        arg = np.zeros(m + 1, dtype=np.int64)
        for j in range(1, m + 1):
            arg[j] = j if gain[j] >= gain[arg[j - 1]] else arg[j - 1]
        back[c] = arg
        best = gain[arg] + prefix[:, c]
    splits, j = [], m
    for c in range(k - 1, 0, -1):
        j = back[c, j]
        splits.append(j)
    return cuts[np.asarray(splits[::-1], dtype=np.int64)]
