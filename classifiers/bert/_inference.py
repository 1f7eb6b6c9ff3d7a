"""The network a fitted :class:`~classifiers.bert.BertClassifier` predicts with: the path
``inference="auto"`` chooses after training, its logits and scores, and how it compares
with the full-precision model."""

from __future__ import annotations

import logging

import numpy as np

from ..encoder.inference import (
    InferenceNets,
    batch_size_of,
    choice_set_by_user,
    device_paths,
    predict_logits,
    refuse_elsewhere,
    usable_path,
)
from ..encoder.network import PooledClassifier
from ._checkpoint import record_in_checkpoint
from ._train import TrainingData, TrainState

#: The classifier's logger: these lines keep the name they are logged under (``_model``).
logger = logging.getLogger(f"{__package__}._model")


def settle_inference_choice(clf, state: TrainState, data: TrainingData, procs, checkpoint, run_id) -> None:
    """Set ``clf.inference_choice_`` after training: the user's, a resumed fit's, or chosen now (and recorded)."""
    if clf.inference != "auto":  # set by the user: nothing to choose (and no time spent measuring)
        clf.inference_choice_ = choice_set_by_user(clf.inference)
    elif state.inference_choice is not None:
        # Chosen before this fit was interrupted: the resumed fit predicts as the first would have.
        clf.inference_choice_ = state.inference_choice
        logger.info("bert: predicting with %s, as chosen before the fit was interrupted", state.inference_choice["chosen"])
    else:
        clf.inference_choice_ = choose_inference(clf, data) if procs.is_main else None
        if clf.inference_choice_ is not None:
            record_in_checkpoint(checkpoint, run_id, inference_choice=clf.inference_choice_)


def choose_inference(clf, data: TrainingData) -> dict:
    """Pick the inference path on the validation split (``inference="auto"``): on a CPU
    int8/bf16/fp32, on a GPU bf16/fp16/fp32; a lower precision qualifies only if it
    keeps fp32's validation accuracy within 0.3 points, and the fastest qualifying path
    wins. Without a validation split nothing can be checked: fp32 on a CPU, the
    training precision on a GPU."""
    if data.val_encoded is None:
        logger.info("bert: no validation split to check faster precisions on")
        if clf.device_ == "cpu":
            return {"chosen": "fp32", "reason": "no validation split to check int8 or bf16 on"}
        return {"chosen": "train", "reason": f"{clf.device_}: no validation split; the training precision"}
    return inference_nets(clf).choose(data.val_encoded, data.val_labels, clf._runtime(), device_paths(clf.device_), name="bert")


def inference_path(clf) -> str:
    """The inference path ``predict`` uses: the one set, else the one chosen where it runs."""
    if clf.inference != "auto":
        return clf.inference
    return usable_path(getattr(clf, "inference_choice_", None), clf.device_, gpu_fallback="train")


def inference_nets(clf) -> InferenceNets:
    """The inference networks of ``clf``, built on first use and cached on it."""
    if getattr(clf, "_inference_nets", None) is None:
        clf._inference_nets = InferenceNets(PooledClassifier(clf.model_, clf.pooling), clf.tokenizer_.pad_token_id or 0,
                                            gpu=clf.device_ != "cpu", onnx_file=getattr(clf, "_onnx_file", None))
    return clf._inference_nets


def inference_logits(clf, encoded):
    """Raw logits of the inference path ``predict`` uses."""
    path = clf._inference_path()
    refuse_elsewhere("bert", path, clf.device_, also=("train",))
    return predict_logits(inference_nets(clf).get(path), encoded, clf._runtime(), autocast=path == "train",
                          batch_size=batch_size_of(path, clf.device_))


def scores(clf, logits) -> tuple[np.ndarray, np.ndarray]:
    """Decision values and probabilities from raw logits (temperature applied)."""
    scaled = logits / clf.temperature_
    values = scaled.numpy().astype(np.float64)
    decision = values[:, 1] - values[:, 0] if values.shape[1] == 2 else values
    return decision, scaled.softmax(-1).numpy().astype(np.float64)


def compare_inference(clf, X, y, predictions=None) -> dict:
    """:meth:`~classifiers.bert.BertClassifier.compare_inference` (see there)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf)
    y = np.asarray(y)
    used = clf.predict(X) if predictions is None else np.asarray(predictions)
    fp32 = PooledClassifier(clf.model_, clf.pooling).eval()
    logits = predict_logits(fp32, clf._encode(list(X)), clf._runtime(), autocast=False)
    reference = clf.classes_[logits.argmax(-1).numpy()]
    path = clf._inference_path()
    return {
        "inference": clf.precision_ if path == "train" else path,
        "accuracy": float((used == y).mean()),
        "accuracy_fp32": float((reference == y).mean()),
        "agreement": float((used == reference).mean()),
    }
