"""Train every classifier on one identical split and measure what it costs.

The flow is: :func:`~benchmark.prepare.prepare_data` loads the reviews, optionally
draws a stratified sample and makes the single stratified train/validation/test split;
:func:`~benchmark.measure.run_one` fits one classifier and returns its record (timings
and metrics); :func:`run` does that for each requested classifier and writes the run
folder after each one, so an interrupted run keeps what finished and can be resumed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from classifiers import process_rank, world_size
from dataset import SentibenchError, UsageError, atomic_write_text

from . import output
from .config import RunConfig
from .decide import cost_per_million, frontiers, recommend
from .environment import environment
from .measure import make_classifier, run_one
from .output import CHECKPOINTS_DIR, MODELS_DIR, RunLock, discard_if_unused, folder_name, new_run_dir
from .prepare import prepare_data
from .report import write_report
from .schema import HEADLINE_METRICS, PREDICTIONS_FILE, RunResults, SeedSummary, load_results
from .tune import tune

logger = logging.getLogger(__name__)

__all__ = ["MODELS_DIR", "CHECKPOINTS_DIR", "RunConfig", "make_classifier", "run", "run_one", "run_seeds"]


def _fit_data_parallel(cfg: RunConfig, trusted_files) -> None:
    """What a process other than the main one does in a multi-process run: load the same
    data, make the same split and take part in fitting the classifiers that train
    data-parallel (BERT). Everything else (the classical models, evaluation, latency,
    every file) is the main process's."""
    split, _ = prepare_data(cfg)
    for clf in _make_all(cfg, trusted_files).values():
        if clf.supports_distributed:
            clf.fit(split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))


def _load_for_resume(run_dir: Path) -> tuple[RunResults, dict]:
    """The results of an earlier run and the test predictions of its finished classifiers."""
    import pandas as pd

    try:
        results = load_results(run_dir)
    except SentibenchError as exc:
        raise UsageError(f"cannot resume {run_dir}: {exc}") from None
    if results["status"] == "complete":
        raise UsageError(f"{run_dir} is already complete; nothing to resume")
    if "data_sha256" not in results["split"]:
        raise UsageError(f"cannot resume {run_dir}: it was written by an older sentibench (no data hash); start a new run")
    try:
        frame = pd.read_csv(run_dir / PREDICTIONS_FILE, keep_default_na=False)
        done = {
            name: {"pred": frame[f"{name}_pred"].to_numpy(), "proba": frame[f"{name}_proba"].to_numpy()}
            for name in results["classifiers"]
        }
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot resume {run_dir}: {PREDICTIONS_FILE} is unreadable or incomplete ({exc})") from None
    return results, done


def run(cfg: RunConfig, resume: Path | None = None, *, trusted_files=frozenset()) -> tuple[Path, RunResults] | None:
    """Run the benchmark described by ``cfg``; returns the run folder and its results.

    Files in the run folder are rewritten (atomically) after each classifier. On
    ``KeyboardInterrupt`` the results of the classifiers that finished are kept, the
    status is ``"interrupted"``, and the exception propagates.

    With ``resume`` (a run folder; ``cfg`` is then ignored in favour of the folder's own
    config), the classifiers that finished are kept and skipped, after checking that the
    data still gives the identical split of identical texts; BERT continues from its
    last saved epoch. ``trusted_files``: pickle-based files the user named on the command
    line (never taken from a run folder). A run folder is locked while it is written.

    Returns ``None`` in a helper process of a multi-process run (the main process
    measures and writes everything).
    """
    if resume is not None:
        run_dir = Path(resume)
        if not run_dir.is_dir():
            raise UsageError(f"cannot resume {run_dir}: not a readable run folder (no such folder)")
        if process_rank() != 0:
            results, _ = _load_for_resume(run_dir)
            return _fit_data_parallel(_one_process_tuning(RunConfig.from_saved(results["config"], str(run_dir))), frozenset())
        with RunLock(run_dir):
            results, done = _load_for_resume(run_dir)
            cfg = _one_process_tuning(RunConfig.from_saved(results["config"], str(run_dir / "results.json")))
            return _run(cfg, _make_all(cfg, frozenset()), run_dir, results, done)
    _one_process_tuning(cfg)
    if process_rank() != 0:
        return _fit_data_parallel(cfg, trusted_files)
    classifiers = _make_all(cfg, trusted_files)  # checked before any data is loaded or folder created
    run_dir = new_run_dir(cfg.output, cfg.digest())
    try:
        with RunLock(run_dir):
            return _run(cfg, classifiers, run_dir, None, {})
    finally:
        discard_if_unused(run_dir)  # e.g. the data could not be read: no empty folder left


