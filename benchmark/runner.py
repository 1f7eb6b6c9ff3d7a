"""Train every classifier on one identical split and measure what it costs.

The flow is: :func:`~benchmark.prepare.prepare_data` loads the reviews, optionally
draws a stratified sample and makes the single stratified train/validation/test split;
:func:`~benchmark.lineup.build_classifiers` makes the run's classifiers;
:func:`~benchmark.measure.run_one` fits one and returns its complete record;
:func:`~benchmark.decide.decide_run` turns the records so far into the frontiers and the
recommendation; and :mod:`~benchmark.rundir` writes the run folder after each classifier,
so an interrupted run keeps what finished and can be resumed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

from classifiers import REGISTRY, CardContext, can_save_to, process_rank, world_size
from classifiers._registry import is_spec
from dataset import ResourceError, SentibenchError, Split, UsageError, machine_limit, source_name

from . import rundir
from .config import RunConfig
from .environment import environment
from .lineup import build_classifiers
from .parallel import Engine, make_engine
from .predictions_file import read_predictions
from .prepare import prepare_data
from .report import REPORT_FILE, REPORT_PAGE, write_report
from .robustness.suite import load_suite
from .rundir import CHECKPOINTS_DIR, MODELS_DIR, RunLock, discard_if_unused, new_run_dir
from .schedule import RunState, measure
from .schema import (
    RESULTS_FILE,
    RESULTS_FORMAT,
    RunFolderError,
    RunResults,
    folder_name,
    load_results,
)

logger = logging.getLogger(__name__)

__all__ = ["run", "new_results", "load_for_resume", "check_same_data", "record_resuming_cpu", "card_context",
           "refuse_parallel_under_launcher", "refuse_tune_under_launcher"]


def run(cfg: RunConfig | None, resume: Path | None = None, *, trusted_files=frozenset(),
        progress: bool = False, engine: dict | None = None, named_again: tuple[str, ...] = (),
        state: dict | None = None) -> tuple[Path, RunResults] | None:
    """Run the benchmark described by ``cfg``; returns the run folder and its results.

    Files in the run folder are rewritten (atomically) after each classifier. On
    ``KeyboardInterrupt`` the results of the classifiers that finished are kept, the
    status is ``"interrupted"``, and the exception propagates.

    With ``resume`` (a run folder; ``cfg`` is then ignored in favour of the folder's own
    config), the classifiers that finished are kept and skipped, after checking that the
    data still gives the identical split of identical texts; BERT continues from its
    last saved epoch. ``trusted_files``: files the user named on the command line (never
    taken from a run folder). ``progress``: progress bars. A run folder is locked while
    it is written. ``engine``: ``jobs``, ``cluster`` and ``track`` of a resumed run (they are
    never taken from its folder). ``named_again``: the run's ``MODULE:ATTR`` classifiers,
    named again on the command line of a resume (their code is checked against the run's).
    ``state``: filled for callers in the same process (the notebook API): ``run_dir`` once
    the folder exists, ``classifiers`` the estimators fitted here (not with --jobs/--cluster).

    Returns ``None`` in a helper process of a multi-process run.
    """
    state = {} if state is None else state
    if resume is not None:
        return _resume(Path(resume), progress, engine or {}, state, tuple(named_again))
    refuse_parallel_under_launcher(refuse_tune_under_launcher(cfg))
    if process_rank() != 0:
        return _fit_data_parallel(cfg, trusted_files)
    classifiers = build_classifiers(cfg, trusted_files=trusted_files, progress=progress)  # before data or folder
    if cfg.robustness:
        load_suite(cfg.robustness_suite)  # a mistake in the suite file: one line, before any training
    engine = make_engine(cfg.jobs, cfg.cluster)  # a cluster is reached before a folder is made
    run_dir = new_run_dir(cfg.output, cfg.digest())
    state.update(run_dir=run_dir, classifiers={})
    results: RunResults | None = None
    try:
        with RunLock(run_dir):
            split, data_info = prepare_data(cfg)
            results = new_results(cfg, run_dir, split, data_info)
            return _measure_all(cfg, classifiers, run_dir, split, results, {}, progress, engine, state["classifiers"])
    except Exception as exc:
        # A run that stopped before any classifier finished (a name that cannot be fitted,
        # no memory for the first one) leaves nothing behind, as a bad input does; a BERT
        # checkpoint is kept to resume from.
        kept = results is not None and (results["classifiers"] or _has_checkpoints(run_dir))
        if not kept:
            rundir.discard_run(run_dir)
        error = _stopped(exc, run_dir, results, kept=bool(kept))
        if error is exc:
            raise
        raise error from exc
    finally:
        discard_if_unused(run_dir)  # e.g. the data could not be read: no empty folder left


def new_results(cfg: RunConfig, run_dir: Path, split: Split, data_info: dict) -> RunResults:
    """The results of a run that has just started: what it is, on what, and no classifier yet."""
    return {
        "format": RESULTS_FORMAT,
        "run_id": run_dir.name,
        "status": "running",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": asdict(cfg),
        "environment": {**environment(), "world_size": world_size()},
        "data": data_info,
        "split": split.manifest(),
        "classifiers": {},
        **({"plugins": plugin_digests(cfg.classifiers)} if any(map(is_spec, cfg.classifiers)) else {}),
    }


def refuse_parallel_under_launcher(cfg: RunConfig) -> RunConfig:
    """Refuse ``--jobs``/``--cluster`` in a multi-process launch (torchrun): its processes fit
    BERT together, one classifier at a time."""
    if (cfg.jobs > 1 or cfg.cluster) and world_size() > 1:
        raise UsageError("--jobs and --cluster run in one process; start them without torchrun")
    return cfg


def refuse_tune_under_launcher(cfg: RunConfig) -> RunConfig:
    """Refuse ``--tune`` in a multi-process run: helper processes take part in BERT's final
    fit only, so trials in the main process alone would leave them waiting."""
    if cfg.tune and world_size() > 1:
        raise UsageError("--tune runs in one process; start it without torchrun (tune first, then train on several)")
    return cfg


def _fit_data_parallel(cfg: RunConfig, trusted_files=frozenset()) -> None:
    """What a process other than the main one does in a multi-process run: load the same
    data, make the same split and take part in fitting the classifiers that train
    data-parallel (BERT). Everything else (the classical models, evaluation, latency,
    every file) is the main process's."""
    split, _ = prepare_data(cfg)
    for clf in build_classifiers(cfg, trusted_files=trusted_files).values():
        if clf.supports_distributed:
            clf.fit(split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))


