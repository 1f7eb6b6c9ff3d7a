"""Measuring the classifiers of run folders beside each other (``--jobs``, ``--cluster``).

The runner's own loop fits one classifier after another and times each as it finishes. With
an engine that runs units beside each other (:mod:`benchmark.parallel`), the units of every
run folder here (a run, or every seed of ``--seeds``) are sent at once, and this process
writes each record when its unit returns, in the run's classifier order. Prediction timings
(whole-test-set throughput, single-review latency) are taken afterwards, here, one classifier
at a time with nothing else running: fits beside each other would slow them down.

Between its fit and its timing a unit waits in ``RUN_DIR/pending/NAME`` (its record, test
predictions and saved model, written atomically), so a run killed meanwhile keeps its fits:
``--resume`` times them and goes on, whichever engine it uses.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers import SentimentClassifier
from dataset import SentibenchError, Split, atomic_write_json

from . import rundir
from .config import RunConfig
from .decide import decide_run
from .measure import Measurement, time_prediction
from .parallel import Engine, placement, threads_in_use
from .report import write_comparison, write_report
from .robustness.run import RobustnessStep
from .robustness.slices import slices_of
from .rundir import MODELS_DIR
from .schema import CardContext, RunResults, folder_name
from .units import FitResult, FitTask, measure_unit

logger = logging.getLogger(__name__)

__all__ = ["PENDING_DIR", "RunState", "has_pending", "measure_parallel", "save"]

#: Sub-folder holding units fitted but not yet timed (removed when empty).
PENDING_DIR = "pending"
_UNIT_FILE = "unit.json"


@dataclass
class RunState:
    """One run folder being written: its config, split, results and test predictions so far,
    and the classifiers still to measure."""

    run_dir: Path
    cfg: RunConfig
    split: Split
    results: RunResults
    predictions: dict
    todo: dict[str, SentimentClassifier]  # name -> unfitted prototype
    card: CardContext  # what every saved model's card says about the data
    rows: np.ndarray | None = None  # the run's reviews among the engine's data; None: split.data itself
    robustness: RobustnessStep | None = None  # --robustness: each classifier scored once it is timed

    def __post_init__(self):
        if self.cfg.robustness and self.robustness is None:
            self.robustness = RobustnessStep(self.run_dir, self.results, self.split, self.cfg.robustness_suite)

    @property
    def complete(self) -> bool:
        return all(n in self.results["classifiers"] for n in self.cfg.classifiers)


def save_run(run_dir: Path, results: RunResults, split, predictions: dict) -> None:
    """The run folder after a step: the comparison table, then the predictions and
    ``results.json`` (last, see ``rundir.write_run``)."""
    write_comparison(run_dir, results)
    rundir.write_run(run_dir, results, split, predictions)


def save(state: RunState) -> None:
    save_run(state.run_dir, state.results, state.split, state.predictions)


def decide(cfg: RunConfig, split, results: RunResults, predictions: dict) -> None:
    """The run-level answer after each record: frontiers and recommendation
    (:func:`~benchmark.decide.decide_run`) and the slices of every classifier so far."""
    results.update(decide_run(results["classifiers"], split.labels("test"), predictions, cfg.budgets(), cfg.metric))
    results["slices"] = slices_of(split.texts("test"), split.labels("test"), {n: p["pred"] for n, p in predictions.items()},
                                  split.groups("test"), cfg.group_column)


def has_pending(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds units fitted but not yet timed."""
    folder = Path(run_dir) / PENDING_DIR
    return folder.is_dir() and any((p / _UNIT_FILE).is_file() for p in folder.iterdir() if not p.name.startswith("."))


def measure_parallel(states: list[RunState], engine: Engine, data, *, progress: bool = False,
                     on_complete: Callable[[RunState], None] | None = None) -> None:
    """Fit and measure the classifiers still to do in every run of ``states`` through ``engine``.

    ``data``: what every unit reads (``split.data`` of a single run; the loaded reviews that
    each seed of ``--seeds`` samples from). ``on_complete(state)`` is called when a run folder
    is complete. On Ctrl-C the unfinished runs are marked interrupted; a unit's one-line
    error marks its run failed (the others interrupted) and propagates. Each run folder is
    locked by the caller, an existing one with ``RunLock(existing=True)``, which removes the
    half-written pending units a kill left.
    """
    for state in states:
        save(state)
    tasks, ready = [], []
    for k, state in enumerate(states):
        for name, prototype in state.todo.items():
            pending = _read_pending(state, name, prototype)
            if pending is not None:
                ready.append((k, name, pending))
            else:
                tasks.append(_task(k, state, name, prototype))
    logger.info("%d units to fit with %s, %d fitted already", len(tasks), engine.kind, len(ready))
    failed = None
    try:
        with engine:  # closed before the timing below: nothing else runs then
            if tasks:
                engine.start(data)
            for index, outcome in engine.map_unordered(measure_unit, tasks) if tasks else ():
                task = tasks[index]
                if isinstance(outcome, SentibenchError):
                    failed = outcome
                    _stop(states, "interrupted", failed=(task.run, task.name))
                    raise outcome
                _keep_pending(states[task.run], task.name, outcome)
                ready.append((task.run, task.name, outcome))
                logger.info("fitted %s (%s): accuracy %.4f", task.name, states[task.run].run_dir.name,
                            outcome.record["metrics"]["accuracy"])
        # Timed alone, in the runs' classifier order.
        order = {(k, n): i for k, s in enumerate(states) for i, n in enumerate(s.cfg.classifiers)}
        for k, name, result in sorted(ready, key=lambda item: (item[0], order[item[0], item[1]])):
            _finish(states[k], name, result, progress, on_complete)
    except KeyboardInterrupt:
        _stop(states, "interrupted")
        raise
    except SentibenchError as exc:
        if exc is not failed:  # the engine's own (an unreachable or failing cluster)
            _stop(states, "failed")
        raise