def _one_process_tuning(cfg: RunConfig) -> RunConfig:
    """Refuse ``--tune`` in a multi-process run: helper processes take part in BERT's final
    fit only, so trials in the main process alone would leave them waiting."""
    if cfg.tune and world_size() > 1:
        raise UsageError("--tune runs in one process; start it without torchrun (tune first, then train on several)")
    return cfg


def _make_all(cfg: RunConfig, trusted_files) -> dict:
    """Name (as given: a registry name or a ``module:attr`` spec) -> checked classifier."""
    unknown = sorted(set(cfg.params) - set(cfg.classifiers))
    if unknown:
        raise UsageError(f"hyperparameters given for {', '.join(unknown)}, which this run does not include")
    return {n: make_classifier(n, cfg.params.get(n), seed=cfg.seed, trusted_files=trusted_files) for n in cfg.classifiers}


def _run(cfg: RunConfig, classifiers: dict, run_dir: Path, results: RunResults | None, predictions: dict) -> tuple[Path, RunResults]:
    split, data_info = prepare_data(cfg)
    manifest = split.manifest()
    if results is None:
        results = {
            "run_id": run_dir.name,
            "status": "running",
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": asdict(cfg),
            "environment": {**environment(), "world_size": world_size()},
            "data": data_info,
            "split": manifest,
            "classifiers": {},
        }
    else:
        for key, what in (("sha256", "a different split"), ("data_sha256", "different texts or labels")):
            if manifest[key] != results["split"][key]:
                raise UsageError(
                    f"cannot resume {run_dir}: the data now gives {what} ({key} {manifest[key][:12]} != "
                    f"{results['split'][key][:12]}); start a new run"
                )
        results["status"] = "running"
        here, before = environment(), results.get("environment", {})
        if here.get("cpu") != before.get("cpu"):
            # Timings from two machines are not comparable: say so, and keep both CPUs on record.
            logger.warning("resuming on %s; the classifiers that finished ran on %s: compare their timings with "
                           "care (results.json lists both CPUs)", here.get("cpu"), before.get("cpu"))
            earlier = before.get("resumed_on_cpus", [])
            results["environment"] = {**before, "resumed_on_cpus": earlier + ([here.get("cpu")] if here.get("cpu") not in earlier else [])}
        classifiers = {n: c for n, c in classifiers.items() if n not in results["classifiers"]}
        logger.info("resuming %s: %s already finished", run_dir, ", ".join(results["classifiers"]) or "nothing")
    for name, clf in classifiers.items():
        if clf.supports_checkpoints:
            # BERT saves each finished epoch here, so a killed run resumes mid-training.
            clf.set_params(checkpoint_dir=str(run_dir / CHECKPOINTS_DIR / folder_name(name)))
    logger.info(
        "split (seed %d): %d train / %d validation / %d test, manifest %s",
        cfg.seed, len(split.train), len(split.validation), len(split.test), manifest["sha256"][:12],
    )
    card = {
        "source": data_info["source"], "rows_used": data_info["rows_used"], "label_names": data_info["label_names"],
        "seed": cfg.seed, "split_sizes": manifest["sizes"], "split_sha256": manifest["sha256"],
        "data_sha256": manifest["data_sha256"], "run_id": results["run_id"],
    }
    output.write_run(run_dir, results, split, predictions)
    try:
        for name, clf in tqdm(classifiers.items(), desc="classifiers", disable=not cfg.verbose, leave=False):
            logger.info("***** %s: training on %d reviews *****", name, len(split.train))
            tuning = None
            try:
                if cfg.tune:
                    # Trials see the training and validation parts only; the test split is
                    # used once, by the final fit's measurement below.
                    chosen, tuning = tune(
                        name, clf, (split.texts("train"), split.labels("train")),
                        (split.texts("validation"), split.labels("validation")), cfg.tune_budget_min * 60,
                    )
                    clf.set_params(**chosen)
                record, preds = run_one(
                    clf, split, name=name, latency_calls=cfg.latency_calls, latency_warmup=cfg.latency_warmup,
                    verbose=cfg.verbose, model_dir=run_dir / MODELS_DIR / folder_name(name) if cfg.save_models else None,
                    card=card,
                )
            except SentibenchError:
                # A problem with the data or settings (one line from the CLI); a bug keeps its traceback.
                results["status"] = f"failed: {name}"
                output.write_run(run_dir, results, split, predictions)
                raise
            if tuning is not None:
                record["tuning"] = tuning
            results["classifiers"][name] = record
            predictions[name] = preds
            _decide(results, split, predictions, cfg)
            output.write_run(run_dir, results, split, predictions)
            _remove_if_empty(run_dir / CHECKPOINTS_DIR)
            m = record["metrics"]
            logger.info(
                "%s: accuracy %.4f, macro F1 %.4f, trained in %.1f s", name, m["accuracy"], m["f1_macro"], record["train_time_s"]
            )
    except KeyboardInterrupt:
        results["status"] = "interrupted"
        output.write_run(run_dir, results, split, predictions)
        if results["classifiers"]:
            write_report(run_dir)
        raise
    results["status"] = "complete"
    output.write_run(run_dir, results, split, predictions)
    write_report(run_dir)
    return run_dir, results


