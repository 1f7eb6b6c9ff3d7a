"""Units of work: one fit plus its measurement, a pure function of the run's data and a task.

A task names everything the unit depends on: the classifier with its hyperparameters and
seed (an unfitted prototype), the run's reviews among the data (its sample) and the index
arrays of its split, or of a learning-curve sample. A unit returns its record and touches no
file of the run folder: the process that started the run writes what units return (see
:mod:`benchmark.schedule` and :mod:`benchmark.curve`), so the same task gives the same record
whether it ran here, in a local worker process or on a Dask worker. The one exception is a unit
run in the process that owns the run folder (the sequential engine of a plain run): nothing else
runs then, so it times its predictions as it finishes and saves a kept model (and BERT's epoch
checkpoints) straight into the folder.

``run --tune`` searches inside a unit: a classifier's search shares what does not change
between its trials (a TF-IDF matrix per vectorizer setting, Word2Vec vectors, one encoder
pass) and is bounded by wall-clock time, so its trials stay together; searches of different
classifiers and seeds run in parallel.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from classifiers import SentimentClassifier
from dataset import ReviewData, Split

from .measure import Measurement, run_one
from .predictions_file import decode_predictions, encode_predictions
from .schema import ClassifierRecord, CurvePoint
from .stats import Classes, finite_or_none, score_by
from .tune import tune

logger = logging.getLogger(__name__)

__all__ = ["FitTask", "FitResult", "PointTask", "measure_unit", "curve_point", "score_point", "encode_predictions",
           "decode_predictions"]


@dataclass(frozen=True)
class FitTask:
    """One classifier fitted and measured on one split (of a run, or of one seed of ``--seeds``)."""

    run: int  # which of the schedule's run folders the record goes to
    name: str  # the classifier's name in the run
    prototype: SentimentClassifier  # unfitted, with the run's hyperparameters and seed
    rows: np.ndarray | None  # the run's reviews among the data (its sample); None: every review
    train: np.ndarray  # positions among the run's reviews
    validation: np.ndarray
    test: np.ndarray
    how: Measurement
    card: dict  # what the saved model's card says about the data
    tune_budget_s: float | None = None  # search first (``--tune``) within this many seconds
    metric: str = "accuracy"
    save_model: bool = False  # the run keeps the model (``--save-models``)
    in_process: bool = False  # runs in the process that owns the run folder, alone: timed as it finishes
    model_dir: Path | None = None  # in process, with save_model: where the model is kept


@dataclass
class FitResult:
    """What a unit returns: the record (``inference`` still empty: it is timed afterwards,
    alone), the test predictions, and the fitted model, as the files of its saved folder when
    it can be saved (they load without running code), else as the object itself."""

    record: ClassifierRecord
    pred: np.ndarray
    proba: np.ndarray
    model_files: dict[str, bytes] | None = None
    model: SentimentClassifier | None = None
    timed: bool = False  # ``inference`` is complete: the unit ran alone, in the run's own process


def _run_split(data: ReviewData, rows, train, validation, test) -> Split:
    return Split(data if rows is None else data.subset(rows), np.asarray(train), np.asarray(validation), np.asarray(test))


def _capped(prototype: SentimentClassifier, cap: int | None) -> SentimentClassifier:
    """A fresh clone of ``prototype`` that starts no more threads of its own than ``cap``."""
    clf = clone(prototype)
    param = clf.threads_param
    if cap is not None and param is not None and getattr(clf, param, 1) > cap:
        clf.set_params(**{param: cap})
    return clf


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def measure_unit(data: ReviewData, task: FitTask, where: dict) -> FitResult:
    """Tune (with ``--tune``), fit and measure one classifier.

    In the run's own process (``task.in_process``) the record is complete when it returns;
    beside other units the prediction timings are left to the main process and the model
    comes back with the record.
    """
    split = _run_split(data, task.rows, task.train, task.validation, task.test)
    clf = _capped(task.prototype, where.get("thread_cap"))
    logger.info("***** %s: training on %d reviews *****", task.name, len(split.train))
    tuning = None
    if task.tune_budget_s is not None:
        chosen, tuning = tune(task.name, clf, (split.texts("train"), split.labels("train")),
                              (split.texts("validation"), split.labels("validation")), task.tune_budget_s, task.metric)
        clf.set_params(**chosen)
    if task.in_process:
        record, predictions = run_one(clf, split, name=task.name, how=task.how, tuning=tuning, card=task.card,
                                      model_dir=task.model_dir)
        record["where"] = {"fit": where}
        return FitResult(record, predictions["pred"], predictions["proba"], model=clf, timed=True)
    with tempfile.TemporaryDirectory(prefix="sentibench-unit-") as tmp:
        folder = Path(tmp) / "model"
        record, predictions = run_one(clf, split, name=task.name, how=task.how, tuning=tuning, card=task.card,
                                      model_dir=folder, time_inference=False)
        files = _folder_files(folder) if record.get("model_saved") else None
    if files is not None:
        record["model_saved"] = task.save_model
    record["where"] = {"fit": where}
    return FitResult(record, predictions["pred"], predictions["proba"], files, None if files is not None else clf)


# -- learning curves ------------------------------------------------------------------------

@dataclass(frozen=True)
class PointTask:
    """One point of a learning curve: a classifier fitted on a stratified sample of the training part."""

    name: str
    prototype: SentimentClassifier
    train_size: int
    repeat: int
    rows: np.ndarray  # the sample: positions in the data
    validation: np.ndarray
    test: np.ndarray
    classes: Classes = field(default_factory=Classes)


def score_point(name: str, train_size: int, repeat: int, pred: np.ndarray, y_test: np.ndarray, classes: Classes,
                train_time_s: float) -> CurvePoint:
    """A learning-curve point from its test predictions (also how a resumed curve checks its points)."""
    point: CurvePoint = {
        "classifier": name, "train_size": train_size, "repeat": repeat,
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1_macro": float(f1_score(y_test, pred, average="macro", labels=range(classes.n), zero_division=0)),
        **({"qwk": finite_or_none(score_by("qwk", y_test, pred, classes.n))} if classes.has_ordinal_metrics else {}),
        "train_time_s": train_time_s, "test_predictions": encode_predictions(pred),
    }
    return point


def curve_point(data: ReviewData, task: PointTask, where: dict) -> CurvePoint:
    """Fit ``task``'s classifier on its sample (validation passed in) and score it on the test split."""
    clf = _capped(task.prototype, where.get("thread_cap"))
    validation = ([data.texts[i] for i in task.validation], data.labels[task.validation])
    start = time.perf_counter()
    clf.fit([data.texts[i] for i in task.rows], data.labels[task.rows], validation=validation)
    train_time = time.perf_counter() - start
    pred = np.asarray(clf.predict([data.texts[i] for i in task.test]))
    point = score_point(task.name, task.train_size, task.repeat, pred, data.labels[task.test], task.classes, train_time)
    point["where"] = where
    return point
