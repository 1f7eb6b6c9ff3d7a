"""Train every classifier on one identical split and measure what it costs.

The flow is: :func:`prepare_data` loads the reviews, optionally draws a stratified
sample and makes the single stratified train/validation/test split; :func:`run_one`
fits one classifier and returns a plain record (timings and metrics); :func:`run`
does that for each requested classifier and writes the run folder after each one, so
an interrupted run keeps what finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)
from tqdm.auto import tqdm

from classifiers import REGISTRY, SentimentClassifier, process_rank, world_size
from dataset import atomic_write_text
from dataset import ReviewData, load_reviews, resolve_data_source, split_manifest, stratified_sample, stratified_split

from . import output
from .environment import environment
from .report import write_report
from .timing import PeakMemory, folder_size_mb, measure_latency, stopwatch

logger = logging.getLogger(__name__)

#: Sub-folder of a run folder holding the fitted classifiers (``--save-models``).
MODELS_DIR = "models"
#: Sub-folder holding per-epoch training checkpoints (removed when a classifier finishes).
CHECKPOINTS_DIR = "checkpoints"


class UsageError(ValueError):
    """A mistake in the command line, config file or hyperparameters."""


@dataclass
class RunConfig:
    """Everything that defines a benchmark run; saved in every ``results.json``."""

    data: str | None = None  # file to load; None: SENTIBENCH_DATA, dataset/yelp_reviews.csv, bundled sample
    format: str | None = None  # loader format; None: detect from extension and content
    text_column: str | None = None  # column holding the review (header formats)
    label_column: str | None = None  # column holding the label (header formats)
    star_threshold: int | None = None  # star ratings: below -> negative, above -> positive, equal dropped
    sample_size: int | None = None  # draw a stratified sample of this many reviews first
    seed: int = 42  # split, sample and every classifier's random state
    classifiers: list[str] = field(default_factory=lambda: list(REGISTRY))  # registry names, in run order
    params: dict[str, dict] = field(default_factory=dict)  # per-classifier hyperparameter overrides
    output: str = "results"  # parent folder of the run folder
    latency_calls: int = 100  # timed single-review calls per classifier
    latency_warmup: int = 5  # untimed calls before them
    save_models: bool = False  # keep every fitted classifier under <run>/models/<name>
    verbose: bool = True  # progress bars

    def digest(self) -> str:
        """Short hash of what determines the results (not where they go)."""
        key = {k: v for k, v in asdict(self).items() if k not in ("output", "verbose", "save_models")}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]


@dataclass
class Split:
    """One dataset and the index arrays of its train, validation and test parts."""

    data: ReviewData
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def texts(self, part: str) -> list[str]:
        return [self.data.texts[i] for i in getattr(self, part)]

    def labels(self, part: str) -> np.ndarray:
        return self.data.labels[getattr(self, part)]

    def manifest(self) -> dict:
        return split_manifest(self.data.labels, self.train, self.validation, self.test)


def prepare_data(cfg: RunConfig) -> tuple[Split, dict]:
    """Load, sample and split the data described by ``cfg``.

    Returns
    -------
    split : Split
    data_info : dict
        Where the data came from and what was dropped, for ``results.json``.
    """
    source, why = resolve_data_source(cfg.data)
    if why.startswith("bundled"):
        logger.warning("data: %s", why)
    else:
        logger.info("data: %s (chosen by %s)", source, why)
    data = load_reviews(
        source,
        text_column=cfg.text_column,
        label_column=cfg.label_column,
        format=cfg.format,
        star_threshold=cfg.star_threshold,
    )
    info = {
        "source": data.source,
        "chosen_by": why,
        "format": data.format,
        "rows_read": data.n_read,
        "dropped": data.dropped,
        "rows_loaded": len(data),
        "label_names": {str(k): v for k, v in data.label_names.items()},
    }
    if cfg.sample_size is not None and cfg.sample_size < len(data):
        data = data.subset(stratified_sample(data.labels, cfg.sample_size, seed=cfg.seed))
        logger.info("using a stratified sample of %d reviews (seed %d)", len(data), cfg.seed)
    info["rows_used"] = len(data)
    train, val, test = stratified_split(data.labels, seed=cfg.seed)
    return Split(data, train, val, test), info


def make_classifier(name: str, params: dict | None = None, seed: int | None = None) -> SentimentClassifier:
    """Instantiate registry classifier ``name`` with overrides ``params``.

    ``seed`` is passed as the classifier's ``random_state`` (or ``seed``) unless
    ``params`` sets it.

    Raises
    ------
    UsageError
        For an unknown classifier or hyperparameter, naming the valid ones.
    """
    if name not in REGISTRY:
        raise UsageError(f"unknown classifier {name!r}; choose from: {', '.join(REGISTRY)}")
    clf = REGISTRY[name]()
    valid = clf.get_params()
    params = dict(params or {})
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(f"unknown {name} hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    for key in ("random_state", "seed"):
        if seed is not None and key in valid and key not in params:
            params[key] = seed
    for key, value in params.items():
        # Values from the command line or JSON arrive as lists where a tuple is meant.
        if isinstance(valid[key], tuple) and isinstance(value, list):
            params[key] = tuple(value)
    return clf.set_params(**params)


def evaluate(y_true, y_pred, proba_pos) -> dict:
    """Test-set metrics of one classifier: the numbers the seed notebook printed, and more.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
    proba_pos : ndarray of shape (n_samples,)
        Probability of the positive class.
    """
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    both_classes = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "roc_auc": float(roc_auc_score(y_true, proba_pos)) if both_classes else None,
        "false_positive_rate": float(fp / (fp + tn)) if fp + tn else None,
        "false_negative_rate": float(fn / (fn + tp)) if fn + tp else None,
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "report": classification_report(
            y_true, y_pred, labels=[0, 1], target_names=["negative", "positive"], output_dict=True, zero_division=0
        ),
        "n_test": int(len(y_true)),
    }


def run_one(clf: SentimentClassifier, split: Split, *, latency_calls=100, latency_warmup=5, verbose=True, model_dir=None):
    """Fit ``clf`` on the training part (validation passed in) and measure it on test.

    Parameters
    ----------
    model_dir : path, optional
        Keep the fitted model there; by default it is saved to a temporary folder only
        to measure its size on disk.

    Returns
    -------
    record : dict
        ``train_time_s`` (wall clock of ``fit``), ``metrics`` (see :func:`evaluate`),
        ``inference`` (whole-test-set throughput and single-review latency),
        ``memory`` (peak resident MiB during fit and predict), ``model_size_mb``,
        ``params`` and, where the classifier has them, ``history`` and ``top_terms``.
    predictions : dict
        ``pred`` and ``proba`` arrays over the test part.
    """
    test_texts, test_labels = split.texts("test"), split.labels("test")
    with PeakMemory() as fit_memory, stopwatch() as fit_time:
        clf.fit(split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))
    # One warm-up call: lazy set-up (BERT builds its int8 model) is not throughput.
    clf.predict_proba(test_texts[:1])
    with PeakMemory() as predict_memory, stopwatch() as predict_time:
        proba = clf.predict_proba(test_texts)
    pred = clf.predict(test_texts)
    inference = {
        "test_time_s": predict_time(),
        "throughput_per_s": len(test_texts) / predict_time() if predict_time() > 0 else None,
        **measure_latency(
            clf.predict_proba, test_texts, n_calls=latency_calls, warmup=latency_warmup,
            desc=f"{clf.name} latency", verbose=verbose,
        ),
    }
    if model_dir is not None:
        size = folder_size_mb(clf.save(model_dir))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            size = folder_size_mb(clf.save(Path(tmp) / clf.name))
    record = {
        "classifier": clf.name,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in clf.get_params().items()},
        "train_time_s": fit_time(),
        "metrics": evaluate(test_labels, pred, proba[:, 1]),
        "inference": inference,
        "memory": {"fit_peak_rss_mb": fit_memory.peak_mb, "predict_peak_rss_mb": predict_memory.peak_mb},
        "model_size_mb": size,
    }
    if hasattr(clf, "fit_info_"):
        record["fit_info"] = clf.fit_info_
    if hasattr(clf, "history_"):
        record["history"] = clf.history_
    if hasattr(clf, "top_terms"):
        record["top_terms"] = clf.top_terms(20)
    if hasattr(clf, "compare_inference"):
        # BERT predicts with an int8 model on CPUs: record what that costs in accuracy.
        record["inference_check"] = clf.compare_inference(test_texts, test_labels, predictions=pred)
    return record, {"pred": pred, "proba": proba[:, 1]}


def _run_worker(cfg: RunConfig, resume) -> tuple[None, None]:
    """What a process other than the main one does in a multi-process run: load the same
    data, make the same split and take part in fitting the classifiers that train
    data-parallel (BERT). Everything else (the classical models, evaluation, latency,
    every file) is the main process's."""
    if resume is not None:
        cfg = RunConfig(**json.loads((Path(resume) / output.RESULTS_FILE).read_text(encoding="utf-8"))["config"])
    split, _ = prepare_data(cfg)
    for name in cfg.classifiers:
        clf = make_classifier(name, cfg.params.get(name), seed=cfg.seed)
        if getattr(clf, "supports_distributed", False):
            clf.fit(split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))
    return None, None


