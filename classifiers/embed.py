"""Frozen sentence embeddings + logistic regression: is fine-tuning needed at all?

MTEB's classification protocol: a frozen encoder turns each review into one vector
(mean pooling over real tokens, L2-normalised), and scikit-learn's
``LogisticRegression`` learns on top. Each text is encoded once per ``fit``;
the training time includes the encoding.
"""

from __future__ import annotations

import logging
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions

from ._persist import ModelFileError, skops_dump, skops_load
from .base import SentimentClassifier
from .bert._batching import DEFAULT_MAX_LENGTH, encode
from .bert._hub import LOAD_ERRORS, bundled_model_path, check_no_remote_code, load_error_message, load_saved, quiet_transformers
from .bert._inference import predict_logits, traced
from .bert._runtime import Runtime

logger = logging.getLogger(__name__)

_ENCODER_DIR = "encoder"
_MODEL_FILE = "logreg.skops"
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64"})


class MeanPooledEncoder(torch.nn.Module):
    """``(input_ids, attention_mask) -> L2-normalised mean of the last hidden states``."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1)


def _load_encoder(source: str | Path):
    from transformers import AutoModel, AutoTokenizer

    if Path(source).is_dir():
        check_no_remote_code(Path(source))
    with quiet_transformers():
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(source), trust_remote_code=False)
            model = AutoModel.from_pretrained(str(source), use_safetensors=True, trust_remote_code=False)
        except LOAD_ERRORS as exc:
            raise ModelFileError(load_error_message(source, exc)) from None
    return tokenizer, model.eval()


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
    random_state : int, optional

    Attributes
    ----------
    tokenizer_, encoder_ : the frozen encoder
    logreg_ : LogisticRegression
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> from classifiers import EmbeddingLogRegClassifier
    >>> clf = EmbeddingLogRegClassifier().fit(texts, labels)  # doctest: +SKIP
    """

    name = "embed"
    model_files = (_MODEL_FILE, f"{_ENCODER_DIR}/config.json", f"{_ENCODER_DIR}/model.safetensors")
    _parameter_constraints = {
        "model": [str, os.PathLike, None],
        "max_length": [Interval(Integral, 8, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), None],  # a dict would be keyed by the internal 0/1 codes
        "random_state": ["random_state"],
    }

    def __init__(self, model=None, *, max_length=DEFAULT_MAX_LENGTH, batch_size=64, C=1.0, class_weight=None, random_state=None):
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def _runtime(self) -> Runtime:
        return Runtime("cpu", "fp32", self.tokenizer_.pad_token_id or 0, self.max_length)

    def _embed(self, texts: list[str]) -> np.ndarray:
        """One normalised vector per review (length-grouped batches, input order kept)."""
        encoded = encode(self.tokenizer_, texts, self.max_length, "head")
        net = self._net()
        return predict_logits(net, encoded, self._runtime(), autocast=False, batch_size=self.batch_size).numpy()

    def _net(self):
        if getattr(self, "_traced", None) is None:
            self._traced = traced(MeanPooledEncoder(self.encoder_), self.tokenizer_.pad_token_id or 0, atol=1e-4)
        return self._traced

    def _fit(self, texts, y, validation, sample_weight):
        source = self.model if self.model is not None else bundled_model_path()
        self.tokenizer_, self.encoder_ = _load_encoder(source)
        self._traced = None
        X = self._embed(texts)
        self.logreg_ = LogisticRegression(C=self.C, class_weight=self.class_weight, random_state=self.random_state, max_iter=1000)
        self.logreg_.fit(X, y, sample_weight=sample_weight)

    def _decision_function(self, texts):
        return self.logreg_.decision_function(self._embed(texts))

    def _predict_proba(self, texts):
        return self.logreg_.predict_proba(self._embed(texts))

    def _save_files(self, folder: Path):
        with quiet_transformers():
            self.encoder_.save_pretrained(folder / _ENCODER_DIR, safe_serialization=True)
            self.tokenizer_.save_pretrained(folder / _ENCODER_DIR)
        skops_dump(self.logreg_, folder / _MODEL_FILE)

    def _load_files(self, folder: Path):
        from transformers import AutoModel

        source = folder / _ENCODER_DIR
        check_no_remote_code(source)
        self.tokenizer_, encoder = load_saved(source, AutoModel, folder)
        self.encoder_ = encoder.eval()
        self._traced = None
        self.logreg_ = skops_load(folder / _MODEL_FILE, _ALLOWED_TYPES)
        if not isinstance(self.logreg_, LogisticRegression):
            raise ModelFileError(f"{folder / _MODEL_FILE} does not hold a LogisticRegression; save the model again")

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_traced", None)  # a cache, rebuilt on demand
        return state
