"""Static embeddings distilled from the bundled encoder + logistic regression: nearly as good, far cheaper?

model2vec (Tulkens and van Dongen, 2024; PyPI ``model2vec``) runs the encoder once over
its vocabulary and keeps one vector per token (reduced by PCA and weighted by token
frequency): a review is then the mean of its tokens' vectors, a table lookup with no
network at inference. The distillation runs once per encoder and setting and is cached
in the user cache (``dataset.cache_dir()/static``) under a hash of the encoder's files,
the setting and the model2vec version; its time is recorded as part of training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from importlib.metadata import version
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval

from dataset import atomic_write_text, cache_dir, json_text

from ._calibration import decision_logits, softmax_rows
from ._persist import ModelFileError, check_estimator, skops_dump, skops_load
from .base import SentimentClassifier

logger = logging.getLogger(__name__)

_STATIC_DIR = "static"
_MODEL_FILE = "logreg.skops"
_META_FILE = "distilled.json"
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64"})
#: Up to this many texts are embedded by model2vec's batch function directly (see ``embed``).
_DIRECT = 32


class StaticEmbeddingClassifier(SentimentClassifier):
    """model2vec static embeddings of the bundled encoder, and a logistic regression on top.

    ``fit`` distils the encoder (``model``; the bundled all-MiniLM-L6-v2 by default) into a
    static model, or reads it from the cache when the same encoder and ``pca_dims`` were
    distilled before, then fits ``LogisticRegression(C)`` on the training reviews'
    embeddings. The validation split is not used. ``extra_record()["static"]`` says how long
    the distillation took and whether this fit paid for it (``distilled_now``).

    Parameters
    ----------
    model : str or path-like, optional
        The sentence encoder to distil: a local folder, or a Hugging Face name (needs the
        network the first time). ``None`` is the bundled all-MiniLM-L6-v2.
    pca_dims : int, default=256
        Dimensions the token vectors are reduced to.
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression.
    class_weight : dict, "balanced" or None
    random_state : int, optional

    Examples
    --------
    >>> from classifiers import StaticEmbeddingClassifier  # doctest: +SKIP
    >>> clf = StaticEmbeddingClassifier().fit(["I loved it", "awful food"], [1, 0])  # doctest: +SKIP
    """

    name = "static"
    batches_well = True
    model_files = (_STATIC_DIR, _MODEL_FILE, _META_FILE)
    _parameter_constraints = {
        "model": [str, os.PathLike, None],
        "pca_dims": [Interval(Integral, 2, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, str, None],
        "random_state": ["random_state"],
    }
    search_space = {"C": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}

    def __init__(self, model=None, *, pca_dims=256, C=1.0, class_weight=None, random_state=None):
        self.model = model
        self.pca_dims = pca_dims
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state

    def embed(self, texts) -> np.ndarray:
        """The static embedding of each text; ndarray of shape (n_samples, pca_dims)."""
        from .encoder.batching import encodable

        texts = [encodable(t) for t in texts]
        static = self.static_
        if len(texts) > _DIRECT or not all(hasattr(static, a) for a in ("_encode_batch", "_set_max_length_in_tokenizer")):
            return static.encode(texts, use_multiprocessing=False)
        # A few reviews (serving, the latency calls): model2vec's encode() builds a progress bar
        # and sets the tokenizer's truncation twice per call, about 100 us, most of the cost of
        # one review. The same cut, the same truncation (set once) and the same batch function
        # give the same vectors (tested against encode()).
        if (static.tokenizer.truncation or {}).get("max_length") != static.max_length:
            static._set_max_length_in_tokenizer(static.max_length)
        if static.max_length is not None:
            cut = static.max_length * static.median_token_length
            texts = [t[:cut] for t in texts]
        return static._encode_batch(texts, static.normalize)

    def _fit(self, texts, y, validation, sample_weight):
        self.static_, self.distilled_ = distilled(self.model, int(self.pca_dims))
        self.logreg_ = LogisticRegression(C=self.C, class_weight=self.class_weight, random_state=self.random_state,
                                          max_iter=1000).fit(self.embed(texts), y, sample_weight=sample_weight)

    def _decision(self, X: np.ndarray) -> np.ndarray:
        """The logistic regression's decision values, as NumPy products: scikit-learn's
        input checks cost 50 us a call, more than the embedding lookup itself."""
        d = X.astype(np.float64, copy=False) @ self.logreg_.coef_.T + self.logreg_.intercept_
        return d.ravel() if d.shape[1] == 1 else d

    @staticmethod
    def _proba_of(d: np.ndarray) -> np.ndarray:
        return softmax_rows(decision_logits(d))

    def _decision_function(self, texts):
        return self._decision(self.embed(texts))

    def _predict_proba(self, texts):
        return self._proba_of(self._decision(self.embed(texts)))

    def _decision_and_proba(self, texts):
        d = self._decision(self.embed(texts))  # once, for both
        return d, self._proba_of(d)

    def extra_record(self, test=None) -> dict:
        return {"static": dict(self.distilled_)}

    def _save_files(self, folder: Path, context: dict):
        self.static_.save_pretrained(str(folder / _STATIC_DIR))
        skops_dump(self.logreg_, folder / _MODEL_FILE)
        atomic_write_text(folder / _META_FILE, json_text(self.distilled_, indent=2))

    def _load_files(self, folder: Path):
        self.static_ = _read_static(folder / _STATIC_DIR)
        self.logreg_ = skops_load(folder / _MODEL_FILE, _ALLOWED_TYPES)
        if not isinstance(self.logreg_, LogisticRegression):
            raise ModelFileError(f"{folder / _MODEL_FILE} does not hold a LogisticRegression; save the model again")
        check_estimator(self.logreg_, folder / _MODEL_FILE)
        try:
            self.distilled_ = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelFileError(f"{folder / _META_FILE} is damaged ({type(exc).__name__}: {exc})") from None


def _read_static(path: Path):
    """A saved model2vec model (safetensors and a tokenizer.json: data, never code)."""
    from model2vec import StaticModel
    from safetensors import SafetensorError

    if not (path / "model.safetensors").is_file():
        raise ModelFileError(f"{path} holds no model.safetensors; save the model again")
    try:
        return StaticModel.from_pretrained(path)
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise ModelFileError(f"{path} is damaged ({type(exc).__name__}: {exc}); save the model again") from None


def _source(model) -> tuple[str, str]:
    """The encoder to distil (a path or a hub name) and a hash of what it holds."""
    from .encoder.hub import bundled_model_path, check_no_remote_code

    path = bundled_model_path() if model is None else Path(model)
    if not path.is_dir():
        return str(model), hashlib.sha256(str(model).encode()).hexdigest()
    check_no_remote_code(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    stamp = (str(path.resolve()), tuple((f.relative_to(path).as_posix(), f.stat().st_size, f.stat().st_mtime_ns)
                                        for f in files))
    if stamp not in _DIGESTS:  # hashing the encoder's 90 MB once per process, not once per fit
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.relative_to(path).as_posix().encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _DIGESTS[stamp] = digest.hexdigest()
    return str(path), _DIGESTS[stamp]


#: SHA-256 of encoder folders hashed in this process, by their files' names, sizes and times.
_DIGESTS: dict[tuple, str] = {}


def _cached(folder: Path):
    """The static model and its record in cache entry ``folder``; ``None`` when there is none,
    or when it is damaged (then removed, so that it is distilled again)."""
    if not (folder / _META_FILE).is_file():
        return None
    try:
        meta = json.loads((folder / _META_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        return _read_static(folder), meta
    except (OSError, UnicodeDecodeError, ValueError, ModelFileError) as exc:
        logger.warning("static: the cached distillation in %s is damaged (%s); distilling again", folder,
                       " ".join(str(exc).split())[:200])
        shutil.rmtree(folder, ignore_errors=True)
        return None


def distilled(model, pca_dims: int):
    """The static model of encoder ``model``, and what its distillation cost: from the cache
    when it was distilled before, else distilled now (and cached, written whole or not at all)."""
    source, digest = _source(model)
    key = hashlib.sha256(f"{digest} {pca_dims} {version('model2vec')}".encode()).hexdigest()[:16]
    folder = cache_dir() / "static" / key
    if (cached := _cached(folder)) is not None:
        return cached[0], {**cached[1], "distilled_now": False}
    from model2vec.distill import distill

    logger.info("static: distilling %s into static embeddings (once; cached in %s)", source, folder)
    start = time.perf_counter()
    static = distill(model_name=source, pca_dims=pca_dims, trust_remote_code=False, device="cpu")
    meta = {"encoder": "bundled all-MiniLM-L6-v2" if model is None else str(model), "encoder_sha256": digest,
            "pca_dims": pca_dims, "model2vec": version("model2vec"), "distill_time_s": time.perf_counter() - start}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{key}-"))
    try:
        static.save_pretrained(str(tmp))
        atomic_write_text(tmp / _META_FILE, json_text(meta, indent=2))
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / _META_FILE).is_file():
            raise
    return static, {**meta, "distilled_now": True}