def _resume(run_dir: Path, progress: bool, engine: dict, state: dict,
            named_again: tuple[str, ...] = ()) -> tuple[Path, RunResults] | None:
    if not run_dir.is_dir():
        raise UsageError(f"cannot resume {run_dir}: not a readable run folder (no such folder)")
    if process_rank() != 0:
        results, _ = load_for_resume(run_dir)
        _check_named_again(run_dir, results, named_again)
        cfg = RunConfig.from_saved(results["config"], str(run_dir), named_again=named_again)
        return _fit_data_parallel(refuse_tune_under_launcher(cfg))
    results = None
    try:
        with RunLock(run_dir, existing=True):
            if not (run_dir / RESULTS_FILE).exists():
                discard_if_unused(run_dir)  # it held nothing but what a killed run left half-written
                raise RunFolderError(f"cannot resume {run_dir}: the run stopped before it saved any result (no "
                                     f"{RESULTS_FILE}); start a new run")
            finished = _report_of_complete_run(run_dir)
            if finished is not None:
                return run_dir, finished
            results, done = load_for_resume(run_dir)
            _check_named_again(run_dir, results, named_again)
            cfg = RunConfig.from_saved(results["config"], str(run_dir / RESULTS_FILE), named_again=named_again)
            cfg = refuse_tune_under_launcher(cfg)
            cfg = replace(cfg, **engine)
            classifiers = build_classifiers(cfg, progress=progress)
            todo = {n: c for n, c in classifiers.items() if n not in results["classifiers"]}
            state.update(run_dir=run_dir, classifiers={})
            _check_model_folders(run_dir, cfg, todo)
            split, _ = prepare_data(cfg)
            check_same_data(run_dir, split, results)
            results["status"] = "running"
            record_resuming_cpu(results)
            logger.info("resuming %s: %s already finished", run_dir, ", ".join(results["classifiers"]) or "nothing")
            return _measure_all(cfg, todo, run_dir, split, results, done, progress, fitted=state["classifiers"])
    except Exception as exc:
        error = _stopped(exc, run_dir, results, kept=True)
        if error is exc:
            raise
        raise error from exc


