"""Behavioural tests in a run (``run --robustness``: each classifier right after it is
measured) and on a finished run's saved classifiers (``python -m benchmark robustness --run``)."""

from __future__ import annotations

import logging
from pathlib import Path

from classifiers import SentimentClassifier
from dataset import Split, UsageError

from ..predictions_file import read_predictions
from ..rundir import MODELS_DIR, RunLock
from ..schema import RunFolderError, RunResults, folder_name, load_results
from .record import add_classifier, conclude, load_robustness, start, write_robustness
from .suite import load_suite

logger = logging.getLogger(__name__)

__all__ = ["RobustnessStep", "score_saved_run"]


def _score(robustness: dict, name: str, clf) -> None:
    logger.info("%s: behavioural tests", name)
    entry = add_classifier(robustness, name, clf)
    failing = sum(1 for t in entry["tests"].values() if t["failures"])
    logger.info("%s: %d of %d behavioural tests with failures (%d texts in %.1f s)", name, failing, len(entry["tests"]),
                entry["texts"], entry["seconds"])


class RobustnessStep:
    """``run --robustness``: the run's cases, made once from its test split, and each
    classifier scored on them after it is measured; ``robustness.json`` rewritten each time.

    A resumed run keeps the classifiers already scored on the same cases; one that finished
    before the interruption but was not scored is scored from its saved model, or listed as
    not scored.
    """

    def __init__(self, run_dir: Path, results: RunResults, split: Split, suite_path: str | None):
        self.run_dir = Path(run_dir)
        self.robustness = start(results, load_suite(suite_path), split.texts("test"), split.test)
        try:
            earlier = load_robustness(self.run_dir)
        except RunFolderError as exc:
            logger.warning("%s; scoring every classifier again", exc)
            earlier = None
        if earlier and earlier["cases_sha256"] == self.robustness["cases_sha256"]:
            self.robustness["classifiers"] = earlier["classifiers"]

    def after(self, name: str, clf, results: RunResults) -> None:
        """Score ``clf`` (just measured) and rewrite ``robustness.json``."""
        _score(self.robustness, name, clf)
        write_robustness(self.run_dir, conclude(self.robustness, results.get("recommendation")))

    def finish(self, results: RunResults) -> None:
        """Score the run's classifiers that are not scored yet (a resumed run) from their saved models."""
        for name in results["classifiers"]:
            if name in self.robustness["classifiers"]:
                continue
            folder = self.run_dir / MODELS_DIR / folder_name(name)
            if folder.is_dir():
                _score(self.robustness, name, SentimentClassifier.load(folder))
            else:
                self.robustness["not_scored"][name] = "measured before the run was resumed, and not saved (--save-models)"
                logger.warning("%s was measured before the run was resumed and not saved: it has no behavioural tests", name)
        write_robustness(self.run_dir, conclude(self.robustness, results.get("recommendation")))


def score_saved_run(run_dir, suite_path: str | None = None) -> dict:
    """Score the saved classifiers of a finished run on the behavioural tests and write
    ``robustness.json`` (the caller regenerates the report, which reads it).

    ``suite_path``: a ``--robustness-suite`` file; by default the one the run was made with
    (when it was), else the built-in suite. The cases come from the run's seed and test split
    (``predictions.jsonl``): the same run gives the same cases.
    """
    from ..predict import saved_models

    run_dir = Path(run_dir)
    results = load_results(run_dir)
    if suite_path is None:
        suite_path = results["config"].get("robustness_suite")
        if suite_path is not None and not Path(suite_path).is_file():
            raise UsageError(f"{run_dir} was tested with the suite {suite_path}, which is gone; pass --robustness-suite FILE")
    suite = load_suite(suite_path)
    try:
        models = saved_models(run_dir)
    except RunFolderError as exc:
        raise RunFolderError(f"{exc}, or use 'run --robustness', which tests the classifiers as they are fitted") from None
    with RunLock(run_dir):
        predictions = read_predictions(run_dir, [], len(results["data"]["classes"]))
        robustness = start(results, suite, predictions.texts, predictions.row_id)
        for name in results["classifiers"]:
            if name in models:
                _score(robustness, name, SentimentClassifier.load(models[name]))
            else:
                robustness["not_scored"][name] = "no saved model"
        write_robustness(run_dir, conclude(robustness, results.get("recommendation")))
    return robustness