def _task(k: int, state: RunState, name: str, prototype: SentimentClassifier) -> FitTask:
    cfg, split = state.cfg, state.split
    return FitTask(
        run=k, name=name, prototype=prototype, rows=state.rows, train=split.train, validation=split.validation,
        test=split.test, how=Measurement.of(cfg),
        card=state.card, tune_budget_s=cfg.tune_budget_s if cfg.tune else None, metric=cfg.metric,
        save_model=cfg.save_models,
    )


def _finish(state: RunState, name: str, result: FitResult, progress: bool, on_complete) -> None:
    """Time a fitted unit alone, then write its record into its run folder."""
    pending = state.run_dir / PENDING_DIR / folder_name(name)
    model = result.model if result.model is not None else SentimentClassifier.load(pending / "model")
    cfg = state.cfg
    how = Measurement.of(cfg, progress)
    where = placement("main process, after the fits", None)
    record = result.record
    record["inference"], _, _ = time_prediction(model, state.split.texts("test"), how, name)
    where["threads"] = threads_in_use()
    record.setdefault("where", {})["inference"] = where
    if state.cfg.save_models and (pending / "model").is_dir():
        target = state.run_dir / MODELS_DIR / folder_name(name)
        if (target / "sentibench.json").is_file():
            shutil.rmtree(target)  # an earlier copy of this very model (a resume after a kill)
        target.parent.mkdir(exist_ok=True)
        os.replace(pending / "model", target)
    _commit(state, name, record, {"pred": result.pred, "proba": result.proba})
    if state.robustness is not None:
        state.robustness.after(name, model, state.results)
    shutil.rmtree(pending, ignore_errors=True)
    remove_if_empty(state.run_dir / PENDING_DIR)
    if state.complete:
        if state.robustness is not None:
            state.robustness.finish(state.results)
        state.results["status"] = "complete"
        save(state)
        write_report(state.run_dir)
        if on_complete is not None:
            on_complete(state)


def _commit(state: RunState, name: str, record: dict, predictions: dict) -> None:
    order = [n for n in state.cfg.classifiers if n in state.results["classifiers"] or n == name]
    state.results["classifiers"] = {n: record if n == name else state.results["classifiers"][n] for n in order}
    merged = {**state.predictions, name: predictions}
    state.predictions.clear()
    state.predictions.update({n: merged[n] for n in order})
    decide(state.cfg, state.split, state.results, state.predictions)
    save(state)
    m = record["metrics"]
    logger.info("%s: accuracy %.4f, macro F1 %.4f, trained in %.1f s", name, m["accuracy"], m["f1_macro"], record["train_time_s"])


def _stop(states: list[RunState], status: str, failed: tuple[int, str] | None = None) -> None:
    """Mark every unfinished run (``failed``: the run and classifier whose unit failed)."""
    for k, state in enumerate(states):
        if state.complete:
            continue
        state.results["status"] = f"failed: {failed[1]}" if failed is not None and failed[0] == k else status
        save(state)
        if state.results["classifiers"] and status == "interrupted" and failed is None:
            write_report(state.run_dir)


# -- units fitted but not timed yet: RUN_DIR/pending/NAME -----------------------------------


def _keep_pending(state: RunState, name: str, result: FitResult) -> None:
    """Write a fitted unit into the run folder (a hidden folder renamed into place: whole or absent)."""
    if result.model_files is None:
        return  # a model that cannot be saved is kept in memory only (refitted after a kill)
    folder = state.run_dir / PENDING_DIR
    tmp = folder / f".{folder_name(name)}.{uuid.uuid4().hex[:8]}.tmp"
    for relative, content in result.model_files.items():
        path = tmp / "model" / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise ValueError(f"a unit returned a model file outside its folder: {relative!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    atomic_write_json(tmp / _UNIT_FILE, {"record": result.record, "pred": np.asarray(result.pred).tolist(),
                                         "proba": np.asarray(result.proba).tolist()})
    target = folder / folder_name(name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    result.model_files = None  # on disk now; the timing loads it from there


def _read_pending(state: RunState, name: str, prototype: SentimentClassifier) -> FitResult | None:
    """A unit fitted before an interruption, or None (absent, or not usable: it is fitted again)."""
    folder = state.run_dir / PENDING_DIR / folder_name(name)
    if not (folder / _UNIT_FILE).is_file():
        return None
    n_test, n_classes = len(state.split.test), len(state.results["data"]["classes"])
    try:
        saved = json.loads((folder / _UNIT_FILE).read_text(encoding="utf-8"))
        record = saved["record"]
        pred = np.asarray(saved["pred"], dtype=np.int64)
        proba = np.asarray(saved["proba"], dtype=np.float64)
        usable = (isinstance(record, dict) and record.get("classifier") == name and isinstance(record.get("metrics"), dict)
                  and pred.shape == (n_test,) and proba.shape == (n_test, n_classes)
                  and pred.min(initial=0) >= 0 and pred.max(initial=0) < n_classes
                  and type(model := SentimentClassifier.load(folder / "model")) is type(prototype))
    except (OSError, ValueError, KeyError, TypeError, RecursionError, SentibenchError) as exc:
        logger.warning("%s: the fitted %s waiting to be timed is not usable (%s); fitting it again",
                       state.run_dir.name, name, type(exc).__name__)
        return None
    if not usable:
        logger.warning("%s: the fitted %s waiting to be timed does not match this run; fitting it again", state.run_dir.name, name)
        return None
    return FitResult(record, pred, proba, model=model)


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # absent, or holds what is still needed