def plugin_digests(classifiers) -> dict[str, str | None]:
    """``MODULE:ATTR`` name -> SHA-256 of its module's source: recorded when a run starts, so
    that a resume naming the code again can tell whether it is the same code."""
    from classifiers.external import code_digest

    return {name: code_digest(name) for name in classifiers if is_spec(name)}


def _check_named_again(run_dir: Path, results: RunResults, named_again: tuple[str, ...]) -> None:
    """Each classifier named again on a resume's command line is one of the run's
    ``MODULE:ATTR`` classifiers, whose module source still has the digest recorded."""
    recorded = results.get("plugins") or {}
    for name in named_again:
        if name not in results["config"].get("classifiers", []):
            raise UsageError(f"cannot resume {run_dir}: it has no classifier {name!r} (--classifiers with --resume "
                             "names the run's own MODULE:ATTR classifiers again)")
        before, now = recorded.get(name), plugin_digests([name])[name]
        if before is None or now is None:
            raise UsageError(f"cannot resume {run_dir}: no digest of {name!r}'s code was recorded or can be read now, "
                             "so it cannot be checked to be the same code; start a new run")
        if before != now:
            raise UsageError(f"cannot resume {run_dir}: the code of {name!r} changed since the run started (sha256 "
                             f"{now[:12]} != {before[:12]}); start a new run")


def _report_of_complete_run(run_dir: Path) -> RunResults | None:
    """A complete run whose report files are missing (killed between saving "complete"
    and writing its report): the report is written and the results returned. ``None`` for
    any other folder (including one whose results cannot be read: said below)."""
    try:
        results = load_results(run_dir)
    except SentibenchError:
        return None
    if results["status"] != "complete" or all((run_dir / name).is_file() for name in (REPORT_FILE, REPORT_PAGE)):
        return None
    logger.info("%s is complete but its report was not written (the run was stopped just before): writing it", run_dir)
    write_report(run_dir)
    return results


def load_for_resume(run_dir: Path) -> tuple[RunResults, dict]:
    """The results of an earlier run and the test predictions of its finished classifiers."""
    try:
        results = load_results(run_dir)
    except SentibenchError as exc:
        raise UsageError(f"cannot resume {run_dir}: {exc}") from None
    if results["status"] == "complete":
        raise UsageError(f"{run_dir} is already complete; nothing to resume (its report: python -m benchmark report {run_dir})")
    if "data_sha256" not in results["split"]:
        raise UsageError(f"cannot resume {run_dir}: it was written by an older sentibench (no data hash); start a new run")
    try:
        done = read_predictions(run_dir, results["classifiers"], len(results["data"]["classes"])).subset(results["classifiers"])
    except SentibenchError as exc:
        raise UsageError(f"cannot resume {run_dir}: {exc}") from None
    return results, done


def check_same_data(run_dir: Path, split: Split, results: RunResults) -> None:
    """Refuse to resume ``run_dir`` when its data now gives another split or other texts or labels."""
    manifest = split.manifest()
    for key, what in (("sha256", "a different split"), ("data_sha256", "different texts or labels")):
        if manifest[key] != results["split"][key]:
            raise UsageError(
                f"cannot resume {run_dir}: the data now gives {what} ({key} {manifest[key][:12]} != "
                f"{results['split'][key][:12]}); start a new run"
            )


def record_resuming_cpu(results: RunResults) -> None:
    """Timings from two machines are not comparable: say so, and keep both CPUs on record."""
    here, before = environment(), results.get("environment", {})
    if here.get("cpu") == before.get("cpu"):
        return
    logger.warning("resuming on %s; the classifiers that finished ran on %s: compare their timings with "
                   "care (results.json lists both CPUs)", here.get("cpu"), before.get("cpu"))
    earlier = before.get("resumed_on_cpus", [])
    results["environment"] = {**before, "resumed_on_cpus": earlier + ([here.get("cpu")] if here.get("cpu") not in earlier else [])}


