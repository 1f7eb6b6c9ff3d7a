"""The classifiers of a run, built and checked from its config: the one place ``run``,
``curve`` and ``--seeds`` get them from."""

from __future__ import annotations

from sklearn.utils._param_validation import InvalidParameterError

from classifiers import REGISTRY, SentimentClassifier, params_from_json
from dataset import UsageError

from .config import RunConfig


def make_classifier(name: str, params: dict | None = None, seed: int | None = None, *,
                    trusted_files: frozenset[str] = frozenset(), progress: bool = False) -> SentimentClassifier:
    """Instantiate classifier ``name`` with overrides ``params``, checked.

    ``seed`` is passed as the classifier's ``random_state`` (or ``seed``) unless ``params``
    sets it. ``trusted_files``: files the user named on the command line (the only ones a
    classifier may unpickle or read, see ``SentimentClassifier.checked_params``).
    ``progress``: the classifier's own progress bars, unless ``params`` switches them.

    Raises
    ------
    UsageError
        For an unknown classifier, hyperparameter or value, naming the valid ones.
    """
    if not REGISTRY.accepts(name):
        raise UsageError(f"unknown classifier {name!r}; choose from: {', '.join(REGISTRY)}, or give MODULE:ATTR")
    clf = REGISTRY.create(name)
    valid = clf.get_params(deep=False)
    params = dict(params or {})
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(f"unknown {name} hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    for key in ("random_state", "seed"):
        if seed is not None and key in valid and key not in params:
            params[key] = seed
    if clf.progress_param is not None and clf.progress_param not in params:
        params[clf.progress_param] = progress
    # Values from the command line or JSON arrive as lists where a tuple is meant.
    params = type(clf).checked_params(params_from_json(type(clf), params), trusted_files=trusted_files)
    clf.set_params(**params)
    try:
        clf.check_params()
    except InvalidParameterError as exc:
        raise UsageError(f"{name}: {exc}") from None
    return clf


def build_classifiers(cfg: RunConfig, *, trusted_files: frozenset[str] = frozenset(),
                      progress: bool = False) -> dict[str, SentimentClassifier]:
    """Name (as given: a registry name or a ``module:attr`` spec) -> checked classifier,
    with the run's hyperparameters and seed."""
    return {n: make_classifier(n, cfg.params.get(n), seed=cfg.seed, trusted_files=trusted_files, progress=progress)
            for n in cfg.classifiers}
