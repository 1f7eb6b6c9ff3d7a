"""What defines a run, in one place: its fields, their defaults and their rules.

``RunConfig`` checks itself when it is made (``__post_init__`` calls :meth:`RunConfig.validate`),
so a config built in code, read from ``--config``, typed on the command line or restored from a
run folder fails with the same one-line :class:`~dataset.UsageError`. The command line only
parses; :meth:`RunConfig.from_cli` applies the options that were given on top of these defaults.
Progress bars and log levels are not part of a run: they are passed to the runner separately and
never change what a run computes, its digest or its folder name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields

from classifiers import REGISTRY
from dataset import UsageError

logger = logging.getLogger("benchmark")

#: Largest seed NumPy and scikit-learn accept.
MAX_SEED = 2**32 - 1
#: What "most accurate" can mean for the recommendation, tuning, curves and the frontier.
METRICS = ("accuracy", "f1_macro", "qwk")
#: Run options that set one hyperparameter of every classifier in the run that has it.
SHORTCUTS = ("max_train_samples", "eval_every", "llm_price_per_mtok")
#: Shortcuts whose hyperparameter has another name than the option.
_SHORTCUT_PARAMS = {"llm_price_per_mtok": "price_per_mtok"}
#: Keys older sentibench versions saved in a run's config that no longer define a run.
_RETIRED_KEYS = ("verbose",)
#: How and where a run's units run and whether it is tracked: saved with the run for the record,
#: but never part of its digest, and never taken from a run folder (a folder must not choose a
#: cluster to connect to or a server to send results to); ``--resume`` takes them from its command line.
ENGINE_FIELDS = ("jobs", "cluster", "track")
#: Experiment trackers ``--track`` knows.
TRACKERS = ("mlflow",)
#: Dask scheduler address schemes ``--cluster`` accepts.
CLUSTER_SCHEMES = ("tcp", "tls")


def _apply_shortcut(shortcut: str, value, classifiers: list[str], params: dict) -> None:
    """Set the hyperparameter ``shortcut`` stands for in every classifier of the run that has it."""
    flag, param = f"--{shortcut.replace('_', '-')}", _SHORTCUT_PARAMS.get(shortcut, shortcut)
    if isinstance(value, int) and value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    targets = [n for n in classifiers if REGISTRY.is_builtin(n) and param in REGISTRY[n]().get_params()]
    if not targets:
        raise UsageError(f"{flag} sets the {param} hyperparameter, which none of {', '.join(classifiers)} has")
    for name in targets:
        params.setdefault(name, {})[param] = value


def available_classifiers() -> list[str]:
    """Every registered classifier that can run here; the others (an extra not installed, a
    broken plugin) are left out with a warning."""
    names = []
    for name in REGISTRY:
        if (unset := REGISTRY.unconfigured(name)) is not None:  # the user's choice, not a broken install
            logger.info("leaving out %s: %s", name, unset)
            continue
        reason = REGISTRY.unusable_reason(name)
        if reason is None:
            names.append(name)
        else:
            logger.warning("leaving out %s: %s", name, reason)
    return names


@dataclass
class RunConfig:
    """Everything that defines a benchmark run; saved in every ``results.json``."""

    data: str | None = None  # file or sample to load; None: SENTIBENCH_DATA, dataset/yelp_reviews.csv, sample:uci
    format: str | None = None  # loader format; None: detect from extension and content
    text_column: str | None = None  # column holding the review (header formats)
    label_column: str | None = None  # column holding the label (header formats)
    star_threshold: int | None = None  # collapse star ratings: below -> negative, above -> positive, equal dropped
    label_map: dict[str, list[str]] | None = None  # class name -> its label values, in class order; others dropped
    dedupe: bool = False  # drop repeated texts (after whitespace normalisation) before splitting
    sample_size: int | None = None  # draw a stratified sample of this many reviews first
    seed: int = 42  # split, sample and every classifier's random state
    classifiers: list[str] = field(default_factory=available_classifiers)  # registry names or MODULE:ATTR, in run order
    params: dict[str, dict] = field(default_factory=dict)  # per-classifier hyperparameter overrides
    output: str = "results"  # parent folder of the run folder
    latency_calls: int = 100  # timed single-review calls per classifier
    latency_warmup: int = 5  # untimed calls before them
    save_models: bool = False  # keep every fitted classifier under <run>/models/<name>
    max_latency_ms: float | None = None  # budget: single-review p50 latency (recommendation only)
    max_train_s: float | None = None  # budget: training time
    max_model_mb: float | None = None  # budget: model size on disk
    cpu_hour_price: float | None = None  # price of a core-hour, for the cost of a million reviews
    gpu_hour_price: float | None = None  # price of a GPU-hour, for classifiers that ran on a GPU
    metric: str = "accuracy"  # what "most accurate" means: accuracy, f1_macro or qwk (ordered classes)
    tune: bool = False  # search each classifier's main hyperparameters on the validation split first
    tune_budget_min: float | None = None  # minutes each classifier's search may take (None: 10 with tune)
    robustness: bool = False  # behavioural tests of every classifier after it is measured (robustness.json)
    robustness_suite: str | None = None  # JSON file adding or replacing behavioural tests (with robustness)
    group_column: str | None = None  # column of the data naming each review's group: accuracy per group
    jobs: int = 1  # units (fits) run at once on this machine, in joblib's loky processes
    cluster: str | None = None  # Dask scheduler address (tcp://HOST:8786): units run on its workers
    track: str | None = None  # log the finished run to this experiment tracker ("mlflow")

    def __post_init__(self):
        self.validate()

    # -- rules ----------------------------------------------------------------------------

    def validate(self) -> None:
        """Check every range and every rule between fields; a one-line UsageError names the option."""
        self._check_types()
        if self.data is not None and not self.data.strip():
            raise UsageError("--data is empty; pass a review file (or leave --data out for the default data)")
        if not 0 <= self.seed <= MAX_SEED:
            raise UsageError(f"--seed must be an integer from 0 to {MAX_SEED}, got {self.seed}")
        if self.sample_size is not None and self.sample_size < 10:
            raise UsageError(f"--sample-size must be at least 10, got {self.sample_size}")
        if self.latency_calls < 1:
            raise UsageError(f"--latency-calls must be at least 1, got {self.latency_calls}")
        if self.latency_warmup < 0:
            raise UsageError(f"latency_warmup must be 0 or more, got {self.latency_warmup}")
        for name in ("max_latency_ms", "max_train_s", "max_model_mb", "cpu_hour_price", "gpu_hour_price", "tune_budget_min"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"--{name.replace('_', '-')} must be a positive finite number, got {value}")
        if self.metric not in METRICS:
            raise UsageError(f"--metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.tune_budget_min is not None and not self.tune:
            raise UsageError("--tune-budget-min applies to --tune; add --tune")
        self._check_robustness_and_groups()
        self._check_engine()
        if self.star_threshold is not None and self.label_map is not None:
            raise UsageError("--star-threshold and --label-map both say how to read the labels; give one of them")
        if not self.classifiers:
            raise UsageError(f"no classifier to run; name at least one of: {', '.join(REGISTRY)}")
        unknown = [n for n in self.classifiers if not REGISTRY.accepts(n)]
        if unknown:
            raise UsageError(
                f"unknown classifier(s) {', '.join(unknown)}; choose from: {', '.join(REGISTRY)}, or give your own as MODULE:ATTR"
            )
        if len(set(self.classifiers)) != len(self.classifiers):
            raise UsageError(f"a classifier is named twice: {', '.join(self.classifiers)}")
        extra = sorted(set(self.params) - set(self.classifiers))
        if extra:
            raise UsageError(f"hyperparameters given for {', '.join(extra)}, which this run does not include")

    def _check_robustness_and_groups(self) -> None:
        if self.robustness_suite is not None and not self.robustness:
            raise UsageError("--robustness-suite applies to --robustness; add --robustness")
        for name, what in (("robustness_suite", "a JSON file"), ("group_column", "a column of the data")):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise UsageError(f"--{name.replace('_', '-')} is empty; name {what}")

    def _check_engine(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {self.jobs}")
        if self.cluster is not None:
            scheme, sep, rest = self.cluster.partition("://")
            host, colon, port = rest.rpartition(":")
            if not (sep and scheme in CLUSTER_SCHEMES and host and colon and port.isdigit()):
                raise UsageError(f"--cluster expects a Dask scheduler address such as tcp://HOST:8786, got {self.cluster!r}")
            if self.jobs != 1:
                raise UsageError("--jobs and --cluster exclude each other: with --cluster the Dask workers run the units")
        if self.track is not None and self.track not in TRACKERS:
            raise UsageError(f"--track must be one of {', '.join(TRACKERS)}, got {self.track!r}")

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        wrong = [f.name for f in fields(self) if not _fits(getattr(self, f.name), hints[f.name])]
        if wrong:
            raise UsageError(f"malformed {', '.join(f'{n} ({getattr(self, n)!r:.40})' for n in wrong)}")

    # -- derived values -------------------------------------------------------------------

    @property
    def tune_budget_s(self) -> float:
        return (10.0 if self.tune_budget_min is None else self.tune_budget_min) * 60

    def budgets(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("max_latency_ms", "max_train_s", "max_model_mb") if getattr(self, k) is not None}

    def digest(self) -> str:
        """Short hash of what determines the results (not where they go)."""
        key = {k: v for k, v in asdict(self).items() if k not in ("output", "save_models", *ENGINE_FIELDS)}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]

    # -- sources --------------------------------------------------------------------------

    @classmethod
    def cli_fields(cls) -> list[str]:
        """Fields the command line sets directly (``--NAME``), besides classifiers and params."""
        return [f.name for f in fields(cls) if f.name not in ("classifiers", "params", "latency_warmup")]

    @classmethod
    def from_cli(cls, args, **extra):
        """The config of the options given on the command line; the rest keeps its default.

        ``args`` is the parsed namespace: an option left out is ``None`` there. ``--config``
        and ``--set`` give ``params``; the shortcuts (``--max-train-samples``...) set that
        hyperparameter of every classifier in the run that has it.
        """
        values = {name: getattr(args, name) for name in cls.cli_fields() if getattr(args, name, None) is not None}
        values.update(extra)
        if getattr(args, "classifiers", None) is not None:
            values["classifiers"] = args.classifiers
        params = {name: dict(p) for name, p in (getattr(args, "config", None) or {}).items()}
        for name, param, value in getattr(args, "set", None) or []:
            params.setdefault(name, {})[param] = value
        classifiers = values.get("classifiers") or available_classifiers()
        values["classifiers"] = classifiers
        for shortcut in SHORTCUTS:
            if getattr(args, shortcut, None) is not None:
                _apply_shortcut(shortcut, getattr(args, shortcut), classifiers, params)
        values["params"] = params
        return cls(**values)

    @classmethod
    def from_saved(cls, saved: object, where: str, *, named_again: tuple[str, ...] = ()):
        """The config stored in a run folder, checked as any other (a one-line error when it is not one).

        A run folder is data: it may name built-in classifiers and installed plugins, never
        code to import (a ``MODULE:ATTR`` spec would run whatever module it names), except
        the specs the user names again on the command line (``named_again``).
        """
        if not isinstance(saved, dict):
            raise UsageError(f"{where} holds no usable run config (not an object)")
        saved = {k: v for k, v in saved.items() if k not in (*_RETIRED_KEYS, *ENGINE_FIELDS)}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(saved) - known)
        if unknown:
            raise UsageError(f"{where} holds no usable run config (unknown keys {unknown})")
        classifiers = saved.get("classifiers")
        if isinstance(classifiers, list):
            foreign = [n for n in classifiers if isinstance(n, str) and n not in REGISTRY and n not in named_again]
            if foreign:
                raise UsageError(
                    f"{where} names the classifier(s) {', '.join(map(repr, foreign))}, which are neither built in nor "
                    "installed plugins; sentibench does not import code named in a run folder: name them again with "
                    f"--resume RUN_DIR --classifiers {','.join(foreign)} (the code is checked against the run's), or start a new run"
                )
        try:
            return cls(**saved)
        except UsageError as exc:
            raise UsageError(f"{where} holds no usable run config ({exc})") from None


@dataclass
class CurveConfig(RunConfig):
    """A run's config plus the training-set sizes and the number of repeats of a learning curve."""

    sizes: list[int] | None = None  # None: 100, doubling, up to the whole training part
    repeats: int = 3  # samples per size below the whole training part
    per_class: list[int] | None = None  # sizes as labels per class (each sample holds exactly that many of each class)

    def validate(self) -> None:
        super().validate()
        if self.repeats < 1:
            raise UsageError(f"--repeats must be at least 1, got {self.repeats}")
        if self.sizes is not None and (not self.sizes or min(self.sizes) < 10):
            raise UsageError(f"--sizes must be training-set sizes of at least 10, got {self.sizes}")
        if self.per_class is not None and (self.sizes is not None or not self.per_class or min(self.per_class) < 2):
            raise UsageError("--per-class takes labels per class of at least 2 (such as 8,16,32,64), and not with --sizes")


def _fits(value, hint) -> bool:
    """Whether ``value`` (from code or JSON) fits the field type ``hint``: ``int | None``,
    ``dict[str, dict]``, ``list[str]``...; ``True`` is not an int here, an int is a float."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, (int, float))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_fits(k, key) and _fits(v, item) for k, v in value.items())
    return isinstance(value, hint)