def _decide(results: RunResults, split, predictions: dict, cfg: RunConfig) -> None:
    """The cost of a million reviews per classifier, the Pareto frontiers and the
    recommendation, from the classifiers finished so far."""
    records = results["classifiers"]
    for record in records.values():
        record["inference"].update(cost_per_million(record["inference"], record["metrics"]["n_test"], cfg.cpu_hour_price))
    results["pareto"] = frontiers(records)
    preds = {name: np.asarray(p["pred"]) for name, p in predictions.items()}
    results["recommendation"] = recommend(records, split.labels("test"), preds, cfg.budgets())


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # absent, or holds a checkpoint still needed


def seed_pairs(per_seed: dict[str, dict[str, list[float]]], test_train_ratio: float) -> list[dict]:
    """For each pair of classifiers, the mean accuracy difference over the splits and
    Nadeau and Bengio's corrected resampled t-test (the splits' training sets overlap)."""
    from itertools import combinations

    from .stats import corrected_resampled_ttest

    pairs = []
    for a, b in combinations(per_seed, 2):
        acc_a, acc_b = per_seed[a]["accuracy"], per_seed[b]["accuracy"]
        k = min(len(acc_a), len(acc_b))
        test = corrected_resampled_ttest(np.subtract(acc_a[:k], acc_b[:k]), test_train_ratio)
        significant = test["p_value"] is not None and test["p_value"] < 0.05
        leader, other = (a, b) if test["mean"] >= 0 else (b, a)
        sentence = (
            f"{leader} was more accurate than {other} by the same {abs(test['mean']) * 100:.1f} points on every split; "
            "with no spread the t-test is undefined (more seeds or a larger test split would test it)."
            if test["std"] == 0 and test["mean"] != 0 else
            f"{leader} is more accurate than {other} by {abs(test['mean']) * 100:.1f} points on average "
            f"(corrected t-test p = {test['p_value']:.3g})." if significant else
            f"The difference between {a} and {b} ({test['mean'] * 100:+.1f} points on average) is not significant"
            + (f" (corrected t-test p = {test['p_value']:.3g})." if test["p_value"] is not None else ".")
        )
        pairs.append({"a": a, "b": b, "splits": k, "test_train_ratio": test_train_ratio, **test,
                      "significant": significant, "sentence": sentence})
    return pairs


def run_seeds(cfg: RunConfig, seeds: list[int], *, trusted_files=frozenset()) -> tuple[Path, SeedSummary] | None:
    """Repeat the whole comparison once per seed (sample, split and classifiers).

    Each seed's run folder is kept inside one parent folder, next to ``summary.json``
    and ``summary.md`` with the mean and standard deviation of each metric.
    """
    _one_process_tuning(cfg)
    if process_rank() != 0:
        for seed in seeds:
            _fit_data_parallel(replace(cfg, seed=seed), trusted_files)
        return None
    _make_all(cfg, trusted_files)
    parent = new_run_dir(cfg.output, replace(cfg, seed=seeds[0]).digest(), suffix="-seeds")
    summary: SeedSummary = {"seeds": seeds, "runs": {}, "status": "running", "config": asdict(cfg), "metrics": {}}
    per_seed: dict[str, dict[str, list[float]]] = {}
    ratio = None
    try:
        for seed in seeds:
            logger.info("===== seed %d (%d of %d) =====", seed, seeds.index(seed) + 1, len(seeds))
            run_dir, results = run(replace(cfg, seed=seed, output=str(parent)), trusted_files=trusted_files)
            summary["runs"][str(seed)] = run_dir.name
            sizes = results["split"]["sizes"]
            ratio = sizes["test"] / sizes["train"]
            for name, record in results["classifiers"].items():
                for metric, get in HEADLINE_METRICS.items():
                    per_seed.setdefault(name, {}).setdefault(metric, []).append(get(record))
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        raise
    except BaseException:
        summary["status"] = "failed"
        if not summary["runs"]:
            discard_if_unused(parent)  # the first seed's run stopped at its input: nothing kept
        raise
    else:
        summary["status"] = "complete"
    finally:
        if parent.is_dir():
            _write_seed_summary(parent, summary, per_seed, ratio)
    return parent, summary


def _write_seed_summary(parent: Path, summary: SeedSummary, per_seed: dict, ratio: float | None) -> None:
    summary["metrics"] = {
        name: {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
               for m, v in metrics.items()}
        for name, metrics in per_seed.items()
    }
    summary["pairs"] = seed_pairs(per_seed, ratio) if ratio is not None else []
    output.write_json(parent / "summary.json", summary)
    atomic_write_text(parent / "summary.md", output.format_seed_summary(summary))

