"""A classifier on the behavioural tests: its predictions, which cases fail, the failure rate
with a Wilson interval, and McNemar's test between classifiers on the same cases.

A minimum-functionality case fails when the predicted class is not what the case expects;
an invariance case when the perturbed review's predicted class differs from the original's;
a directional case when the watched score (:class:`~.polarity.Polarity`) moves the wrong way
by more than the tolerance.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import norm

from ..predictions_file import decode_predictions, encode_predictions
from ..stats import pairwise_mcnemar
from .polarity import Polarity

__all__ = ["failures", "pairwise", "score_classifier", "wilson_interval"]

#: Confidence of every failure-rate interval.
CONFIDENCE = 0.95
def wilson_interval(failures: int, cases: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Wilson's score interval of a proportion (``None`` without cases).

    Unlike the normal approximation it stays within [0, 1] and does not collapse to a point
    at 0 or n failures, which behavioural tests often reach.
    """
    if cases == 0:
        return None
    z = float(norm.ppf(0.5 + confidence / 2))
    p = failures / cases
    denominator = 1 + z * z / cases
    centre = (p + z * z / (2 * cases)) / denominator
    half = z / denominator * float(np.sqrt(p * (1 - p) / cases + z * z / (4 * cases * cases)))
    return max(0.0, centre - half), min(1.0, centre + half)


def _positions(clf, texts: list[str]) -> np.ndarray:
    """Predicted classes as positions in ``clf.classes_`` (a run's classes are 0 to K - 1)."""
    return np.searchsorted(np.asarray(clf.classes_), np.asarray(clf.predict(texts)))


def failures(test: dict, result: dict, original: dict, polarity: Polarity) -> np.ndarray:
    """Which cases of ``test`` (an entry of ``robustness.json["tests"]``) fail, from a
    classifier's predictions on them (``result``) and on the sampled reviews (``original``)."""
    pred = decode_predictions(result["pred"])
    if test["kind"] == "mft":
        out = np.zeros(len(pred), dtype=bool)
        expects = np.array([c["expect"] for c in test["cases"]], dtype=object)
        for expectation in dict.fromkeys(expects.tolist()):
            mask = expects == expectation
            out[mask] = polarity.failed(expectation, pred[mask])
        return out
    rows = np.array([c["review"] for c in test["cases"]], dtype=np.int64)
    if test["kind"] == "inv":
        return pred != decode_predictions(original["pred"])[rows]
    change = np.asarray(result["score"], dtype=float) - np.asarray(original["score"], dtype=float)[rows]
    return change > polarity.tolerance if test["must_not"] == "rise" else change < -polarity.tolerance


def _distinct_texts(originals: list[str], tests: list[dict]) -> list[str]:
    """The sampled reviews, then every case's text, each once and in first-seen order."""
    return list(dict.fromkeys([*originals, *(c["text"] for t in tests for c in t["cases"])]))


def _predict(clf, texts: list[str]) -> dict:
    """Text -> predicted class position."""
    return dict(zip(texts, _positions(clf, texts).tolist(), strict=True)) if texts else {}


def _score(clf, texts: list[str], polarity: Polarity) -> dict:
    """Text -> directional score (rounded to 6 places)."""
    return dict(zip(texts, np.round(polarity.scores(clf.predict_proba(texts)), 6).tolist(), strict=True))


def _test_entry(test: dict, pred: dict, score: dict, original: dict, polarity: Polarity) -> dict:
    """One test's entry in ``robustness.json``: its failures, their rate and interval, and its predictions."""
    result = {"pred": encode_predictions([pred[c["text"]] for c in test["cases"]])}
    if test["kind"] == "dir":
        result["score"] = [score[c["text"]] for c in test["cases"]]
    failed = failures(test, result, original, polarity)
    low, high = wilson_interval(int(failed.sum()), len(failed))
    return {"cases": len(failed), "failures": int(failed.sum()), "rate": float(failed.mean()), "low": low, "high": high, **result}


def score_classifier(clf, generated: dict, polarity: Polarity) -> dict:
    """``clf`` on every case of ``generated`` (:func:`~.cases.generate`): its entry in ``robustness.json``.

    Each distinct text is predicted once (``predict``, as the run's test predictions); class
    probabilities only where a directional test needs them.

    Returns
    -------
    dict
        ``seconds`` (wall clock of the predictions), ``texts`` (distinct texts predicted),
        ``original`` (``pred``, ``score`` of the sampled reviews) and ``tests``: per test that
        ran, ``cases``, ``failures``, ``rate``, ``low``, ``high`` (Wilson 95%), ``pred`` (one
        character per case, see :func:`classes_of`) and, for directional tests, ``score``.
    """
    tests = [t for t in generated["tests"] if "skipped" not in t and t["cases"]]
    originals = generated["reviews"]["text"]
    texts = _distinct_texts(originals, tests)
    scored = _distinct_texts(originals, [t for t in tests if t["kind"] == "dir"])
    needs_score = any(t["kind"] == "dir" for t in tests)
    start = time.perf_counter()
    pred = _predict(clf, texts)
    score = _score(clf, scored, polarity) if needs_score else {}
    seconds = time.perf_counter() - start
    original = {"pred": encode_predictions([pred[t] for t in originals]), "score": [score[t] for t in originals] if needs_score else None}
    results = {}
    for test in tests:
        results[test["name"]] = _test_entry(test, pred, score, original, polarity)
    return {"seconds": round(seconds, 3), "texts": len(texts), "original": original, "tests": results}


def pairwise(robustness: dict) -> dict[str, list[dict]]:
    """Per test, McNemar's exact test between each pair of scored classifiers on the same
    cases: ``a_only`` counts cases A passes and B fails."""
    polarity = Polarity.from_json(robustness["classes"])
    scored = robustness["classifiers"]
    out = {}
    for test in robustness["tests"]:
        names = [n for n in scored if test["name"] in scored[n]["tests"]]
        failed = {n: failures(test, scored[n]["tests"][test["name"]], scored[n]["original"], polarity) for n in names}
        # A failure is a wrong prediction of the true class 0: McNemar's test on the same cases.
        pairs = pairwise_mcnemar(np.zeros(len(test["cases"]), dtype=int), {n: failed[n].astype(int) for n in names})
        if pairs:
            out[test["name"]] = pairs
    return out
