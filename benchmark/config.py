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
import types
import typing
from dataclasses import asdict, dataclass, field, fields

from classifiers import REGISTRY
from dataset import FORMATS, UsageError

from .cli_values import LabelMapAction, classifier_list, price_pair, size_list
from .options import (
    BUDGETS,
    CURVE,
    DATA,
    ENGINE,
    FAILING,
    RUN,
    WHICH,
    Shortcut,
    at_least,
    between,
    not_blank,
    option,
    option_of,
    positive_finite,
)

logger = logging.getLogger("benchmark")

#: Largest seed NumPy and scikit-learn accept.
MAX_SEED = 2**32 - 1
#: What "most accurate" can mean for the recommendation, tuning, curves and the frontier.
METRICS = ("accuracy", "f1_macro", "qwk")
#: Run options that set one hyperparameter of every classifier in the run that has it (``run`` and ``curve``).
SHORTCUTS = {
    "max_train_samples": Shortcut("max_train_samples", "bert, setfit: train on a stratified sample of N training reviews",
                                  metavar="N"),
    "eval_every": Shortcut("eval_every", "BERT: also evaluate (and keep the best weights) every STEPS steps", metavar="STEPS"),
    "llm_price_per_mtok": Shortcut("price_per_mtok", "llm: the endpoint's price per million tokens in and out; the "
                                   "record then says what a million reviews cost", parse=price_pair, metavar="IN,OUT"),
}
#: Keys older sentibench versions saved in a run's config that no longer define a run.
_RETIRED_KEYS = ("verbose",)
#: Experiment trackers ``--track`` knows.
TRACKERS = ("mlflow",)
#: Dask scheduler address schemes ``--cluster`` accepts.
CLUSTER_SCHEMES = ("tcp", "tls")


def _apply_shortcut(shortcut: str, value, classifiers: list[str], params: dict) -> None:
    """Set the hyperparameter ``shortcut`` stands for in every classifier of the run that has it."""
    flag, param = f"--{shortcut.replace('_', '-')}", SHORTCUTS[shortcut].param
    if isinstance(value, int) and value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")
    targets = [n for n in classifiers if REGISTRY.is_builtin(n) and param in REGISTRY[n]().get_params()]
    if not targets:
        raise UsageError(f"{flag} sets the {param} hyperparameter, which none of {', '.join(classifiers)} has")
    for name in targets:
        params.setdefault(name, {})[param] = value


