"""What a :class:`~classifiers.bert.BertClassifier` fit prepares for the training loop: the
rows it trains on, their encoded data, and the loop's settings (with what ``"auto"`` chose)."""

from __future__ import annotations

import logging

import numpy as np
import torch

from dataset import stratified_sample

from ..encoder.gpu import choose_batch, choose_compile
from ._train import TrainingData, TrainSettings

#: The classifier's logger: these lines keep the name they are logged under (``_model``).
logger = logging.getLogger(f"{__package__}._model")


def training_params(clf) -> dict:
    """The hyperparameters that shape training (a checkpoint is only resumed by these)."""
    ignored = {"checkpoint_dir", "verbose", "inference", "compile"}
    return {k: v for k, v in clf.get_params().items() if k not in ignored}


def limit_training_rows(clf, texts, y, sample_weight):
    """Stratified subsample of ``max_train_samples`` training reviews, recorded in ``fit_info_``."""
    n = len(texts)
    if clf.max_train_samples is None or clf.max_train_samples >= n:
        clf.fit_info_ = {"method": "full", "rows": n, "of_rows": n}
        return texts, y, sample_weight
    keep = stratified_sample(y, clf.max_train_samples, seed=clf.seed)
    logger.warning("bert: training on a stratified sample of %d of %d reviews (max_train_samples)", len(keep), n)
    clf.fit_info_ = {"method": "subsample", "rows": len(keep), "of_rows": n}
    return [texts[i] for i in keep], y[keep], None if sample_weight is None else sample_weight[keep]


def training_data(clf, texts, y, validation, sample_weight) -> TrainingData:
    """The training and validation reviews encoded, with labels and loss weights on the training device."""
    has_validation = bool(validation and len(validation[0]))
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    return TrainingData(
        encoded=clf._encode(texts),
        labels=torch.as_tensor(y, device=clf.device_),
        weights=torch.as_tensor(weights, dtype=torch.float32, device=clf.device_),
        val_encoded=clf._encode(validation[0]) if has_validation else None,
        val_labels=np.asarray(validation[1]) if has_validation else None,
    )


def train_settings(clf, rows: int) -> TrainSettings:
    """The loop's settings, with the batch and compile choices for ``rows`` reviews recorded in ``fit_info_``."""
    batch = choose_batch(clf.batch_size, clf.learning_rate, clf.device_)
    clf.fit_info_["batch"] = batch
    clf.fit_info_["compile"] = choose_compile(clf.compile, clf.device_, clf.epochs * rows)
    logger.info("bert: batch %d, learning rate %g (%s); %s", batch["batch_size"], batch["learning_rate"],
                batch["reason"], clf.fit_info_["compile"]["reason"])
    return TrainSettings.from_params({
        **clf.get_params(), "batch_size": batch["batch_size"], "learning_rate": batch["learning_rate"],
        "compile": clf.fit_info_["compile"]["compile"],
    })
