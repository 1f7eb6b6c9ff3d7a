"""A run's classifiers as a plan of the one loop (:mod:`benchmark.loop`), whatever the engine.

Every ``run`` (and every seed of ``--seeds``) sends its classifiers to :func:`measure` as units
(:func:`~benchmark.units.measure_unit`). This process writes each record when its unit
returns, in the run's classifier order, and after each record runs the steps that follow a
classifier: the run-level answer (frontiers, recommendation, slices), the folder's files, the
behavioural tests. With the sequential engine (a plain run) a unit runs here and is timed as it
finishes; with an engine that runs units beside each other (``--jobs``, ``--cluster``) the
prediction timings (whole-test-set throughput, single-review latency) are taken afterwards,
here, one classifier at a time with nothing else running: fits beside each other would slow them down.

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
from tqdm.auto import tqdm

from classifiers import CardContext, SentimentClassifier
from dataset import SentibenchError, Split, atomic_write_json

from . import rundir
from .config import RunConfig
from .decide import decide_run
from .loop import Plan, execute
from .measure import Measurement, time_prediction
from .parallel import Engine, placement, threads_in_use
from .report import write_comparison, write_report
from .robustness.run import RobustnessStep
from .robustness.slices import slices_of
from .rundir import CHECKPOINTS_DIR, MODELS_DIR
from .schema import RunResults, folder_name
from .units import FitResult, FitTask, measure_unit

logger = logging.getLogger(__name__)

__all__ = ["PENDING_DIR", "RunState", "measure", "save"]

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
    fitted: dict | None = None  # filled with the classifiers fitted in this process (the notebook API's)

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


def measure(states: list[RunState], engine: Engine, data, *, progress: bool = False,
            on_complete: Callable[[RunState], None] | None = None) -> None:
    """Fit and measure the classifiers still to do in every run of ``states`` through ``engine``.

    ``data``: what every unit reads (``split.data`` of a single run; the loaded reviews that
    each seed of ``--seeds`` samples from). ``on_complete(state)`` is called when a run folder
    is complete. On Ctrl-C the unfinished runs are marked interrupted; an error marks the run
    whose classifier it stopped ``failed: NAME`` (the others interrupted) and propagates. Each
    run folder is locked by the caller, an existing one with ``RunLock(existing=True)``, which
    removes the half-written pending units a kill left.
    """
    for state in states:
        save(state)
    execute(_RunPlan(states, engine, progress, on_complete), engine, data)


class _RunPlan(Plan):
    """The classifiers of one or more run folders, as units of :func:`~benchmark.loop.execute`."""

    unit = staticmethod(measure_unit)

    def __init__(self, states: list[RunState], engine: Engine, progress: bool, on_complete) -> None:
        self.states, self.progress, self.on_complete = states, progress, on_complete
        self.in_process = not engine.parallel
        self.current: tuple[int, str] | None = None  # (run, classifier) being timed or written
        self.ready: list = []  # (run, name, fitted unit) waiting to be timed alone
        self.bar = None

    def tasks(self) -> list[FitTask]:
        """The units to fit; those fitted before an interruption wait in ``ready`` to be timed."""
        tasks = []
        for k, state in enumerate(self.states):
            for name, prototype in state.todo.items():
                pending = _read_pending(state, name, prototype)
                if pending is not None:
                    self.ready.append((k, name, pending))
                else:
                    tasks.append(_task(k, state, name, prototype, in_process=self.in_process, progress=self.progress))
        logger.info("%d units to fit, %d fitted already", len(tasks), len(self.ready))
        self.bar = tqdm(total=len(tasks), leave=False, desc="classifiers" if len(self.states) == 1 else "units",
                        disable=not self.progress)
        return tasks

    def take(self, task: FitTask, outcome: FitResult) -> None:
        self.bar.update()
        if outcome.timed:  # fitted and timed here, alone: it goes in now
            self._finish(task.run, task.name, outcome)
            return
        _keep_pending(self.states[task.run], task.name, outcome)
        self.ready.append((task.run, task.name, outcome))
        logger.info("fitted %s (%s): accuracy %.4f", task.name, self.states[task.run].run_dir.name,
                    outcome.record["metrics"]["accuracy"])

    def after(self) -> None:
        """Time the fitted units alone, in the runs' classifier order; complete what is complete."""
        self.bar.close()
        order = {(k, n): i for k, s in enumerate(self.states) for i, n in enumerate(s.cfg.classifiers)}
        for k, name, result in sorted(self.ready, key=lambda item: (item[0], order[item[0], item[1]])):
            self._finish(k, name, result)
        for state in self.states:  # e.g. resumed after its last record was written, before "complete"
            if state.complete and state.results["status"] != "complete":
                self._complete(state)

    def failed(self, task: FitTask, error) -> None:
        _stop(self.states, "interrupted", failed=(task.run, task.name))

    def stop(self, status: str, task: FitTask | None = None) -> None:
        where = self.current or (None if task is None else (task.run, task.name))
        if status == "interrupted":
            _stop(self.states, "interrupted")
        else:
            _stop(self.states, "interrupted" if where else "failed", failed=where)

    def _finish(self, k: int, name: str, result: FitResult) -> None:
        """Time a fitted unit alone (unless it was timed as it ran), then write its record into its run folder."""
        state = self.states[k]
        self.current = (k, name)
        pending = state.run_dir / PENDING_DIR / folder_name(name)
        model = result.model if result.model is not None else SentimentClassifier.load(pending / "model")
        record = result.record
        if result.timed:
            record["where"]["inference"] = record["where"]["fit"]
        else:
            where = placement("main process, after the fits", None)
            record["inference"], _, _ = time_prediction(model, state.split.texts("test"), Measurement.of(state.cfg, self.progress), name)
            where["threads"] = threads_in_use()
            record.setdefault("where", {})["inference"] = where
            _place_model(state, name, pending)
        if state.fitted is not None:
            state.fitted[name] = model
        _commit(state, name, record, {"pred": result.pred, "proba": result.proba})
        if state.robustness is not None:
            state.robustness.after(name, model, state.results)
        shutil.rmtree(pending, ignore_errors=True)
        remove_if_empty(state.run_dir / PENDING_DIR)
        remove_if_empty(state.run_dir / CHECKPOINTS_DIR)
        self.current = None
        if state.complete:
            self._complete(state)

    def _complete(self, state: RunState) -> None:
        if state.robustness is not None:
            state.robustness.finish(state.results)
        state.results["status"] = "complete"
        save(state)
        write_report(state.run_dir)
        if self.on_complete is not None:
            self.on_complete(state)


