"""``run --seeds``: the whole comparison repeated per seed (sample, split and classifiers).

Each seed's run folder lives inside one ``-seeds`` folder, next to ``summary.json`` and
``summary.md`` (see :mod:`benchmark.seeds`), which are written when the run starts and again
whenever a seed finishes. The folder resumes as a whole (``run --resume SEEDS_DIR``): finished
seeds are kept, interrupted ones resume where they stopped, missing ones start.

One after another (the default), each seed is a ``run`` of its own. With ``--jobs`` or
``--cluster`` the data is read once, and the units of every seed (classifier x seed) go to the
engine at once; each record is written into its seed's folder when its unit returns.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path

from classifiers import process_rank, world_size
from dataset import UsageError

from .config import RunConfig
from .lineup import build_classifiers
from .parallel import Engine, make_engine
from .prepare import load_data, split_data
from .robustness.suite import load_suite
from .rundir import RunLock, discard_if_unused, new_run_dir
from .runner import (
    card_context,
    check_same_data,
    load_for_resume,
    new_results,
    record_resuming_cpu,
    refuse_parallel_under_launcher,
    refuse_tune_under_launcher,
    run,
)
from .schedule import RunState, measure
from .schema import SeedSummary, load_results
from .seeds import SUMMARY_FILE, SUMMARY_TABLE, is_seeds_folder, read_seed_summary, seed_folders, update_seed_summary

logger = logging.getLogger(__name__)

__all__ = ["run_seeds", "resume_seeds", "refresh_seed_summary", "is_seeds_folder"]

#: A seed's own run is never tracked apart: the tracker gets the seeds run with nested seeds.
_CHILD_ENGINE = {"jobs": 1, "cluster": None, "track": None}


def run_seeds(cfg: RunConfig, seeds: list[int], *, trusted_files=frozenset(),
              progress: bool = False) -> tuple[Path, SeedSummary] | None:
    """Repeat the whole comparison once per seed; returns the ``-seeds`` folder and its summary
    (``None`` in a helper process of a multi-process run)."""
    refuse_parallel_under_launcher(refuse_tune_under_launcher(cfg))
    if process_rank() != 0:
        for seed in seeds:
            run(replace(cfg, seed=seed), trusted_files=trusted_files)
        return None
    build_classifiers(cfg, trusted_files=trusted_files)  # checked before a folder is made
    if cfg.robustness:
        load_suite(cfg.robustness_suite)  # a mistake in the suite file: one line, before any training
    engine = make_engine(cfg.jobs, cfg.cluster)  # a cluster is reached before a folder is made
    parent = new_run_dir(cfg.output, replace(cfg, seed=seeds[0]).digest(), suffix="-seeds")
    summary: SeedSummary = {"seeds": list(seeds), "runs": {}, "folders": {}, "status": "running",
                            "config": asdict(cfg), "metrics": {}, "pairs": []}
    try:
        with RunLock(parent):
            return _run_all(parent, cfg, summary, engine, trusted_files, progress, new=True)
    finally:
        discard_if_unused(parent)


def resume_seeds(parent: Path, *, progress: bool = False, engine: dict | None = None) -> tuple[Path, SeedSummary]:
    """Continue an interrupted ``--seeds`` run: finished seeds are kept, interrupted ones
    resume, missing ones start. ``engine``: ``jobs``, ``cluster``, ``track`` of this command."""
    parent = Path(parent)
    if world_size() > 1:
        raise UsageError("resume a --seeds folder in one process (or resume each seed's run folder with torchrun)")
    with RunLock(parent):
        summary = read_seed_summary(parent)
        if summary["status"] == "complete":
            raise UsageError(f"{parent} is already complete; nothing to resume (see its summary.md)")
        cfg = RunConfig.from_saved(summary["config"], str(parent / SUMMARY_FILE))
        cfg = refuse_parallel_under_launcher(refuse_tune_under_launcher(replace(cfg, **(engine or {}))))
        build_classifiers(cfg)  # a run folder names no file to trust
        logger.info("resuming %s: %d of %d seeds finished", parent, len(summary.get("runs") or {}), len(summary["seeds"]))
        return _run_all(parent, cfg, summary, make_engine(cfg.jobs, cfg.cluster), frozenset(), progress, new=False)


def refresh_seed_summary(run_dir: Path) -> None:
    """After a seed's own run folder was resumed: rewrite the summary of the ``-seeds`` folder
    holding it (complete once every seed is). Left alone while that folder is in use."""
    parent = Path(run_dir).parent
    if not is_seeds_folder(parent):
        return
    try:
        with RunLock(parent):
            summary = read_seed_summary(parent)
            summary = update_seed_summary(parent, summary)
            if len(summary["runs"]) == len(summary["seeds"]):
                summary["status"] = "complete"
                update_seed_summary(parent, summary)
    except UsageError:
        logger.info("%s is in use; its summary is updated by the process that holds it", parent)


def _run_all(parent: Path, cfg: RunConfig, summary: SeedSummary, engine: Engine, trusted_files, progress: bool,
             new: bool) -> tuple[Path, SeedSummary]:
    summary["status"] = "running"
    update_seed_summary(parent, summary)
    try:
        if engine.parallel:
            _parallel(parent, cfg, summary, engine, trusted_files, progress)
        else:
            _one_after_another(parent, cfg, summary, trusted_files, progress)
    except BaseException as exc:
        summary["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        if new and not isinstance(exc, KeyboardInterrupt) and not seed_folders(parent):
            # The first seed stopped at its input: nothing is kept (no empty folder left).
            (parent / SUMMARY_FILE).unlink(missing_ok=True)
            (parent / SUMMARY_TABLE).unlink(missing_ok=True)
        else:
            update_seed_summary(parent, summary)
        raise
    summary["status"] = "complete"
    return parent, update_seed_summary(parent, summary)


def _one_after_another(parent: Path, cfg: RunConfig, summary: SeedSummary, trusted_files, progress: bool) -> None:
    seeds = summary["seeds"]
    folders = seed_folders(parent)  # a seed's folder is made only when that seed runs
    for k, seed in enumerate(seeds, 1):
        child = folders.get(seed)
        if child is not None and load_results(child)["status"] == "complete":
            continue
        logger.info("===== seed %d (%d of %d) =====", seed, k, len(seeds))
        if child is not None:
            run(None, resume=child, progress=progress, engine=_CHILD_ENGINE)
        else:
            run(replace(cfg, seed=seed, output=str(parent), **_CHILD_ENGINE), trusted_files=trusted_files, progress=progress)
        update_seed_summary(parent, summary)


def _parallel(parent: Path, cfg: RunConfig, summary: SeedSummary, engine: Engine, trusted_files, progress: bool) -> None:
    """Every seed's units at once: the data is read once; each seed samples and splits it."""
    data, loaded = load_data(cfg)
    folders = seed_folders(parent)
    with ExitStack() as locks:
        states = []
        for seed in summary["seeds"]:
            child = folders.get(seed)
            if child is not None and load_results(child)["status"] == "complete":
                continue
            seed_cfg = replace(cfg, seed=seed, output=str(parent), **_CHILD_ENGINE)
            split, info, rows = split_data(seed_cfg, data, loaded)
            prototypes = build_classifiers(seed_cfg, trusted_files=trusted_files)
            if child is None:
                child = new_run_dir(parent, seed_cfg.digest())
                locks.enter_context(RunLock(child))
                results, done = new_results(seed_cfg, child, split, info), {}
            else:  # as runner's --resume: links refused, what a killed run left half-written removed
                locks.enter_context(RunLock(child, existing=True))
                results, done = load_for_resume(child)
                check_same_data(child, split, results)
                results["status"] = "running"
                record_resuming_cpu(results)
            todo = {n: c for n, c in prototypes.items() if n not in results["classifiers"]}
            states.append(RunState(child, seed_cfg, split, results, done, todo, card_context(results), rows))
        measure(states, engine, data, progress=progress, on_complete=lambda _: update_seed_summary(parent, summary))
