"""Frozen sentence embeddings + logistic regression: is fine-tuning needed at all?

MTEB's classification protocol: a frozen encoder turns each review into one vector
(mean pooling over real tokens, L2-normalised), and scikit-learn's
``LogisticRegression`` learns on top. Each text is encoded once per ``fit``;
the training time includes the encoding.
"""

from __future__ import annotations

import json
import logging
import os
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions

from dataset import UsageError, atomic_write_text, json_text

from ._calibration import decision_logits as _logits_of
from ._calibration import softmax_rows as _softmax
from ._persist import ModelFileError, check_estimator, skops_dump, skops_load
from ._search import Trials, accuracy, defaults_first
from .base import SentimentClassifier
from .encoder.batching import DEFAULT_MAX_LENGTH, encode
from .encoder.gpu import GPU_PATHS
from .encoder.hub import check_no_remote_code, load_pretrained, load_saved, quiet_transformers
from .encoder.inference import (
    CPU_PATHS,
    ONE_AT_A_TIME,
    InferenceNets,
    batch_size_of,
    choice_set_by_user,
    device_paths,
    fit_temperature,
    predict_logits,
    refuse_elsewhere,
    usable_path,
)
from .encoder.network import MeanPooledEncoder, check_max_length
from .encoder.onnx import save_graph, saved_graph
from .encoder.runtime import DEVICES, Runtime, resolve_device

logger = logging.getLogger(__name__)

_ENCODER_DIR = "encoder"
_MODEL_FILE = "logreg.skops"
_INFERENCE_FILE = "inference.json"  # the inference path chosen at fit (absent: fp32)
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64"})


