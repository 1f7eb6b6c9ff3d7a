"""Fitting one classifier and measuring what it costs: the record of one classifier."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from classifiers import REGISTRY, SentimentClassifier, params_to_json
from classifiers.external import ExternalClassifier, NotSaved
from dataset import Split

from .schema import ClassifierRecord, Metrics
from .stats import (
    BOOTSTRAP_SEED,
    N_RESAMPLES,
    Classes,
    bootstrap_ci,
    brier_multiclass,
    brier_score,
    calibration_view,
    expected_calibration_error,
    finite_or_none,
    ordinal_scores,
)
from .timing import PeakGpuMemory, PeakMemory, folder_size_mb, measure_latency, stopwatch

logger = logging.getLogger(__name__)


def classes_of(split: Split) -> Classes:
    """What the metrics need to know about the classes of ``split``."""
    data = split.data
    values = None if data.class_values is None else tuple(data.class_values)
    return Classes(data.n_classes, data.ordinal, values)


def evaluate(y_true, y_pred, proba, classes: Classes, class_names: list[str]) -> Metrics:
    """Test-set metrics of one classifier: the numbers the seed notebook printed, and more.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        Class positions (0 to K - 1).
    proba : ndarray of shape (n_samples, K)
        Class probabilities: for ROC-AUC (one class against the rest, averaged, above two
        classes), the expected calibration error over 15 equal-width bins (of P(class 1)
        for two classes, top-label above) and the Brier score.
    classes : Classes
        How many, whether ordered (MAE, QWK and off-by-one accuracy from three on).
    class_names : list of str
        Their names, for the per-class report.
    """
    labels = list(range(classes.n))
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    all_present = len(np.unique(y_true)) == classes.n
    if classes.n == 2:
        roc_auc = float(roc_auc_score(y_true, proba[:, 1])) if all_present else None
        (tn, fp), (fn, tp) = matrix
        rates = {"false_positive_rate": float(fp / (fp + tn)) if fp + tn else None,
                 "false_negative_rate": float(fn / (fn + tp)) if fn + tp else None}
    else:
        roc_auc = float(roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)) if all_present else None
        rates = {}
    view_y, view_p = calibration_view(y_true, proba)
    metrics: Metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "roc_auc": roc_auc,
        **rates,
        "confusion_matrix": matrix.astype(int).tolist(),
        "report": classification_report(y_true, y_pred, labels=labels, target_names=[str(n) for n in class_names],
                                        output_dict=True, zero_division=0),
        "n_test": int(len(y_true)),
        "ece": expected_calibration_error(view_y, view_p),
        "brier": brier_score(y_true, view_p) if classes.n == 2 else brier_multiclass(y_true, proba),
    }
    if classes.has_ordinal_metrics:
        ordinal = ordinal_scores(y_true, y_pred, classes.n, classes.values)
        metrics.update({k: finite_or_none(v) for k, v in ordinal.items()})
    return metrics


@dataclass(frozen=True)
class Measurement:
    """How every classifier of a run is measured (from the run's config)."""

    latency_calls: int = 100  # timed single-review calls
    latency_warmup: int = 5  # untimed calls before them
    cpu_hour_price: float | None = None  # for the price of a million reviews
    progress: bool = False  # progress bars of the latency loop
    gpu_hour_price: float | None = None  # the same for classifiers that predict on a GPU

    @classmethod
    def of(cls, cfg, progress: bool = False) -> Measurement:
        """The measurement a run's config (:class:`~benchmark.config.RunConfig`) asks for."""
        return cls(cfg.latency_calls, cfg.latency_warmup, cfg.cpu_hour_price, progress, cfg.gpu_hour_price)


def cost_per_million(inference: dict, n_test: int, cpu_hour_price: float | None = None,
                     gpu_hour_price: float | None = None) -> dict:
    """What classifying a million reviews costs, from the whole-test-set prediction.

    On a CPU: core-seconds (CPU time of every thread) and their price at
    ``cpu_hour_price`` per core-hour. On a GPU (``inference["device"]`` is not ``"cpu"``),
    the GPU is the resource: GPU-seconds (wall time, during which the GPU is held) and
    their price at ``gpu_hour_price``; the CPU time that kept the GPU fed is kept as
    ``core_s_per_million`` but priced only with the GPU.
    """
    cpu_s, wall_s = inference.get("test_cpu_s"), inference.get("test_time_s")
    if cpu_s is None or not n_test:
        return {"core_s_per_million": None, "price_per_million": None}
    core_s = cpu_s / n_test * 1e6
    if inference.get("device", "cpu") == "cpu":
        price = None if cpu_hour_price is None else core_s / 3600 * cpu_hour_price
        return {"core_s_per_million": core_s, "price_per_million": price}
    gpu_s = wall_s / n_test * 1e6
    price = None if gpu_hour_price is None else gpu_s / 3600 * gpu_hour_price
    return {"core_s_per_million": core_s, "gpu_s_per_million": gpu_s, "price_per_million": price}


def device_of(clf) -> str:
    """Where ``clf`` predicts: ``"cpu"``, or ``"cuda"`` (``"cuda:1"``...) for a network on a GPU."""
    device = str(getattr(clf, "device_", "cpu") or "cpu")
    return "cpu" if device.startswith("cpu") else device


def run_one(clf: SentimentClassifier, split: Split, *, name: str | None = None, how: Measurement = Measurement(),
            tuning: dict | None = None, model_dir=None, card: dict | None = None,
            time_inference: bool = True) -> tuple[ClassifierRecord, dict]:
    """Fit ``clf`` on the training part (validation passed in) and measure it on test.

    Parameters
    ----------
    how : Measurement
        Latency calls, the price of a core-hour, progress bars.
    tuning : dict, optional
        The record of the search that chose ``clf``'s hyperparameters (``run --tune``).
    model_dir : path, optional
        Keep the fitted model there; by default it is saved to a temporary folder only
        to measure its size on disk.
    card : dict, optional
        What the runner knows about the data, for the saved model's card.
    time_inference : bool, default=True
        Time the whole-test-set prediction and single-review latency here. ``False`` when
        other fits run beside this one (``--jobs``, ``--cluster``): ``inference`` then holds the
        device only, for :func:`time_prediction` to fill in once nothing else runs.

    Returns
    -------
    record : ClassifierRecord
        Complete: ``train_time_s`` (wall clock of ``fit``), ``metrics`` (see :func:`evaluate`)
        and their bootstrap confidence intervals (``ci``), ``inference`` (whole-test-set
        throughput, single-review latency, cost of a million reviews), ``memory`` (peak
        resident MiB during fit and predict), ``model_size_mb``, ``params``, ``tuning`` and
        the classifier's own ``extra_record`` entries.
    predictions : dict
        ``pred`` and ``proba`` arrays over the test part.
    """
    name = name or clf.name
    test_texts, test_labels = split.texts("test"), split.labels("test")
    with PeakMemory() as fit_memory, PeakGpuMemory() as fit_gpu, stopwatch() as fit_time:
        clf.fit(split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))
    if time_inference:
        inference, proba, (predict_mb, predict_gpu_mb) = time_prediction(clf, test_texts, how, name)
    else:
        with PeakMemory() as predict_memory, PeakGpuMemory() as predict_gpu:
            proba = clf.predict_proba(test_texts)
        inference, predict_mb, predict_gpu_mb = {"device": device_of(clf)}, predict_memory.peak_mb, predict_gpu.peak_mb
    # predict() follows the sign of the decision function, which for the SVMs is not
    # exactly "probability > 0.5": it is asked separately.
    pred = clf.predict(test_texts)
    classes = classes_of(split)
    record: ClassifierRecord = {
        "classifier": name,
        "params": params_to_json(clf.get_params(deep=False)),
        "train_time_s": fit_time(),
        "metrics": evaluate(test_labels, pred, proba, classes, split.data.classes),
        "ci": bootstrap_ci(test_labels, pred, proba, classes=classes, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED),
        "inference": inference,
        "memory": {"fit_peak_rss_mb": fit_memory.peak_mb, "predict_peak_rss_mb": predict_mb},
    }
    if inference["device"] != "cpu":
        record["memory"].update({"fit_peak_gpu_mb": fit_gpu.peak_mb, "predict_peak_gpu_mb": predict_gpu_mb})
    if tuning is not None:
        record["tuning"] = tuning
    record.update(clf.extra_record(test=(test_texts, test_labels, pred)))
    report = record["metrics"]["report"]
    context = {
        **(card or {}), "metrics": {m: record["ci"][m] for m in ("accuracy", "f1_macro", "qwk", "mae") if m in record["ci"]},
        "per_class": {str(n): {"precision": report[str(n)]["precision"], "recall": report[str(n)]["recall"],
                               "f1": report[str(n)]["f1-score"], "support": int(report[str(n)]["support"])}
                      for n in split.data.classes} if classes.n > 2 else None,
        "train_time_s": record["train_time_s"], "inference_check": record.get("inference_check"),
    }
    record.update(_save(clf, name, model_dir, context))
    return record, {"pred": pred, "proba": proba}


