"""Zero-shot: the bundled encoder, no labels. Is labelling needed at all?

Each review's embedding is compared with the embeddings of a description of each class
("a negative review", "a positive review", ...) and goes to the nearest one, as in
sentence-transformers' zero-shot recipe and classy-classification. Nothing is learned
from the reviews' labels for the predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from dataset import UsageError, atomic_write_text, json_text

from ._persist import ModelFileError
from .base import SentimentClassifier
from .embed import _INFERENCE_FILE, EmbeddingLogRegClassifier, _read_choice, _softmax
from .encoder.batching import DEFAULT_MAX_LENGTH
from .encoder.hub import check_no_remote_code, load_saved, quiet_transformers
from .encoder.inference import fit_temperature

_STATE_FILE = "zeroshot.json"
#: Default descriptions of numbered classes (0/1, 1-3, 1-5 stars), from the lowest.
_LADDERS = {
    2: ("a negative review", "a positive review"),
    3: ("a negative review", "a neutral review", "a positive review"),
    5: ("a very negative review", "a negative review", "a neutral review", "a positive review", "a very positive review"),
}
#: Abbreviated class names, written out in their default description.
_WORDS = {"neg": "negative", "pos": "positive", "neu": "neutral"}
#: Cosine similarities are multiplied by this before the softmax (then divided by a
#: temperature fitted on validation): the scale of CLIP-style zero-shot logits.
_LOGIT_SCALE = 100.0


def default_descriptions(classes: np.ndarray) -> tuple[str, ...]:
    """``"a {label} review"`` for named classes (``neg``/``pos``/``neu`` written out); a
    sentiment ladder for numbered ones."""
    if classes.dtype.kind in "biuf":
        if len(classes) in _LADDERS:
            return _LADDERS[len(classes)]
        return tuple(f"a review rated {c} out of {classes.max()}" for c in classes)
    return tuple(f"a {_WORDS.get(str(c).lower(), c)} review" for c in classes)


class ZeroShotClassifier(EmbeddingLogRegClassifier):
    """The nearest class description in the bundled encoder's embedding space; no labels.

    ``fit`` trains nothing: it encodes the descriptions and uses the labels only where
    they exist and only for what does not change a prediction, on the **validation split**:
    the temperature of the probabilities and the inference path (int8/bf16/fp32, each
    checked to predict as fp32 does). The training reviews are never read.

    Parameters
    ----------
    descriptions : sequence of str, optional
        One text per class, in the order of ``classes_`` (sorted labels), e.g.
        ``--set 'zeroshot.descriptions=["a bad review", "a good review"]'``. ``None``:
        ``"a {label} review"`` for named classes, "a negative review" ... "a positive
        review" for numbered ones (2, 3 or 5 classes).
    model, max_length, batch_size, device, inference, temperature_scaling
        As for :class:`EmbeddingLogRegClassifier`.

    Attributes
    ----------
    descriptions_ : tuple of str
    prototypes_ : ndarray of shape (n_classes, dim)
        The descriptions' normalised embeddings (fp32).
    temperature_ : float
    classes_ : ndarray of shape (n_classes,)
    """

    name = "zeroshot"
    model_files = (_STATE_FILE, "encoder/config.json", "encoder/model.safetensors")
    _parameter_constraints = {
        **{k: v for k, v in EmbeddingLogRegClassifier._parameter_constraints.items()
           if k not in ("C", "class_weight", "random_state")},
        "descriptions": [list, tuple, None],
    }
    search_space = {}
    search = SentimentClassifier.search  # nothing to tune: one trial, the defaults

    def __init__(self, descriptions=None, model=None, *, max_length=DEFAULT_MAX_LENGTH, batch_size=64, device="auto",
                 inference="auto", temperature_scaling=True):
        self.descriptions = descriptions
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.inference = inference
        self.temperature_scaling = temperature_scaling

    def _descriptions(self) -> tuple[str, ...]:
        if self.descriptions is None:
            return default_descriptions(self.classes_)
        found = tuple(self.descriptions)
        if len(found) != len(self.classes_) or not all(isinstance(d, str) and d.strip() for d in found):
            raise UsageError(f"zeroshot: descriptions must be {len(self.classes_)} non-empty texts, one per class in the "
                             f"order {', '.join(map(str, self.classes_))}; got {len(found)}")
        return found

    def _fit(self, texts, y, validation, sample_weight):
        self.descriptions_ = self._descriptions()
        self._load_encoder()
        self.prototypes_ = self._embed(list(self.descriptions_), "fp32")
        self.inference_choice_ = self._choose_inference(validation)
        self.temperature_ = 1.0
        if self.temperature_scaling and validation is not None:
            self.temperature_ = fit_temperature(torch.as_tensor(self._logits(self._embed(validation[0]))), validation[1])

    def _codes_of(self, embeddings: np.ndarray) -> np.ndarray:
        return self._logits(embeddings).argmax(axis=1)

    def _logits(self, embeddings: np.ndarray) -> np.ndarray:
        return _LOGIT_SCALE * (embeddings @ self.prototypes_.T)

    def _decision(self, embeddings: np.ndarray) -> np.ndarray:
        z = self._logits(embeddings) / self.temperature_
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def _decision_function(self, texts):
        return self._decision(self._embed(texts))

    def _decision_and_proba(self, texts):
        e = self._embed(texts)
        return self._decision(e), self._proba(e)

    def _proba(self, embeddings: np.ndarray) -> np.ndarray:
        return _softmax(self._logits(embeddings) / self.temperature_)

    def extra_record(self, test=None) -> dict:
        return {**super().extra_record(test), "label_free": True, "zeroshot": {"descriptions": list(self.descriptions_), "labels_used": (
            "none for predictions; the validation split for the temperature and the inference path")}}

    def _save_files(self, folder: Path, context: dict):
        with quiet_transformers():
            self.encoder_.save_pretrained(folder / "encoder", safe_serialization=True)
            self.tokenizer_.save_pretrained(folder / "encoder")
        state = {"descriptions": list(self.descriptions_), "prototypes": self.prototypes_.tolist()}
        atomic_write_text(folder / _STATE_FILE, json_text(state))
        atomic_write_text(folder / _INFERENCE_FILE, json_text({**self.inference_choice_, "temperature": self.temperature_}, indent=2))

    def _load_files(self, folder: Path):
        from transformers import AutoModel

        check_no_remote_code(folder / "encoder")
        self._resolve_device()
        self.tokenizer_, encoder = load_saved(folder / "encoder", AutoModel, folder)
        self.encoder_ = encoder.to(self.device_).eval()
        self._inference_nets = None
        self.descriptions_, self.prototypes_ = _read_state(folder / _STATE_FILE, len(self.classes_))
        self.inference_choice_ = _read_choice(folder / _INFERENCE_FILE)
        self.temperature_ = self.inference_choice_.pop("temperature", 1.0)
        if isinstance(self.temperature_, bool) or not isinstance(self.temperature_, int | float) or not (
                np.isfinite(self.temperature_) and self.temperature_ > 0):
            raise ModelFileError(f"{folder / _INFERENCE_FILE} holds a temperature that is not a positive number")


def _read_state(path: Path, k: int) -> tuple[tuple[str, ...], np.ndarray]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        descriptions = tuple(state["descriptions"])
        prototypes = np.asarray(state["prototypes"], dtype=np.float32)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path} is damaged ({type(exc).__name__}: {exc}); save the model again") from None
    if len(descriptions) != k or prototypes.ndim != 2 or len(prototypes) != k or not np.isfinite(prototypes).all():
        raise ModelFileError(f"{path} does not hold {k} descriptions and their embeddings")
    return descriptions, prototypes
