"""Runs in MLflow: ``run --track mlflow``, ``curve --track mlflow`` and ``track RUN_DIR``.

A run folder becomes one MLflow run: its config and every classifier's hyperparameters as
params (``seed``, ``bow.C``), every number of a record as a metric named
``CLASSIFIER.METRIC`` (``bow.accuracy``, ``bert.latency_p50_ms``, ``bow.accuracy_ci_low``),
tags naming the split and data hashes, sentibench's version and commit and the CPU/GPU, and
``results.json``, ``report.md``/``report.html``, the plots and ``predictions.csv`` as artifacts. A ``--seeds``
folder is a parent run (means and spreads) with one nested run per seed; a learning curve is
a parent run (each size's mean as a step of ``CLASSIFIER.accuracy_mean``) with one nested run
per fit.

Where: ``$MLFLOW_TRACKING_URI`` when set; otherwise a SQLite file ``mlflow.db`` in the output
folder that holds the run folder, with artifacts in ``mlartifacts/`` beside it. Nothing leaves
the machine unless the user points MLflow elsewhere; MLflow's own usage telemetry is switched
off unless the user's environment says otherwise. Tracking happens after the run folder is
complete, and a failure (a server down, a bad URI) is one warning line: the folder is kept
and can be logged later with ``track``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

from dataset import SentibenchError, UsageError

from . import __version__
from .curve import is_curve_folder
from .schema import CURVE_FILE, RESULTS_FILE, folder_name, load_results
from .seeds import SUMMARY_FILE, is_seeds_folder, read_seed_summary, seed_folders

logger = logging.getLogger(__name__)

__all__ = ["TrackingError", "record_metrics", "track_folder", "tracking_uri"]

#: MLflow experiment that receives sentibench's runs unless ``$MLFLOW_EXPERIMENT_NAME`` names another.
EXPERIMENT = "sentibench"
#: The default local store, in the output folder.
STORE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
#: MLflow settings sentibench gives when the user's environment does not: no usage telemetry,
#: and a few quick retries (MLflow's default retries an unreachable server for minutes).
_MLFLOW_DEFAULTS = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}
#: Files of a run folder kept as artifacts (the plots are added by pattern).
_RUN_ARTIFACTS = (RESULTS_FILE, "report.md", "report.html", "comparison.md", "predictions.csv", "robustness.json")
_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}  # per log_batch call


class TrackingError(SentibenchError):
    """A run folder could not be logged to the tracker."""


def tracking_uri(run_dir: Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else the SQLite store in the folder that holds ``run_dir``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path(run_dir).resolve().parent / STORE_FILE)}"


def track_folder(run_dir: Path, *, warn_only: bool = False) -> str | None:
    """Log a finished run, ``--seeds`` or curve folder to MLflow; returns the MLflow run id.

    With ``warn_only`` (``--track``: the run itself succeeded) a failure is one warning line
    and ``None``; otherwise it is a one-line :class:`TrackingError`.
    """
    run_dir = Path(run_dir)
    try:
        return _track(run_dir)
    except Exception as exc:  # MLflow, SQLAlchemy and HTTP errors alike: the folder is never at stake
        if isinstance(exc, UsageError) and not warn_only:
            raise
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        if not warn_only:
            raise TrackingError(f"cannot log {run_dir} to MLflow ({tracking_uri(run_dir)}): {message}") from None
        logger.warning("MLflow tracking failed (%s): %s; the run folder is complete, log it later with: "
                       "python -m benchmark track %s", tracking_uri(run_dir), message, run_dir)
        return None


def _track(run_dir: Path) -> str:
    if is_seeds_folder(run_dir):
        summary = read_seed_summary(run_dir)
        _require_complete(run_dir, summary["status"])
        kind = "seeds"
    elif is_curve_folder(run_dir):
        curve = json.loads((run_dir / CURVE_FILE).read_text(encoding="utf-8"))
        _require_complete(run_dir, curve.get("status"))
        kind = "curve"
    else:
        results = load_results(run_dir)
        _require_complete(run_dir, results["status"])
        kind = "run"
    # MLflow's retries and the creation of its store are not the user's business.
    quiet = [logging.getLogger(n) for n in ("urllib3.connectionpool", "alembic", "mlflow.store.db.utils")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        client, experiment = _client(run_dir)
        if kind == "seeds":
            return _log_seeds(client, experiment, run_dir, summary)
        if kind == "curve":
            return _log_curve(client, experiment, run_dir, curve)
        return _log_run(client, experiment, run_dir, results)
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)


def _require_complete(run_dir: Path, status) -> None:
    if status != "complete":
        raise UsageError(f"{run_dir} has not finished (status {status!r}); resume it first, then log it")


def _client(run_dir: Path):
    for key, value in _MLFLOW_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError("--track mlflow and track need MLflow: pip install 'sentibench[mlflow]'") from None
    uri = tracking_uri(run_dir)
    client = MlflowClient(tracking_uri=uri)
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return client, experiment.experiment_id
    # The default store keeps artifacts beside it (MLflow's default is ./mlruns in the working directory).
    local = None if "MLFLOW_TRACKING_URI" in os.environ else (Path(run_dir).resolve().parent / ARTIFACTS_DIR).as_uri()
    return client, client.create_experiment(name, artifact_location=local)


# -- what is logged -------------------------------------------------------------------------


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def record_metrics(name: str, record: dict) -> dict[str, float]:
    """Every number of a classifier's record as ``NAME.METRIC``: its test metrics, the bounds
    of their confidence intervals, its timings, memory, size and tuning scores."""
    prefix = folder_name(name)
    out: dict[str, float] = {}
    for part in ("metrics", "inference", "memory"):
        for key, value in (record.get(part) or {}).items():
            if _number(value) is not None:
                out[f"{prefix}.{key}"] = _number(value)
    for key, interval in (record.get("ci") or {}).items():
        if isinstance(interval, dict):
            for end in ("low", "high"):
                if _number(interval.get(end)) is not None:
                    out[f"{prefix}.{key}_ci_{end}"] = _number(interval[end])
    for key in ("train_time_s", "model_size_mb"):
        if _number(record.get(key)) is not None:
            out[f"{prefix}.{key}"] = _number(record[key])
    for key in ("tuned_val_score", "default_val_score", "tuning_time_s"):
        if _number((record.get("tuning") or {}).get(key)) is not None:
            out[f"{prefix}.{key}"] = _number(record["tuning"][key])
    return out


def _param_text(value) -> str:
    return (value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))[:6000]


def _config_params(config: dict) -> dict[str, str]:
    params = {k: _param_text(v) for k, v in config.items() if k not in ("params", "classifiers")}
    params["classifiers"] = ",".join(config.get("classifiers") or [])
    return params


def _tags(kind: str, folder: Path, results: dict) -> dict[str, str]:
    env, split = results.get("environment") or {}, results.get("split") or {}
    tags = {
        "sentibench.kind": kind, "sentibench.run_id": str(results.get("run_id", folder.name)),
        "sentibench.folder": str(folder.resolve()), "sentibench.version": str(env.get("sentibench_version") or __version__),
        "sentibench.git_commit": str(env.get("git_commit") or "unknown"), "sentibench.cpu": str(env.get("cpu") or "unknown"),
        "sentibench.gpu": str(env.get("cuda") or "none"),
        "sentibench.split_sha256": str(split.get("sha256", "")), "sentibench.data_sha256": str(split.get("data_sha256", "")),
        "sentibench.data": str((results.get("data") or {}).get("source", "")),
    }
    recommendation = results.get("recommendation") or {}
    if recommendation.get("classifier"):
        tags["sentibench.recommendation"] = str(recommendation["classifier"])
    return tags


def _new_run(client, experiment: str, name: str, tags: dict, parent: str | None = None) -> str:
    if parent is not None:
        tags = {**tags, "mlflow.parentRunId": parent}
    return client.create_run(experiment, run_name=name, tags=tags).info.run_id


def _log(client, run_id: str, metrics: dict | None = None, params: dict | None = None, steps: list | None = None) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    entries = [Metric(k, v, now, 0) for k, v in (metrics or {}).items()] + [Metric(k, v, now, s) for k, v, s in steps or []]
    for start in range(0, len(entries), _LIMITS["metrics"]):
        client.log_batch(run_id, metrics=entries[start:start + _LIMITS["metrics"]])
    pairs = [Param(k[:250], v) for k, v in (params or {}).items()]
    for start in range(0, len(pairs), _LIMITS["params"]):
        client.log_batch(run_id, params=pairs[start:start + _LIMITS["params"]])


def _artifacts(client, run_id: str, folder: Path, names) -> None:
    for path in [folder / n for n in names] + sorted(folder.glob("*.png")):
        if path.is_file() and not path.is_symlink():
            client.log_artifact(run_id, str(path))


def _log_run(client, experiment: str, run_dir: Path, results: dict, parent: str | None = None, kind: str = "run") -> str:
    run_id = _new_run(client, experiment, results["run_id"], _tags(kind, run_dir, results), parent)
    metrics: dict[str, float] = {}
    params = _config_params(results["config"])
    for name, record in results["classifiers"].items():
        metrics.update(record_metrics(name, record))
        params.update({f"{folder_name(name)}.{k}": _param_text(v) for k, v in (record.get("params") or {}).items()})
    _log(client, run_id, metrics, params)
    _artifacts(client, run_id, run_dir, _RUN_ARTIFACTS)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_seeds(client, experiment: str, parent_dir: Path, summary: dict) -> str:
    folders = seed_folders(parent_dir)
    first = load_results(folders[summary["seeds"][0]])
    tags = {**_tags("seeds", parent_dir, first), "sentibench.run_id": parent_dir.name,
            "sentibench.seeds": ",".join(map(str, summary["seeds"]))}
    run_id = _new_run(client, experiment, parent_dir.name, tags)
    metrics = {f"{folder_name(name)}.{m}_{stat}": _number(v[stat])
               for name, per_metric in summary["metrics"].items() for m, v in per_metric.items() for stat in ("mean", "std")
               if _number(v.get(stat)) is not None}
    _log(client, run_id, metrics, {**_config_params(summary["config"]), "seeds": ",".join(map(str, summary["seeds"]))})
    _artifacts(client, run_id, parent_dir, (SUMMARY_FILE, "summary.md"))
    for seed in summary["seeds"]:
        _log_run(client, experiment, folders[seed], load_results(folders[seed]), parent=run_id, kind="seed")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_curve(client, experiment: str, run_dir: Path, curve: dict) -> str:
    run_id = _new_run(client, experiment, str(curve.get("run_id", run_dir.name)), _tags("curve", run_dir, curve))
    steps = [(f"{folder_name(name)}.{key}", _number(row[key]), int(row["train_size"]))
             for name, rows in (curve.get("summary") or {}).items() for row in rows
             for key in ("accuracy_mean", "f1_macro_mean", "train_time_s_mean") if _number(row.get(key)) is not None]
    _log(client, run_id, params=_config_params(curve["config"]), steps=steps)
    _artifacts(client, run_id, run_dir, (CURVE_FILE, "learning_curve.csv", "report.md", "report.html"))
    for point in curve["points"]:
        child = _new_run(client, experiment, f"{point['classifier']} on {point['train_size']} (repeat {point['repeat'] + 1})",
                         {"sentibench.kind": "curve point"}, parent=run_id)
        _log(client, child, {k: _number(point[k]) for k in ("accuracy", "f1_macro", "qwk", "train_time_s")
                             if _number(point.get(k)) is not None},
             {"classifier": point["classifier"], "train_size": str(point["train_size"]), "repeat": str(point["repeat"])})
        client.set_terminated(child, "FINISHED")
    client.set_terminated(run_id, "FINISHED")
    return run_id