def _dask_address(flag: str, value: str) -> None:
    scheme, sep, rest = value.partition("://")
    host, colon, port = rest.rpartition(":")
    if not (sep and scheme in CLUSTER_SCHEMES and host and colon and port.isdigit()):
        raise UsageError(f"{flag} expects a Dask scheduler address such as tcp://HOST:8786, got {value!r}")


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
    """Everything that defines a benchmark run; saved in every ``results.json``.

    A field made with :func:`~benchmark.options.option` is a run option, declared here only."""

    data: str | None = option(
        None, group=DATA, check=not_blank("pass a review file (or leave --data out for the default data)"),
        help="review file, a downloaded dataset (yelp-polarity, yelp-polarity:train) or a Hugging Face dataset "
        "(hf:NAME[:SPLIT]), or a bundled sample (sample:uci, sample:pang-lee); default: $SENTIBENCH_DATA, then "
        "dataset/yelp_reviews.csv, then sample:uci (3,000 review sentences from Yelp, Amazon and IMDb)")
    format: str | None = option(None, group=DATA, choices=FORMATS,
                                help="file format (default: detected from extension and content)")
    text_column: str | None = option(None, group=DATA,
                                     help="column holding the review text (CSV/TSV/JSONL/Parquet with a header)")
    label_column: str | None = option(None, group=DATA,
                                      help="column holding the label (CSV/TSV/JSONL/Parquet with a header)")
    star_threshold: int | None = option(
        None, group=DATA, help="collapse star ratings to two classes: below this is negative, above is positive, equal "
        "is dropped (e.g. 3; by default ratings stay one class per star)")
    label_map: dict[str, list[str]] | None = option(
        None, group=DATA, nargs="+", metavar="CLASS=VALUES", action=LabelMapAction,
        help="group label values into classes, in class order, e.g. --label-map negative=1,2 neutral=3 positive=4,5 "
        '(or a JSON object such as \'{"negative": [1, 2], "positive": [4, 5]}\'); values left out are dropped and counted')
    dedupe: bool = option(False, help="drop repeated reviews (same text after whitespace normalisation) before splitting")
    sample_size: int | None = option(None, metavar="N", check=at_least(10),
                                     help="first draw a stratified sample of N reviews")
    seed: int = option(42, check=between(0, MAX_SEED), help="seed of the sample, the split and the classifiers (default 42)")
    classifiers: list[str] = option(
        default_factory=available_classifiers, group=WHICH, metavar="NAMES", parse=classifier_list,
        help="comma-separated classifiers, from: {names}; or your own as MODULE:ATTR (a SentimentClassifier, "
        "or a class or zero-argument callable giving a scikit-learn classifier over texts)")  # in run order
    params: dict[str, dict] = field(default_factory=dict)  # per-classifier hyperparameters (--set, --config)
    output: str = option("results", help="folder that receives the run folder (default results/)")
    latency_calls: int = option(100, commands=RUN, check=at_least(1),
                                help="timed single-review calls per classifier (default 100)")
    latency_warmup: int = option(5, commands=RUN, check=at_least(0),
                                 help="untimed single-review calls before the timed ones (default 5)")
    save_models: bool = option(
        False, commands=RUN,
        help="keep each fitted classifier under RUN_DIR/models/NAME (BERT as a Hugging Face folder)")
    max_latency_ms: float | None = option(None, commands=RUN, group=BUDGETS, metavar="MS", check=positive_finite,
                                          help="recommend only classifiers whose single-review p50 is at most MS")
    max_train_s: float | None = option(None, commands=RUN, group=BUDGETS, metavar="S", check=positive_finite,
                                       help="recommend only classifiers that train in at most S seconds")
    max_model_mb: float | None = option(None, commands=RUN, group=BUDGETS, metavar="MB", check=positive_finite,
                                        help="recommend only classifiers whose saved model is at most MB")
    cpu_hour_price: float | None = option(
        None, commands=RUN, group=BUDGETS, metavar="PRICE", check=positive_finite,
        help="price of one CPU core-hour: adds the price of classifying a million reviews to the table")
    gpu_hour_price: float | None = option(
        None, commands=RUN, group=BUDGETS, metavar="PRICE", check=positive_finite,
        help="price of one GPU-hour: the price of a million reviews for classifiers that ran on a GPU")
    metric: str = option(
        "accuracy", choices=METRICS,
        help="what 'most accurate' means for the recommendation, tuning, learning curves and the frontier: accuracy "
        "(default), f1_macro (fairer with imbalanced classes) or qwk (quadratic weighted kappa, ordered classes such as stars)")
    tune: bool = option(False, commands=RUN,
                        help="first search each classifier's main hyperparameters on the validation split (the test "
                        "split is used once, after the choice); the spaces are listed in README")
    tune_budget_min: float | None = option(None, commands=RUN, metavar="M", check=positive_finite, requires="tune",
                                           help="minutes each classifier's search may take (default 10)")
    robustness: bool = option(
        False, commands=RUN, group=FAILING,
        help="also run behavioural tests on every classifier (negation, contrast, typos, added sentences...; "
        "robustness.json and a report section)")
    robustness_suite: str | None = option(
        None, commands=RUN, group=FAILING, metavar="FILE", check=not_blank("name a JSON file"), requires="robustness",
        help="JSON file that adds, replaces or drops behavioural tests and word lists (format in README)")
    group_column: str | None = option(
        None, commands=RUN, group=FAILING, metavar="COL", check=not_blank("name a column of the data"),
        help="column of the data naming each review's group (product, source, city): accuracy per group in the report "
        "(header formats and hf:)")
    jobs: int = option(1, group=ENGINE, metavar="N", check=at_least(1),
                       help="fit N units (classifier x seed, or curve points) at once in worker processes, each with "
                       "its share of the cores; latency is then timed afterwards, one classifier at a time (default 1)")
    cluster: str | None = option(
        None, group=ENGINE, metavar="ADDRESS", check=_dask_address,
        help="send the units to a Dask scheduler, e.g. tcp://HOST:8786 (default $SENTIBENCH_DASK_SCHEDULER; "
        "needs pip install 'sentibench[dask]')")
    track: str | None = option(
        None, group=ENGINE, choices=TRACKERS,
        help="log the finished run to MLflow (needs pip install 'sentibench[mlflow]'); the store is "
        "$MLFLOW_TRACKING_URI, else a SQLite file mlflow.db in the output folder")

    def __post_init__(self):
        self.validate()

    # -- rules ----------------------------------------------------------------------------

    def validate(self) -> None:
        """Check every option's own range (declared with it), then the rules between fields; a
        one-line UsageError names the option."""
        self._check_types()
        for f in fields(self):
            if (declared := option_of(f)) is not None:
                declared.validate(f.name, getattr(self, f.name))
                if declared.requires and getattr(self, f.name) is not None and not getattr(self, declared.requires):
                    flag, needed = declared.flag_of(f.name), f"--{declared.requires.replace('_', '-')}"
                    raise UsageError(f"{flag} applies to {needed}; add {needed}")
        if self.cluster is not None and self.jobs != 1:
            raise UsageError("--jobs and --cluster exclude each other: with --cluster the Dask workers run the units")
        if self.star_threshold is not None and self.label_map is not None:
            raise UsageError("--star-threshold and --label-map both say how to read the labels; give one of them")
        self._check_classifiers()

    def _check_classifiers(self) -> None:
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
        """The fields that are run options (``--NAME``), besides ``classifiers`` (``--all`` or ``--classifiers``)."""
        return [f.name for f in fields(cls) if option_of(f) is not None and f.name != "classifiers"]

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


