"""``robustness.json``: the behavioural tests of a run folder, their cases, and each classifier
on them. Rewritten (atomically) after each classifier is scored; read back and checked here.

Its shape::

    format             ROBUSTNESS_FORMAT
    run_id, seed       the run it belongs to; the seed that drew the cases
    suite              source (built-in, a file), sha256, max_cases, reviews
    classes            Polarity.to_json(): which class is negative, positive, neutral, the directional score
    reviews            the sampled test reviews: row_id, text, of (test reviews sampled from)
    tests              per test: name, family, kind, description, must_not (dir), cases, skipped (why)
    cases_sha256       of reviews and tests: the same run gives the same cases
    classifiers        name -> seconds, texts, original {pred, score}, tests {name -> cases, failures,
                       rate, low, high (Wilson 95%), pred, score (dir)}
    not_scored         name -> why (no saved model, say)
    pairs              test -> [{a, b, a_only, b_only, p_value}]: McNemar on the same cases
    recommendation     classifier, other, gaps, notes: gaps.robustness_gaps and its sentences
"""

from __future__ import annotations

import json
from pathlib import Path

from dataset import atomic_write_json

from ..schema import ROBUSTNESS_FILE, RunFolderError
from .cases import generate
from .gaps import robustness_gaps, robustness_sentences
from .polarity import Polarity
from .score import pairwise, score_classifier
from .suite import Suite

__all__ = ["ROBUSTNESS_FILE", "ROBUSTNESS_FORMAT", "add_classifier", "conclude", "load_robustness", "start", "write_robustness"]

ROBUSTNESS_FORMAT = 1
_REQUIRED = {"run_id": str, "seed": int, "suite": dict, "classes": dict, "reviews": dict, "tests": list,
             "cases_sha256": str, "classifiers": dict}


def start(results: dict, suite: Suite, texts: list[str], row_ids) -> dict:
    """A new ``robustness.json`` for a run (its ``results.json``) and test split: the cases, no classifier yet."""
    data = results["data"]
    polarity = Polarity.of(data["classes"], data.get("ordinal", False), data.get("class_values"))
    seed = results["config"]["seed"]
    return {"format": ROBUSTNESS_FORMAT, "run_id": results["run_id"], "seed": seed, "suite": suite.to_json(),
            "classes": polarity.to_json(), **generate(suite, texts, row_ids, polarity, seed), "classifiers": {},
            "not_scored": {}}


def add_classifier(robustness: dict, name: str, clf) -> dict:
    """Score ``clf`` on the cases and keep it under ``name``; returns its entry."""
    entry = score_classifier(clf, robustness, Polarity.from_json(robustness["classes"]))
    robustness["classifiers"][name] = entry
    robustness["not_scored"].pop(name, None)
    return entry


def conclude(robustness: dict, recommendation: dict | None) -> dict:
    """The between-classifier parts from the entries so far: McNemar per test and pair, and
    the sentences the recommendation gains (``recommendation``: ``results.json``'s)."""
    robustness["pairs"] = pairwise(robustness)
    gaps = robustness_gaps(recommendation or {}, robustness["tests"], robustness["classifiers"], robustness["pairs"])
    robustness["recommendation"] = {**gaps, "notes": robustness_sentences(gaps)} if gaps else None
    return robustness


def write_robustness(run_dir, robustness: dict) -> Path:
    path = Path(run_dir) / ROBUSTNESS_FILE
    atomic_write_json(path, robustness)
    return path


def load_robustness(run_dir) -> dict | None:
    """``RUN_DIR/robustness.json`` checked (``None`` when the run has none); a one-line error when it is not usable."""
    path = Path(run_dir) / ROBUSTNESS_FILE
    if not path.is_file():
        return None
    try:
        robustness = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunFolderError(f"cannot read {path}: {exc}") from None
    if not isinstance(robustness, dict) or robustness.get("format") != ROBUSTNESS_FORMAT:
        raise RunFolderError(f"{path} is not a robustness file this sentibench reads (format {ROBUSTNESS_FORMAT}); "
                             "run 'python -m benchmark robustness --run RUN_DIR' again")
    for key, kind in _REQUIRED.items():
        if not isinstance(robustness.get(key), kind):
            raise RunFolderError(f"{path} is not a complete robustness file (no valid '{key}')")
    names = {t.get("name") for t in robustness["tests"] if isinstance(t, dict)}
    for name, entry in robustness["classifiers"].items():
        if not (isinstance(entry, dict) and isinstance(entry.get("tests"), dict) and set(entry["tests"]) <= names
                and isinstance(entry.get("original"), dict)):
            raise RunFolderError(f"{path}: the entry of {name!r} is not a scored classifier")
    return robustness