def card_context(results: RunResults) -> CardContext:
    """What the runner knows about the data, for every saved model's card."""
    data, manifest = results["data"], results["split"]
    return {
        "source": source_name(data["source"]), "rows_used": data["rows_used"], "label_names": data["label_names"],
        "class_names": data["classes"],
        "seed": results["config"]["seed"], "split_sizes": manifest["sizes"], "split_sha256": manifest["sha256"],
        "data_sha256": manifest["data_sha256"], "run_id": results["run_id"],
    }


def _measure_all(cfg: RunConfig, classifiers: dict, run_dir: Path, split: Split, results: RunResults,
                 predictions: dict, progress: bool, engine: Engine | None = None,
                 fitted: dict | None = None) -> tuple[Path, RunResults]:
    """Fit and measure ``classifiers`` through the one loop (:func:`benchmark.schedule.measure`),
    which rewrites the run folder after each; ``fitted`` receives the estimators fitted here."""
    engine = engine or make_engine(cfg.jobs, cfg.cluster)
    if engine.parallel:
        refuse_parallel_under_launcher(cfg)
    else:
        for name, clf in classifiers.items():
            if clf.supports_checkpoints:
                # BERT saves each finished epoch here, so a killed run resumes mid-training.
                clf.set_params(checkpoint_dir=str(run_dir / CHECKPOINTS_DIR / folder_name(name)))
    logger.info("split (seed %d): %d train / %d validation / %d test, manifest %s", cfg.seed, len(split.train),
                len(split.validation), len(split.test), results["split"]["sha256"][:12])
    state = RunState(run_dir, cfg, split, results, predictions, classifiers, card_context(results), fitted=fitted)
    measure([state], engine, split.data, progress=progress)
    return run_dir, results


def _stopped(exc: Exception, run_dir: Path, results: RunResults | None, *, kept: bool) -> Exception:
    """The error to raise for ``exc``, which stopped a run: the machine running out of memory
    or disk space becomes one line that says what is kept; anything else is itself (a
    user's mistake is already one line, a bug keeps its traceback)."""
    what = machine_limit(exc)
    if what is None:
        return exc
    detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
    status = (results or {}).get("status", "")
    if status.startswith("failed: "):
        detail += f" at {status.removeprefix('failed: ')}"
    if not kept:
        then = ("nothing had finished, so nothing was kept: free some " + what
                + (", or use a smaller --sample-size or fewer classifiers," if what == "memory" else ",") + " and run it again")
    elif all(n in REGISTRY for n in (results or {}).get("config", {}).get("classifiers", [])):
        then = f"the run folder keeps what finished: free some {what}, then continue with 'python -m benchmark run --resume {run_dir}'"
    else:  # a MODULE:ATTR classifier: a run folder never names code to import, the user names it again
        specs = ",".join(n for n in results["config"]["classifiers"] if is_spec(n))
        then = (f"the run folder keeps what finished: free some {what}, then continue with 'python -m benchmark run "
                f"--resume {run_dir} --classifiers {specs}' (naming your code again)")
    return ResourceError(f"the machine ran out of {what}{detail}; {then}")


def _check_model_folders(run_dir: Path, cfg: RunConfig, todo: dict) -> None:
    """Refuse, before any training, a ``models/NAME`` that ``--save-models`` would have to replace
    and that is no saved model (a folder someone put there): it is never deleted."""
    if not cfg.save_models:
        return
    for name in todo:
        path = run_dir / MODELS_DIR / folder_name(name)
        if not can_save_to(path):
            raise RunFolderError(f"cannot resume {run_dir}: {path} exists and is not a model sentibench saved; move it "
                                 "away, then resume")


def _has_checkpoints(run_dir: Path) -> bool:
    folder = run_dir / CHECKPOINTS_DIR
    return folder.is_dir() and any(folder.iterdir())