class EmbeddingLogRegClassifier(SentimentClassifier):
    """Frozen sentence embeddings of a pretrained encoder, and a logistic regression.

    The default encoder is all-MiniLM-L6-v2, bundled (offline), used as it was trained:
    mean pooling and L2 normalisation. Any Hugging Face encoder name or folder works
    (never with remote code). Nothing of the encoder is trained.

    Parameters
    ----------
    model : str or path, optional
        Encoder name or folder; ``None`` is the bundled all-MiniLM-L6-v2.
    max_length : int, default=128
        Tokens per review, [CLS] and [SEP] included (longer reviews are cut).
    batch_size : int, default=64
        Reviews per forward pass when encoding (grouped by length).
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.
    class_weight : {"balanced"} or None, default=None
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the encoder runs: ``"auto"`` is the GPU when there is one.
    inference : {"auto", "fp32", "bf16", "int8", "fp16", "onnx-int8", "onnx-fp32"}, default="auto"
        How the encoder runs when predicting (training embeddings are always fp32): on a
        CPU int8, bf16 or fp32 (traced) or, with the ``[onnx]`` extra, on ONNX Runtime
        (onnx-fp32, onnx-int8), on a GPU bf16, fp16 or fp32. ``"auto"`` measures
        each path of the device on the validation split and takes the fastest whose
        validation accuracy is within 0.3 points of fp32's (equally fast paths, within 25%,
        go to the most exact), as BERT does; fp32 without a validation split.
    temperature_scaling : bool, default=True
        Divide the logistic regression's logits by a temperature fitted on the validation
        split (minimum log-loss), so that probabilities are calibrated; predictions do not change.
    random_state : int, optional

    Attributes
    ----------
    tokenizer_, encoder_ : the frozen encoder
    logreg_ : LogisticRegression
    device_ : str
        Where the encoder runs.
    inference_choice_ : dict
        The inference path (``chosen``), why, and with ``"auto"`` each candidate's
        validation accuracy and single-review latency.
    temperature_ : float
        The temperature the logits are divided by (1.0 without temperature scaling or validation).
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from classifiers import EmbeddingLogRegClassifier
    >>> clf = EmbeddingLogRegClassifier().fit(texts, labels)  # doctest: +SKIP
    """

    name = "embed"
    batches_well = True
    model_files = (_MODEL_FILE, f"{_ENCODER_DIR}/config.json", f"{_ENCODER_DIR}/model.safetensors")
    _parameter_constraints = {
        "model": [str, os.PathLike, None],
        "max_length": [Interval(Integral, 8, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), None],  # a dict would be keyed by the internal 0/1 codes
        "device": [StrOptions(set(DEVICES))],
        "inference": [StrOptions({"auto", *CPU_PATHS, *GPU_PATHS})],
        "temperature_scaling": ["boolean"],
        "random_state": ["random_state"],
    }
    search_space = {"C": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}

    def __init__(self, model=None, *, max_length=DEFAULT_MAX_LENGTH, batch_size=64, C=1.0, class_weight=None,
                 device="auto", inference="auto", temperature_scaling=True, random_state=None):
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.device = device
        self.inference = inference
        self.temperature_scaling = temperature_scaling
        self.random_state = random_state

    def _runtime(self) -> Runtime:
        return Runtime(self.device_, "fp32", self.tokenizer_.pad_token_id or 0, self.max_length)

    def _embed(self, texts: list[str], path: str | None = None) -> np.ndarray:
        """One normalised vector per review (length-grouped batches, input order kept), by
        inference ``path`` (default: the one predictions use)."""
        path = path or self._inference_path()
        refuse_elsewhere("embed", path, self.device_)
        encoded = encode(self.tokenizer_, texts, self.max_length, "head")
        # int8: one review at a time; a GPU takes larger batches than the CPU's batch_size.
        batch = batch_size_of(path, self.device_) if path in ONE_AT_A_TIME or self.device_ != "cpu" else self.batch_size
        return predict_logits(self._nets().get(path), encoded, self._runtime(), autocast=False, batch_size=batch).numpy()

    def _nets(self) -> InferenceNets:
        if getattr(self, "_inference_nets", None) is None:
            self._inference_nets = InferenceNets(MeanPooledEncoder(self.encoder_), self.tokenizer_.pad_token_id or 0,
                                                 gpu=self.device_ != "cpu", onnx_file=getattr(self, "_onnx_file", None))
        return self._inference_nets

    def _inference_path(self) -> str:
        if self.inference != "auto":
            return self.inference
        return usable_path(getattr(self, "inference_choice_", None), self.device_, gpu_fallback="fp32")

    def _resolve_device(self) -> None:
        try:
            self.device_, _ = resolve_device(self.device, "fp32")
        except ValueError as exc:
            raise UsageError(f"embed: {exc}") from None

    def _load_encoder(self) -> None:
        """The frozen encoder ``model`` names (the bundled one by default), on ``device_``."""
        from transformers import AutoModel

        self._resolve_device()
        self.tokenizer_, encoder = load_pretrained(self.model, AutoModel)
        check_max_length(encoder, self.max_length, "embed")
        self.encoder_ = encoder.to(self.device_).eval()
        self._inference_nets = None
        self._onnx_file = None

    def _fit(self, texts, y, validation, sample_weight):
        self._prepare_encoder(texts, y)
        self._fit_head(texts, y, validation, sample_weight)

    def _prepare_encoder(self, texts, y) -> None:
        """The encoder the head learns on: the pretrained one, frozen (``setfit`` fine-tunes it first)."""
        self._load_encoder()

    def _fit_head(self, texts, y, validation, sample_weight) -> None:
        """The logistic regression on ``encoder_``'s embeddings, the inference path and the temperature."""
        X = self._embed(texts, "fp32")
        self.logreg_ = self._logreg(self.C).fit(X, y, sample_weight=sample_weight)
        self.inference_choice_ = self._choose_inference(validation)
        self.temperature_ = 1.0
        if self.temperature_scaling and validation is not None:
            self.temperature_ = fit_temperature(torch.as_tensor(self._logits(self._embed(validation[0]))), validation[1])

    def _logreg(self, C) -> LogisticRegression:
        return LogisticRegression(C=C, class_weight=self.class_weight, random_state=self.random_state, max_iter=1000)

    def search(self, train, validation, budget, score=accuracy) -> list[dict]:
        """The encoder (as ``fit`` prepares it) runs once over the training and validation
        texts (fp32, as ``fit`` encodes); a logistic regression per C on top."""
        from sklearn.base import clone

        start = time.perf_counter()
        encoder = clone(self)
        encoder._prepare_encoder(list(train[0]), np.asarray(train[1]))
        X, X_val = encoder._embed(list(train[0]), "fp32"), encoder._embed(list(validation[0]), "fp32")
        classes, y = np.unique(np.asarray(train[1]), return_inverse=True)
        Cs = defaults_first(self.C, self.search_space["C"])
        prep = time.perf_counter() - start
        trials = Trials(self.name, budget, len(Cs))
        for C in Cs:
            if not trials.allows_another():
                break
            t0 = time.perf_counter()
            pred = classes[self._logreg(C).fit(X, y).predict(X_val)]
            trials.add({"C": C}, score(np.asarray(validation[1]), pred), time.perf_counter() - t0 + prep / len(Cs))
        return trials.records

    def _choose_inference(self, validation) -> dict:
        if self.inference != "auto":
            return choice_set_by_user(self.inference)
        if validation is None:
            return {"chosen": "fp32", "reason": "no validation split to check int8 or bf16 on"}
        encoded = encode(self.tokenizer_, validation[0], self.max_length, "head")
        return self._nets().choose(encoded, np.asarray(validation[1]), self._runtime(), device_paths(self.device_),
                                   predict=lambda out: self._codes_of(out.numpy()), name=self.name)

    def _codes_of(self, embeddings: np.ndarray) -> np.ndarray:
        """The predicted class codes of review embeddings (what the inference paths are checked on)."""
        return self.logreg_.predict(embeddings)

    def extra_record(self, test=None) -> dict:
        return {"inference_choice": self.inference_choice_, "temperature": self.temperature_}

    def _logits(self, embeddings: np.ndarray) -> np.ndarray:
        """The logistic regression's logits, (n, K): for two classes ``[-d/2, d/2]``, whose
        softmax is the sigmoid of the decision value ``d``."""
        return _logits_of(self.logreg_.decision_function(embeddings))

    def _decision_function(self, texts):
        return self.logreg_.decision_function(self._embed(texts)) / self.temperature_

    def _predict_proba(self, texts):
        return self._proba(self._embed(texts))

    def _proba(self, embeddings: np.ndarray) -> np.ndarray:
        return _softmax(self._logits(embeddings) / self.temperature_)

    def _decision_and_proba(self, texts):
        d = self.logreg_.decision_function(self._embed(texts))  # once, for both
        return d / self.temperature_, _softmax(_logits_of(d) / self.temperature_)

    def _save_files(self, folder: Path, context: dict):
        with quiet_transformers():
            self.encoder_.save_pretrained(folder / _ENCODER_DIR, safe_serialization=True)
            self.tokenizer_.save_pretrained(folder / _ENCODER_DIR)
        save_graph(MeanPooledEncoder(self.encoder_), self.tokenizer_.pad_token_id or 0, folder / _ENCODER_DIR)
        skops_dump(self.logreg_, folder / _MODEL_FILE)
        atomic_write_text(folder / _INFERENCE_FILE, json_text({**self.inference_choice_, "temperature": self.temperature_}, indent=2))

    def _load_files(self, folder: Path):
        from transformers import AutoModel

        source = folder / _ENCODER_DIR
        check_no_remote_code(source)
        self._resolve_device()
        self.tokenizer_, encoder = load_saved(source, AutoModel, folder)
        self.encoder_ = encoder.to(self.device_).eval()
        self._inference_nets = None
        self._onnx_file = saved_graph(source)
        self.logreg_ = skops_load(folder / _MODEL_FILE, _ALLOWED_TYPES)
        if not isinstance(self.logreg_, LogisticRegression):
            raise ModelFileError(f"{folder / _MODEL_FILE} does not hold a LogisticRegression; save the model again")
        check_estimator(self.logreg_, folder / _MODEL_FILE)
        self.inference_choice_ = _read_choice(folder / _INFERENCE_FILE)
        self.temperature_ = self.inference_choice_.pop("temperature", 1.0)
        if isinstance(self.temperature_, bool) or not isinstance(self.temperature_, int | float) or not (
                np.isfinite(self.temperature_) and self.temperature_ > 0):
            raise ModelFileError(f"{folder / _INFERENCE_FILE} holds a temperature that is not a positive number")

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_inference_nets", None)  # a cache, rebuilt on demand
        return state


def _read_choice(path: Path) -> dict:
    """The saved inference choice; fp32 for a folder saved before there was one."""
    if not path.is_file():
        return {"chosen": "fp32", "reason": "saved without an inference choice"}
    try:
        choice = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    if not (isinstance(choice, dict) and isinstance(choice.get("chosen"), str)):
        raise ModelFileError(f"{path} does not hold an inference choice")
    return choice