def _load_for_resume(run_dir: Path) -> tuple[dict, dict]:
    """The results of an earlier run and the test predictions of its finished classifiers."""
    import pandas as pd

    try:
        results = json.loads((run_dir / output.RESULTS_FILE).read_text(encoding="utf-8"))
        frame = pd.read_csv(run_dir / output.PREDICTIONS_FILE, keep_default_na=False)
        RunConfig(**results["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot resume {run_dir}: not a readable run folder ({exc})") from None
    if results.get("status") == "complete":
        raise UsageError(f"{run_dir} is already complete; nothing to resume")
    done = {
        name: {"pred": frame[f"{name}_pred"].to_numpy(), "proba": frame[f"{name}_proba"].to_numpy()}
        for name in results["classifiers"]
    }
    return results, done


def new_run_dir(cfg: RunConfig) -> Path:
    """``<output>/<UTC timestamp>-<config hash>``, created; never reuses a folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(cfg.output) / f"{stamp}-{cfg.digest()}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    run_dir.mkdir(parents=True)
    return run_dir


def run(cfg: RunConfig, resume: Path | None = None) -> tuple[Path, dict]:
    """Run the benchmark described by ``cfg``; returns the run folder and its results.

    Files in the run folder are rewritten (atomically) after each classifier. On
    ``KeyboardInterrupt`` the results of the classifiers that finished are kept, the
    status is ``"interrupted"``, and the exception propagates.

    With ``resume`` (a run folder; ``cfg`` is then ignored in favour of the folder's own
    config), the classifiers that finished are kept and skipped, after checking that the
    data still gives the identical split; BERT continues from its last saved epoch.
    """
    if process_rank() != 0:
        return _run_worker(cfg, resume)
    if resume is not None:
        run_dir = Path(resume)
        results, done = _load_for_resume(run_dir)
        cfg = RunConfig(**results["config"])
    classifiers = [make_classifier(n, cfg.params.get(n), seed=cfg.seed) for n in cfg.classifiers]
    unknown = sorted(set(cfg.params) - set(cfg.classifiers))
    if unknown:
        raise UsageError(f"hyperparameters given for {', '.join(unknown)}, which this run does not include")
    split, data_info = prepare_data(cfg)
    manifest = split.manifest()
    if resume is None:
        run_dir = new_run_dir(cfg)
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
        predictions = {}
    else:
        if manifest["sha256"] != results["split"]["sha256"]:
            raise UsageError(
                f"cannot resume {run_dir}: the data now gives a different split (manifest "
                f"{manifest['sha256'][:12]} != {results['split']['sha256'][:12]}); start a new run"
            )
        predictions = done
        results["status"] = "running"
        classifiers = [c for c in classifiers if c.name not in results["classifiers"]]
        logger.info("resuming %s: %s already finished", run_dir, ", ".join(results["classifiers"]) or "nothing")
    for clf in classifiers:
        # BERT saves each finished epoch here, so a killed run resumes mid-training.
        if "checkpoint_dir" in clf.get_params():
            clf.set_params(checkpoint_dir=str(run_dir / CHECKPOINTS_DIR / clf.name))
    logger.info(
        "split (seed %d): %d train / %d validation / %d test, manifest %s",
        cfg.seed, len(split.train), len(split.validation), len(split.test), manifest["sha256"][:12],
    )
    output.write_run(run_dir, results, split, predictions)
    try:
        for clf in tqdm(classifiers, desc="classifiers", disable=not cfg.verbose, leave=False):
            logger.info("***** %s: training on %d reviews *****", clf.name, len(split.train))
            try:
                record, preds = run_one(
                    clf, split, latency_calls=cfg.latency_calls, latency_warmup=cfg.latency_warmup, verbose=cfg.verbose,
                    model_dir=run_dir / MODELS_DIR / clf.name if cfg.save_models else None,
                )
            except ValueError as exc:
                # Bad hyperparameter values and unusable data surface as ValueError in fit.
                logger.debug("%s failed", clf.name, exc_info=True)
                results["status"] = f"failed: {clf.name}"
                output.write_run(run_dir, results, split, predictions)
                raise UsageError(f"{clf.name} failed: {exc}") from exc
            results["classifiers"][clf.name] = record
            predictions[clf.name] = preds
            output.write_run(run_dir, results, split, predictions)
            m = record["metrics"]
            logger.info("%s: accuracy %.4f, macro F1 %.4f, trained in %.1f s", clf.name, m["accuracy"], m["f1_macro"], record["train_time_s"])
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


#: Headline metrics (summarised across seeds, compared between runs): name -> function of a record.
HEADLINE_METRICS = {
    "accuracy": lambda r: r["metrics"]["accuracy"],
    "f1_macro": lambda r: r["metrics"]["f1_macro"],
    "roc_auc": lambda r: r["metrics"]["roc_auc"],
    "train_time_s": lambda r: r["train_time_s"],
    "latency_p50_ms": lambda r: r["inference"]["latency_p50_ms"],
}


def run_seeds(cfg: RunConfig, seeds: list[int]) -> tuple[Path, dict]:
    """Repeat the whole comparison once per seed (sample, split and classifiers).

    Each seed's run folder is kept inside one parent folder, next to ``summary.json``
    and ``summary.md`` with the mean and standard deviation of each metric.
    """
    if process_rank() != 0:
        for seed in seeds:
            _run_worker(replace(cfg, seed=seed), None)
        return None, None
    parent = new_run_dir(replace(cfg, seed=seeds[0]))
    parent = parent.rename(parent.with_name(parent.name + "-seeds"))
    summary = {"seeds": seeds, "runs": {}, "status": "running", "config": asdict(cfg)}
    per_seed: dict[str, dict[str, list[float]]] = {}
    try:
        for seed in seeds:
            logger.info("===== seed %d (%d of %d) =====", seed, seeds.index(seed) + 1, len(seeds))
            run_dir, results = run(replace(cfg, seed=seed, output=str(parent)))
            summary["runs"][str(seed)] = run_dir.name
            for name, record in results["classifiers"].items():
                for metric, get in HEADLINE_METRICS.items():
                    per_seed.setdefault(name, {}).setdefault(metric, []).append(get(record))
    except KeyboardInterrupt:
        summary["status"] = "interrupted"
        raise
    else:
        summary["status"] = "complete"
    finally:
        summary["metrics"] = {
            name: {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
                   for m, v in metrics.items()}
            for name, metrics in per_seed.items()
        }
        output.write_json(parent / "summary.json", summary)
        atomic_write_text(parent / "summary.md", output.format_seed_summary(summary))
    return parent, summary
