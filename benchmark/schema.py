"""The shape of a run's results: the one module that knows the keys of ``results.json``.

The runner builds these records, ``output`` and ``report`` render them, ``compare`` and
``predict`` read them back (through :func:`load_results`, which checks them), and the
headline numbers are taken out of a record only through :data:`HEADLINE_METRICS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from dataset import SentibenchError, refuse_constant, terminal_safe

RESULTS_FILE = "results.json"
#: Every test prediction, exactly (machine-readable); ``PREDICTIONS_TABLE`` is its copy for people.
PREDICTIONS_FILE = "predictions.jsonl"
PREDICTIONS_TABLE = "predictions.csv"
CURVE_FILE = "learning_curve.json"
#: Behavioural tests of a run's classifiers; its shape is documented in ``benchmark.robustness.record``.
ROBUSTNESS_FILE = "robustness.json"


def folder_name(name: str) -> str:
    """A classifier's name as a folder name (a ``module:attr`` spec has a colon)."""
    return re.sub(r"[^\w.-]", "_", name)


class RunFolderError(SentibenchError, ValueError):
    """A run folder that cannot be used: missing, unreadable or malformed files."""


class DataInfo(TypedDict, total=False):
    source: str
    chosen_by: str
    format: str
    rows_read: int
    dropped: dict[str, int]
    rows_loaded: int
    rows_used: int
    label_names: dict[str, str]  # class position -> the original label values it holds
    classes: list[str]  # class names, in class order
    ordinal: bool  # ordered classes (star ratings, negative/neutral/positive, label-map groups)
    class_values: list[float] | None  # the number of each class (star ratings), for MAE
    duplicates: dict[str, Any]


class SplitManifest(TypedDict, total=False):
    sizes: dict[str, int]  # train / validation / test
    class_counts: dict[str, dict[str, int]]
    sha256: str  # of the three index arrays
    data_sha256: str  # of the texts and labels, in row order
    n_total: int
    dedupe_removed: int  # only with --dedupe


class Metrics(TypedDict, total=False):
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    roc_auc: float | None
    false_positive_rate: float | None
    false_negative_rate: float | None
    confusion_matrix: list[list[int]]
    report: dict
    n_test: int
    ece: float  # expected calibration error, 15 equal-width bins (of P(class 1) for two classes, top-label above)
    brier: float  # two classes: mean squared error of P(class 1); above: the multi-class Brier score
    mae: float | None  # ordered classes (three or more): mean absolute error in class values (stars) or classes
    qwk: float | None  # quadratic weighted kappa
    off_by_one: float  # share of predictions at most one class away


class Interval(TypedDict):
    value: float
    low: float
    high: float


class DebiasedInterval(Interval, total=False):
    plugin: float  # the binned estimate; value is the debiased one (stats.debiased_interval)


class ConfidenceIntervals(TypedDict, total=False):
    """Bootstrap intervals of the test metrics (``stats.bootstrap_ci``): percentile intervals,
    and for the ECE, biased upwards, the debiased value with the basic interval."""

    accuracy: Interval
    f1_macro: Interval
    ece: DebiasedInterval
    brier: Interval
    n_resamples: int
    confidence: float


class Inference(TypedDict, total=False):
    device: str  # where the classifier predicted: "cpu", "cuda"
    test_time_s: float
    test_cpu_s: float  # CPU time of every thread during test_time_s
    core_s_per_million: float | None
    gpu_s_per_million: float | None  # on a GPU: GPU-seconds (wall time held) per million reviews
    price_per_million: float | None  # with --cpu-hour-price (CPU) or --gpu-hour-price (GPU)
    throughput_per_s: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    latency_mean_ms: float
    latency_calls: int


class Memory(TypedDict, total=False):
    fit_peak_rss_mb: float | None
    predict_peak_rss_mb: float | None
    fit_peak_gpu_mb: float | None  # on a GPU: torch's peak allocation
    predict_peak_gpu_mb: float | None


class Tuning(TypedDict, total=False):
    """The search behind a classifier's hyperparameters (``run --tune``)."""

    metric: str  # what the validation score is
    space: dict[str, list]
    trials: list[dict]  # params, val_score, seconds; in the order they ran
    chosen: dict[str, Any]
    default_val_score: float | None  # None: the run's own values could not be fitted
    tuned_val_score: float
    tuning_time_s: float
    budget_s: float
    complete: bool  # every candidate tried (else stopped by the budget)
    skipped: str  # a classifier with no search space