def _task(k: int, state: RunState, name: str, prototype: SentimentClassifier, *, in_process: bool,
          progress: bool = False) -> FitTask:
    cfg, split = state.cfg, state.split
    return FitTask(
        run=k, name=name, prototype=prototype, rows=state.rows, train=split.train, validation=split.validation,
        test=split.test, how=Measurement.of(cfg, progress and in_process),
        card=state.card, tune_budget_s=cfg.tune_budget_s if cfg.tune else None, metric=cfg.metric,
        save_model=cfg.save_models, in_process=in_process,
        model_dir=state.run_dir / MODELS_DIR / folder_name(name) if in_process and cfg.save_models else None,
    )


def _place_model(state: RunState, name: str, pending: Path) -> None:
    """A unit's saved model, from its pending folder to ``models/NAME`` (``--save-models``)."""
    if state.cfg.save_models and (pending / "model").is_dir():
        target = state.run_dir / MODELS_DIR / folder_name(name)
        if (target / "sentibench.json").is_file():
            shutil.rmtree(target)  # an earlier copy of this very model (a resume after a kill)
        target.parent.mkdir(exist_ok=True)
        os.replace(pending / "model", target)


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
    """Mark every unfinished run (``failed``: the run and classifier where it stopped). When even
    that cannot be written (the disk is full), a folder keeps its last complete state, which
    ``--resume`` continues just as well."""
    for k, state in enumerate(states):
        if state.complete and state.results["status"] == "complete":
            continue
        state.results["status"] = f"failed: {failed[1]}" if failed is not None and failed[0] == k else status
        try:
            save(state)
            if state.results["classifiers"] and status == "interrupted" and failed is None:
                write_report(state.run_dir)
        except Exception as exc:  # the original error is the one to report
            if status == "interrupted" and failed is None:
                raise
            logger.warning("could not record the failure in %s: %s", state.run_dir, exc)


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
    return FitResult(record, pred, proba, model=model)  # timed once nothing else runs


def remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # absent, or holds what is still needed