def time_prediction(clf: SentimentClassifier, test_texts: list[str], how: Measurement,
                    name: str) -> tuple[dict, np.ndarray, tuple[float | None, float | None]]:
    """Time a fitted classifier on the test texts: the whole set at once (throughput, CPU
    time, cost of a million reviews) and single reviews (latency).

    Returns the ``inference`` entry of a record, the test probabilities and the peak
    resident MiB and peak GPU MiB of the whole-set prediction.
    """
    # One warm-up call: lazy set-up (BERT builds its traced model) is not throughput.
    clf.predict_proba(test_texts[:1])
    cpu_start = time.process_time()
    with PeakMemory() as predict_memory, PeakGpuMemory() as predict_gpu, stopwatch() as predict_time:
        proba = clf.predict_proba(test_texts)
    # CPU time of every thread: what serving these reviews costs in core-seconds.
    test_cpu_s = time.process_time() - cpu_start
    inference = {
        "device": device_of(clf),
        "test_time_s": predict_time(),
        "test_cpu_s": test_cpu_s,
        "throughput_per_s": len(test_texts) / predict_time() if predict_time() > 0 else None,
        **measure_latency(
            clf.predict_proba, test_texts, n_calls=how.latency_calls, warmup=how.latency_warmup,
            desc=f"{name} latency", verbose=how.progress,
        ),
    }
    inference.update(clf.request_latency() or {})  # an endpoint's requests, not its cache's answers
    inference.update(cost_per_million(inference, len(test_texts), how.cpu_hour_price, how.gpu_hour_price))
    return inference, proba, (predict_memory.peak_mb, predict_gpu.peak_mb)


def _save(clf: SentimentClassifier, name: str, model_dir, context: dict) -> dict:
    """Save the fitted classifier (to measure its size; kept with ``--save-models``).

    A classifier from the user's own code is saved only when nothing in it needs that
    code to load (see ``classifiers.external``); otherwise the record says why not.
    """
    if not REGISTRY.is_builtin(name) and not isinstance(clf, ExternalClassifier):
        return {"model_size_mb": None, "model_saved": False,
                "model_not_saved": "a plugin's own SentimentClassifier needs its code to load; sentibench never runs code to load a model"}
    try:
        if model_dir is not None:
            return {"model_size_mb": folder_size_mb(clf.save(model_dir, card=context)), "model_saved": True}
        with tempfile.TemporaryDirectory() as tmp:
            return {"model_size_mb": folder_size_mb(clf.save(Path(tmp) / "model", card=context)), "model_saved": False}
    except NotSaved as exc:
        logger.warning("%s was not saved: %s", name, exc)
        return {"model_size_mb": None, "model_saved": False, "model_not_saved": str(exc)}