class ClassifierRecord(TypedDict, total=False):
    """One fitted classifier. ``fit_info``, ``history``, ``top_terms``, ``inference_choice``,
    ``inference_check``, ``thresholds`` (vader) and ``zeroshot`` come from the classifier's own
    ``extra_record``."""

    classifier: str
    params: dict[str, Any]
    train_time_s: float
    metrics: Metrics
    ci: ConfidenceIntervals
    inference: Inference
    memory: Memory
    model_size_mb: float
    model_saved: bool
    fit_info: dict
    history: list[dict]
    top_terms: dict
    inference_choice: dict | None
    inference_check: dict
    thresholds: dict  # vader: the class order and the compound cuts chosen on training labels
    zeroshot: dict  # the label descriptions, and which labels were used for what
    label_free: bool  # its predictions use no training labels (the recommendation weighs whether labels pay)
    temperature: float
    tuning: Tuning  # with --tune


class Environment(TypedDict, total=False):
    python: str
    platform: str
    cpu: str
    cpu_count: int
    packages: dict[str, str]
    sentibench_version: str
    git_commit: str | None
    torch_threads: int
    cuda: str | None
    world_size: int
    resumed_on_cpus: list[str]  # a resumed run finished on other CPUs than ``cpu``


class Recommendation(TypedDict, total=False):
    classifier: str | None
    reason: str
    budgets: dict[str, float]
    within_budget: list[str]
    budget_unknown: dict[str, list[str]]
    most_accurate: str
    runner_up: str
    metric: str  # what "most accurate" meant (--metric)
    difference: dict  # of the metric, best minus runner-up, with a paired bootstrap 95% CI
    mcnemar_p: float
    closest: str


class RunResults(TypedDict, total=False):
    format: int  # RESULTS_FORMAT
    run_id: str
    status: str  # running, complete, interrupted, failed: NAME
    created: str
    config: dict[str, Any]  # asdict(RunConfig)
    environment: Environment
    data: DataInfo
    split: SplitManifest
    classifiers: dict[str, ClassifierRecord]
    pareto: dict[str, Any]  # the metric against latency / training time: names on each frontier, and "metric"
    recommendation: Recommendation
    slices: dict[str, Any]  # accuracy per review length and per group (benchmark.robustness.slices.slices_of)


class SeedSummary(TypedDict):
    seeds: list[int]
    runs: dict[str, str]  # seed -> run folder name, of the seeds that finished (the ones summarised)
    folders: dict[str, str]  # seed -> run folder name, of every seed started
    status: str
    config: dict[str, Any]
    metrics: dict[str, dict[str, dict[str, Any]]]  # classifier -> metric -> mean/std/values
    pairs: list[dict]  # per pair: mean accuracy difference and the corrected resampled t-test


class CurvePoint(TypedDict):
    """One fit of a learning curve, scored on the run's test split."""

    classifier: str
    train_size: int
    repeat: int
    accuracy: float
    f1_macro: float
    train_time_s: float
    test_predictions: str  # one digit per test review: its predicted class position


class CurveRow(TypedDict):
    """One classifier at one training-set size, over its repeats."""

    train_size: int
    repeats: int
    accuracy_mean: float
    accuracy_std: float
    accuracy_min: float
    accuracy_max: float
    accuracy_ci: list[float]  # bootstrap over the test reviews, of the mean over repeats
    f1_macro_mean: float
    train_time_s_mean: float


class LearningCurve(TypedDict, total=False):
    """``learning_curve.json``: rewritten after every fit, complete with its summary at the end."""

    run_id: str
    status: str  # running, complete, interrupted, failed: NAME on SIZE
    created: str
    config: dict[str, Any]  # asdict(CurveConfig)
    environment: Environment
    data: DataInfo
    split: SplitManifest
    points: list[CurvePoint]
    summary: dict[str, list[CurveRow]]  # classifier -> one row per size
    findings: list[str]


# -- reading a record: every module takes the record's values through these -----------------


def accuracy(record: ClassifierRecord) -> float:
    return record["metrics"]["accuracy"]


def metric_value(record: ClassifierRecord, metric: str) -> float | None:
    """A test metric by name (``accuracy``, ``f1_macro``...)."""
    return record["metrics"].get(metric)


def latency_p50_ms(record: ClassifierRecord) -> float:
    return record["inference"]["latency_p50_ms"]


def train_time_s(record: ClassifierRecord) -> float:
    return record["train_time_s"]


def model_size_mb(record: ClassifierRecord) -> float | None:
    return record.get("model_size_mb")


#: Headline metrics (summarised across seeds, compared between runs): name -> getter.
HEADLINE_METRICS: dict[str, Callable[[ClassifierRecord], float | None]] = {
    "accuracy": accuracy,
    "f1_macro": lambda r: r["metrics"]["f1_macro"],
    "qwk": lambda r: r["metrics"].get("qwk"),
    "roc_auc": lambda r: r["metrics"]["roc_auc"],
    "train_time_s": train_time_s,
    "latency_p50_ms": latency_p50_ms,
}



