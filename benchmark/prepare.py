"""Loading, checking, sampling and splitting the data of a run."""

from __future__ import annotations

import logging

import numpy as np

from dataset import ReviewData, Split, UsageError, load_reviews, resolve_data_source, stratified_sample, stratified_split

from .config import RunConfig
from .schema import DataInfo
from .stats import SMALL_TEST_SPLIT

logger = logging.getLogger(__name__)


def _normalised(texts) -> list[str]:
    return [" ".join(t.split()) for t in texts]


def duplicate_counts(data: ReviewData) -> dict:
    """Repeated texts (after whitespace normalisation) and texts carrying more than one label."""
    keys = _normalised(data.texts)
    labels_of: dict[str, set] = {}
    for key, label in zip(keys, data.labels.tolist(), strict=True):
        labels_of.setdefault(key, set()).add(label)
    conflicting = {k for k, v in labels_of.items() if len(v) > 1}
    return {
        "duplicate_rows": len(keys) - len(labels_of),
        "conflicting_texts": len(conflicting),
        "conflicting_rows": sum(1 for k in keys if k in conflicting),
    }


def leakage_counts(split: Split) -> dict:
    """How many validation and test reviews also appear (same text) in training, and test in validation."""
    keys = _normalised(split.data.texts)
    train = {keys[i] for i in split.train}
    validation = {keys[i] for i in split.validation}
    return {
        "validation_in_train": int(sum(keys[i] in train for i in split.validation)),
        "test_in_train": int(sum(keys[i] in train for i in split.test)),
        "test_in_validation": int(sum(keys[i] in validation for i in split.test)),
    }


def deduplicate(data: ReviewData) -> tuple[ReviewData, int]:
    """Keep the first review of each text (after whitespace normalisation)."""
    seen, keep = set(), []
    for i, key in enumerate(_normalised(data.texts)):
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return data.subset(np.asarray(keep, dtype=np.int64)), len(data) - len(keep)


def prepare_data(cfg: RunConfig) -> tuple[Split, DataInfo]:
    """Load, check, sample and split the data described by ``cfg``.

    Returns
    -------
    split : Split
    data_info : DataInfo
        Where the data came from, what was dropped and the duplicate counts.
    """
    split, info, _ = split_data(cfg, *load_data(cfg))
    return split, info


def load_data(cfg: RunConfig) -> tuple[ReviewData, DataInfo]:
    """Load and check the reviews of ``cfg`` (deduplicated with ``--dedupe``): what every
    seed of ``--seeds`` samples and splits (:func:`split_data`)."""
    source, why = resolve_data_source(cfg.data)
    logger.info("data: %s (chosen by %s)", source, why)
    data = load_reviews(
        source, text_column=cfg.text_column, label_column=cfg.label_column, format=cfg.format,
        star_threshold=cfg.star_threshold, label_map=cfg.label_map, group_column=cfg.group_column,
    )
    info: DataInfo = {
        "source": data.source,
        "chosen_by": why,
        "format": data.format,
        "rows_read": data.n_read,
        "dropped": data.dropped,
        "rows_loaded": len(data),
        "label_names": {str(k): v for k, v in data.label_names.items()},
        "classes": list(data.classes),
        "ordinal": data.ordinal,
        "class_values": None if data.class_values is None else list(data.class_values),
    }
    if cfg.metric == "qwk" and not (data.ordinal and data.n_classes >= 3):
        raise UsageError(
            f"--metric qwk needs three or more ordered classes (star ratings, negative/neutral/positive, label-map "
            f"groups); this data has {', '.join(data.classes)}: use --metric accuracy or f1_macro"
        )
    info["duplicates"] = duplicate_counts(data)
    if cfg.dedupe:
        data, removed = deduplicate(data)
        # Each text now appears once, with the label of its first row: the conflicts are
        # resolved (none is left to count), and how many there were is kept apart.
        duplicates = info["duplicates"]
        conflicts = duplicates["conflicting_texts"]
        duplicates.update({"removed_by_dedupe": removed, "conflicting_before_dedupe": conflicts,
                           **{k: v for k, v in duplicate_counts(data).items() if k.startswith("conflicting")}})
        logger.info("--dedupe: dropped %d repeated reviews before splitting%s", removed,
                    f" (kept the first label of {conflicts} texts that had more than one)" if conflicts else "")
    return data, info


def split_data(cfg: RunConfig, data: ReviewData, loaded: DataInfo) -> tuple[Split, DataInfo, np.ndarray | None]:
    """The sample (``--sample-size``) and split of ``cfg.seed`` from data :func:`load_data` gave.

    Returns the split, the run's data info, and the sample's positions in ``data`` (``None``:
    every review).
    """
    info: DataInfo = {k: v for k, v in loaded.items() if k != "duplicates"}
    duplicates = dict(loaded["duplicates"])
    rows = None
    if cfg.sample_size is not None and cfg.sample_size < len(data):
        rows = stratified_sample(data.labels, cfg.sample_size, seed=cfg.seed)
        data = data.subset(rows)
        logger.info("using a stratified sample of %d reviews (seed %d)", len(data), cfg.seed)
    info["rows_used"] = len(data)
    split = Split(data, *stratified_split(data.labels, seed=cfg.seed), dedupe_removed=duplicates.get("removed_by_dedupe"))
    duplicates.update(leakage_counts(split))
    info["duplicates"] = duplicates
    _warn_about(duplicates, len(split.test))
    return split, info, rows


def _warn_about(duplicates: dict, n_test: int) -> None:
    if duplicates["test_in_train"]:
        logger.warning(
            "%d of %d test reviews also appear in training (%d repeated texts in the data): test accuracy "
            "overstates accuracy on new reviews; pass --dedupe to drop repeats before splitting",
            duplicates["test_in_train"], n_test, duplicates["duplicate_rows"],
        )
    if duplicates["conflicting_texts"]:
        logger.warning(
            "%d texts appear with more than one label (%d rows): no classifier can get all of them right",
            duplicates["conflicting_texts"], duplicates["conflicting_rows"],
        )
    if n_test < SMALL_TEST_SPLIT:
        logger.warning(
            "the test split has only %d reviews: accuracy is measured to within several points "
            "(see the confidence intervals in report.md); use more data for a ranking you can trust", n_test,
        )
