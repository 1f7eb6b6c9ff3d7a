"""``RunConfig``: everything that defines a benchmark run, saved in every ``results.json``."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields

from classifiers import REGISTRY
from dataset import UsageError


@dataclass
class RunConfig:
    """Everything that defines a benchmark run; saved in every ``results.json``."""

    data: str | None = None  # file to load; None: SENTIBENCH_DATA, dataset/yelp_reviews.csv, bundled sample
    format: str | None = None  # loader format; None: detect from extension and content
    text_column: str | None = None  # column holding the review (header formats)
    label_column: str | None = None  # column holding the label (header formats)
    star_threshold: int | None = None  # star ratings: below -> negative, above -> positive, equal dropped
    label_map: dict[str, int | None] | None = None  # original label -> 0, 1 or None (drop)
    dedupe: bool = False  # drop repeated texts (after whitespace normalisation) before splitting
    sample_size: int | None = None  # draw a stratified sample of this many reviews first
    seed: int = 42  # split, sample and every classifier's random state
    classifiers: list[str] = field(default_factory=lambda: list(REGISTRY))  # registry names, in run order
    params: dict[str, dict] = field(default_factory=dict)  # per-classifier hyperparameter overrides
    output: str = "results"  # parent folder of the run folder
    latency_calls: int = 100  # timed single-review calls per classifier
    latency_warmup: int = 5  # untimed calls before them
    save_models: bool = False  # keep every fitted classifier under <run>/models/<name>
    max_latency_ms: float | None = None  # budget: single-review p50 latency (recommendation only)
    max_train_s: float | None = None  # budget: training time
    max_model_mb: float | None = None  # budget: model size on disk
    cpu_hour_price: float | None = None  # price of a core-hour, for the cost of a million reviews
    tune: bool = False  # search each classifier's main hyperparameters on the validation split first
    tune_budget_min: float = 10.0  # minutes each classifier's search may take
    verbose: bool = True  # progress bars

    def budgets(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("max_latency_ms", "max_train_s", "max_model_mb") if getattr(self, k) is not None}

    def digest(self) -> str:
        """Short hash of what determines the results (not where they go)."""
        key = {k: v for k, v in asdict(self).items() if k not in ("output", "verbose", "save_models")}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:8]

    @classmethod
    def from_saved(cls, saved: object, where: str) -> RunConfig:
        """The config stored in a run folder, checked (a one-line error when it is not one)."""
        known = {f.name for f in fields(cls)}
        if not isinstance(saved, dict) or not set(saved) <= known:
            unknown = sorted(set(saved) - known) if isinstance(saved, dict) else []
            raise UsageError(f"{where} holds no usable run config" + (f" (unknown keys {unknown})" if unknown else ""))
        cfg = cls(**saved)
        if not (isinstance(cfg.classifiers, list) and all(isinstance(n, str) for n in cfg.classifiers)
                and isinstance(cfg.params, dict) and all(isinstance(v, dict) for v in cfg.params.values())):
            raise UsageError(f"{where} holds no usable run config (classifiers and params malformed)")
        wrong = [f.name for f in fields(cls) if not _has_type(getattr(cfg, f.name), f.type)]
        if wrong:
            raise UsageError(f"{where} holds no usable run config (malformed {', '.join(wrong)})")
        # A run folder is data: it may name built-in classifiers and installed plugins, never
        # code to import (a MODULE:ATTR spec would run whatever module it names).
        foreign = [n for n in cfg.classifiers if n not in REGISTRY]
        if foreign:
            raise UsageError(
                f"{where} names the classifier(s) {', '.join(map(repr, foreign))}, which are neither built in nor "
                "installed plugins; sentibench does not import code named in a run folder: start a new run "
                "that names them on the command line"
            )
        return cfg


#: What each annotated field of the configs may hold when read back from a file.
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,), "list": (list,), "None": (type(None),)}


def _has_type(value, annotation: str) -> bool:
    """Whether ``value`` (read from JSON) fits a field annotated ``annotation`` (a string,
    as ``from __future__ import annotations`` leaves it): ``int | None``, ``dict[str, int]``..."""
    outer = re.sub(r"\[[^\]]*\]", "", annotation)  # dict[str, int | None] | None -> dict | None
    allowed = tuple(t for part in outer.split("|") for t in _TYPES[part.strip()])
    if isinstance(value, bool) and bool not in allowed:
        return False  # JSON true is not a seed
    return isinstance(value, allowed)