#: The keys every results.json has, with their JSON types.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "status": str, "config": dict, "environment": dict, "data": dict,
    "split": dict, "classifiers": dict,
}
_RECORD_REQUIRED = {"classifier": str, "train_time_s": (int, float), "metrics": dict, "ci": dict, "inference": dict}
#: The version of the run folder's files; a folder of another version is read by the sentibench that wrote it.
RESULTS_FORMAT = 3


def check_results(results: object, where: str) -> RunResults:
    """``results`` if it has the shape of a :class:`RunResults`, else a one-line error."""
    if not isinstance(results, dict):
        raise RunFolderError(f"{where} is not a sentibench results file (a JSON {type(results).__name__}, not an object)")
    for key, kind in _REQUIRED.items():
        if not isinstance(results.get(key), kind):
            raise RunFolderError(f"{where} is not a complete sentibench results file (no valid '{key}')")
    if results.get("format") != RESULTS_FORMAT:
        raise RunFolderError(
            f"{where} was written by another sentibench version (format {results.get('format', 'before 3')!r}; this one "
            f"reads format {RESULTS_FORMAT}): use the version that wrote it, or run it again"
        )
    classes = results["data"].get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)):
        raise RunFolderError(f"{where} names no classes ('data.classes')")
    for name, record in results["classifiers"].items():
        _check_record(name, record, where)
    for key in ("sha256", "sizes"):
        if key not in results["split"]:
            raise RunFolderError(f"{where} has no split manifest ('split.{key}')")
    problem = _answer_problem(results)
    if problem:
        raise RunFolderError(f"{where}: {problem}; it is not the file sentibench wrote")
    return results  # type: ignore[return-value]


def _check_record(name: str, record: object, where: str) -> None:
    for key, kind in _RECORD_REQUIRED.items():
        if not isinstance(record, dict) or not isinstance(record.get(key), kind):
            raise RunFolderError(f"{where}: the record of {name!r} has no valid '{key}'")
    for part, key in (("metrics", "accuracy"), ("metrics", "f1_macro"), ("inference", "latency_p50_ms")):
        value = record[part].get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RunFolderError(f"{where}: the record of {name!r} has no valid {part}.{key}")


#: What a classifier's name may hold (registry names, plugin names, MODULE:ATTR): nothing a
#: report would render as markup.
CLASSIFIER_NAME = re.compile(r"[\w.:+-]{1,200}")


def _answer_problem(results: dict) -> str | None:
    """What is wrong with the run-level answer (``pareto``, ``recommendation``): each name
    in it must be a classifier with a record (the report looks them up)."""
    records = results["classifiers"]
    for name in records:
        if not CLASSIFIER_NAME.fullmatch(name):
            return f"the classifier name {terminal_safe(name)!r:.80} is not one sentibench writes"
    named: list[tuple[str, object]] = []
    problem = _pareto_names(results.get("pareto"), named) or _recommendation_names(results.get("recommendation"), named)
    if problem:
        return problem
    for what, name in named:
        if not isinstance(name, str) or name not in records:
            return f"{what} names {name!r:.60}, which has no record"
    return None


def _pareto_names(pareto, named: list) -> str | None:
    """Add the names of the frontiers to ``named``; what is wrong with their shape, if anything."""
    if pareto is None:
        return None
    if not isinstance(pareto, dict) or not all(isinstance(pareto.get(k), list) for k in ("latency", "train_time")):
        return "'pareto' is not two lists of classifiers"
    named += [("the pareto frontier", n) for k in ("latency", "train_time") for n in pareto[k]]
    return None


def _recommendation_names(recommendation, named: list) -> str | None:
    """Add the names in the recommendation to ``named``; what is wrong with its shape, if anything."""
    if recommendation is None:
        return None
    if not isinstance(recommendation, dict) or not isinstance(recommendation.get("reason"), str):
        return "'recommendation' has no reason"
    named += [(f"recommendation.{k}", recommendation[k]) for k in ("most_accurate", "runner_up", "closest")
              if k in recommendation]
    if recommendation.get("classifier") is not None:
        named.append(("recommendation.classifier", recommendation["classifier"]))
    if not isinstance(recommendation.get("within_budget", []), list):
        return "'recommendation.within_budget' is not a list"
    named += [("recommendation.within_budget", n) for n in recommendation.get("within_budget", [])]
    return None


def load_results(run_dir) -> RunResults:
    """Read and check ``RUN_DIR/results.json``."""
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no {RESULTS_FILE}); pass a folder under results/")
    try:
        # NaN and Infinity are no JSON numbers and sentibench never writes them; JSON
        # nested deeper than the parser's recursion limit is no results file either.
        results = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RunFolderError(f"cannot read {path}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    return check_results(results, str(path))
