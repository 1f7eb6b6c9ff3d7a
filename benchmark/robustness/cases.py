"""The cases of a run's behavioural tests: the same run (seed, test split, suite) always gives
the same cases, whichever classifiers are scored on them and in whatever order."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .perturb import apply
from .polarity import Polarity
from .suite import Suite, Test
from .templates import case_rng, mft_cases

__all__ = ["generate"]

#: The name of the random stream that samples the test reviews (not a test's name: it has a space first).
_SAMPLE_STREAM = " test reviews"


def _skip_reason(test: Test, polarity: Polarity) -> str | None:
    if test.kind == "mft":
        return next((why for why in map(polarity.missing_for, test.expect) if why), None)
    if test.kind == "dir" and polarity.values is None:
        return polarity.missing_for("positive") or "the classes have no order from negative to positive"
    return None


def _perturbed_cases(test: Test, texts: list[str], suite: Suite, seed: int) -> list[dict]:
    """``{"review": position in the sample, "text": perturbed}`` for each sampled review it applies to."""
    rng = case_rng(seed, test.name)
    cases = []
    for i, text in enumerate(texts):
        perturbed = apply(test, text, rng, suite.lists)
        if perturbed is not None:
            cases.append({"review": i, "text": perturbed})
    return cases


def generate(suite: Suite, texts: list[str], row_ids, polarity: Polarity, seed: int) -> dict:
    """Every test's cases for a test split.

    Parameters
    ----------
    suite : Suite
    texts, row_ids : list
        The test split's reviews and their rows in the data (``predictions.jsonl``).
    polarity : Polarity
        Which tests the classes allow.
    seed : int
        The run's seed: which reviews are perturbed (at most ``suite.reviews``), how, and
        which template cases are drawn (at most ``suite.max_cases`` per test).

    Returns
    -------
    dict
        ``reviews`` (the sampled test reviews: ``row_id``, ``text``, ``of``), ``tests`` (per test
        ``name``, ``family``, ``kind``, ``description``, ``must_not``, ``cases`` and, for a test the
        classes do not allow, ``skipped``: why) and ``cases_sha256`` (of all of it).
    """
    n = len(texts)
    sample = np.sort(case_rng(seed, _SAMPLE_STREAM).choice(n, size=min(n, suite.reviews), replace=False)) if n else np.zeros(0, int)
    reviews = {"row_id": [int(row_ids[i]) for i in sample], "text": [texts[i] for i in sample], "of": n}
    tests = []
    for test in suite.tests:
        entry = {"name": test.name, "family": test.family, "kind": test.kind, "description": test.description}
        if test.kind == "dir":
            entry["must_not"] = test.must_not
        why = _skip_reason(test, polarity)
        if why:
            tests.append({**entry, "cases": [], "skipped": why})
        elif test.kind == "mft":
            tests.append({**entry, "cases": mft_cases(test, suite.lists, suite.max_cases, seed)})
        else:
            tests.append({**entry, "cases": _perturbed_cases(test, reviews["text"], suite, seed)})
    digest = hashlib.sha256(json.dumps({"reviews": reviews, "tests": tests}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return {"reviews": reviews, "tests": tests, "cases_sha256": digest}