#: How and where a run's units run and whether it is tracked (the options of the ENGINE group): saved
#: with the run for the record, but never part of its digest, and never taken from a run folder (a
#: folder must not choose a cluster to connect to or a server to send results to); ``--resume`` takes
#: them from its command line.
ENGINE_FIELDS = tuple(f.name for f in fields(RunConfig) if getattr(option_of(f), "group", None) == ENGINE)


def _sizes(flag: str, value: list[int]) -> None:
    if not value or min(value) < 10:
        raise UsageError(f"{flag} must be training-set sizes of at least 10, got {value}")


_PER_CLASS_RULE = "--per-class takes labels per class of at least 2 (such as 8,16,32,64), and not with --sizes"


def _per_class(flag: str, value: list[int]) -> None:
    if not value or min(value) < 2:
        raise UsageError(_PER_CLASS_RULE)


@dataclass
class CurveConfig(RunConfig):
    """A run's config plus the training-set sizes and the number of repeats of a learning curve."""

    sizes: list[int] | None = option(
        None, commands=CURVE, metavar="LIST", parse=size_list, check=_sizes,
        help="comma-separated training-set sizes (default: 100, doubling, up to the whole training part)")
    repeats: int = option(3, commands=CURVE, check=at_least(1), help="samples drawn per size below the whole training "
                          "part (default 3); mean, spread and CI are reported")
    per_class: list[int] | None = option(
        None, commands=CURVE, metavar="LIST", parse=size_list, check=_per_class,
        help="sizes as labels per class, such as 8,16,32,64: each sample holds exactly that many of each class")

    def validate(self) -> None:
        super().validate()
        if self.per_class is not None and self.sizes is not None:
            raise UsageError(_PER_CLASS_RULE)


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
