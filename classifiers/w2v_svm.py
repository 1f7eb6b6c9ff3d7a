"""Mean Word2Vec review vectors + RBF-kernel SVM."""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import numpy as np
from sklearn.kernel_approximation import Nystroem
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from .base import (
    SentimentClassifier,
    calibration_scores,
    fit_platt,
    platt_proba,
    skops_dump,
    skops_load,
)

logger = logging.getLogger(__name__)

_VECTORS_FILE = "vectors.w2v.bin"
_MODEL_FILE = "model.skops"
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64", "numpy.int32"})

# Runs of word characters with inner apostrophes ("don't", "n't", "it's"), plus "!" and
# "?", which carry sentiment; other punctuation is dropped.
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[!?]")


def tokenize(text: str) -> list[str]:
    """The tokenizer of :class:`Word2VecSvmClassifier`.

    Lower-cases, then keeps runs of letters, digits and underscores (with inner
    apostrophes: ``"don't"``, ``"n't"``) and the marks ``!`` and ``?``.

    >>> tokenize("The pasta wasn't great!! _num_ stars?")
    ['the', 'pasta', "wasn't", 'great', '!', '!', '_num_', 'stars', '?']
    """
    return _TOKEN_RE.findall(text.lower())


def _stable_hash(text: str) -> int:
    # gensim seeds each word's initial vector with hashfxn(word + seed); Python's own
    # str hash changes per process unless PYTHONHASHSEED is set, crc32 does not.
    return zlib.crc32(text.encode("utf-8"))


def _read_corpus(path) -> list[list[str]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"corpus file {path} not found; pass a text file with one review per line")
    with path.open(encoding="utf-8", errors="replace") as fh:
        return [tokens for tokens in (tokenize(line) for line in fh) if tokens]


def load_vectors(path):
    """Load pretrained word vectors: word2vec text (``.txt``/``.vec``), word2vec binary
    (``.bin``) or gensim ``KeyedVectors`` (``.kv``, a pickle-based format: only load files
    you trust)."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"word vectors file {path} not found")
    if path.suffix == ".kv":
        return KeyedVectors.load(str(path))
    return KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")


class Word2VecSvmClassifier(SentimentClassifier):
    """Mean of Word2Vec word vectors, standardised, into an RBF-kernel SVM.

    Word vectors are trained with gensim's ``Word2Vec`` on the training texts only (plus
    an optional unlabelled in-domain ``corpus``; never validation or test texts), or
    loaded from ``vectors``. A review's vector is the mean of its in-vocabulary word
    vectors; a review with none gets the zero vector (counted in ``n_empty_``).
    Tokenisation is :func:`tokenize`.

    Vectors trained from scratch on a few thousand short reviews are weak: pass a larger
    unlabelled corpus of reviews from the same domain through ``corpus`` when you have one.

    Reproducibility: with ``workers=1`` (the default) and a fixed ``random_state`` the
    vectors, and so the predictions, are bit-identical across runs and processes (word
    initialisation uses a stable hash, not Python's salted ``hash``). With more workers,
    thread scheduling makes training order, and results, vary slightly.

    Parameters
    ----------
    vector_size : int, default=100
        Dimension of the word vectors.
    window : int, default=5
        Context window of Word2Vec.
    min_count : int, default=2
        Ignore words seen fewer times when training vectors.
    sg : int, default=1
        1 for skip-gram (better for rare words on small corpora), 0 for CBOW.
    w2v_epochs : int, default=20
        Passes over the corpus; small corpora need more passes than gensim's default 5.
    workers : int, default=1
        Word2Vec threads (see Reproducibility).
    vectors : str or path, optional
        Pretrained vectors to use instead of training (see :func:`load_vectors`).
    corpus : str or path, optional
        Extra unlabelled text file (one review per line) to train vectors on.
    C : float, default=4.0
        SVM regularisation.
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel width.
    max_svm_samples : int, default=20000
        The exact RBF SVM's fit time grows at least quadratically with the number of
        reviews; above this many, ``large_data`` decides what happens (the word vectors
        are always trained on all training texts).
    large_data : {"subsample", "nystroem"}, default="subsample"
        ``"subsample"``: fit the RBF SVM on a stratified sample of ``max_svm_samples``
        reviews. ``"nystroem"``: approximate the RBF kernel with ``max_svm_samples``
        components (``nystroem_components``) and fit a linear SVM on all reviews. ``fit_info_`` records which was used.
    nystroem_components : int, default=1000
        Rank of the Nystroem kernel approximation.
    random_state : int, default=0
        Seed for Word2Vec and the SVM.

    Attributes
    ----------
    wv_ : gensim.models.KeyedVectors
        The word vectors used.
    scaler_ : StandardScaler
    svm_ : SVC or Pipeline (Nystroem + LinearSVC)
    fit_info_ : dict
        ``method`` (``"rbf"``, ``"rbf-subsample"`` or ``"nystroem-<components>"``),
        ``rows`` the SVM was fitted on and ``of_rows`` training reviews.
    calibration_ : tuple (a, b)
        Platt sigmoid parameters fitted on validation decision scores (3-fold
        cross-validated training scores when no validation split is given).
    n_empty_ : int
        Training reviews with no in-vocabulary word.
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> from classifiers import Word2VecSvmClassifier
    >>> texts = ["great food", "awful service", "loved it", "never again"] * 10
    >>> clf = Word2VecSvmClassifier(min_count=1).fit(texts, [1, 0, 1, 0] * 10)
    >>> clf.predict(["great food"]).tolist()
    [1]
    """

    name = "w2v"
    model_files = (_VECTORS_FILE, _MODEL_FILE)

    def __init__(
        self,
        vector_size=100,
        window=5,
        min_count=2,
        sg=1,
        w2v_epochs=20,
        workers=1,
        vectors=None,
        corpus=None,
        C=4.0,
        gamma="scale",
        max_svm_samples=20000,
        large_data="subsample",
        nystroem_components=1000,
        random_state=0,
    ):
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sg = sg
        self.w2v_epochs = w2v_epochs
        self.workers = workers
        self.vectors = vectors
        self.corpus = corpus
        self.C = C
        self.gamma = gamma
        self.max_svm_samples = max_svm_samples
        self.large_data = large_data
        self.nystroem_components = nystroem_components
        self.random_state = random_state

    def _train_vectors(self, sentences):
        from gensim.models import Word2Vec

        corpus = sentences + (_read_corpus(self.corpus) if self.corpus else [])
        model = Word2Vec(
            corpus,
            vector_size=self.vector_size,
            window=self.window,
            min_count=self.min_count,
            sg=self.sg,
            epochs=self.w2v_epochs,
            workers=self.workers,
            seed=0 if self.random_state is None else self.random_state,
            hashfxn=_stable_hash,
        )
        if len(model.wv) == 0:
            raise ValueError(f"no word occurs {self.min_count}+ times in the training texts; lower min_count")
        return model.wv

    def _embed(self, texts) -> tuple[np.ndarray, int]:
        wv = self.wv_
        out = np.zeros((len(texts), wv.vector_size), dtype=np.float32)
        empty = 0
        for i, text in enumerate(texts):
            ids = [wv.key_to_index[t] for t in tokenize(text) if t in wv.key_to_index]
            if ids:
                out[i] = wv.vectors[ids].mean(axis=0)
            else:
                empty += 1
        return out, empty

    def _fit(self, texts, y, validation):
        if self.vectors is not None:
            self.wv_ = load_vectors(self.vectors)
        else:
            self.wv_ = self._train_vectors([tokenize(t) for t in texts])
        X, self.n_empty_ = self._embed(texts)
        if self.n_empty_:
            logger.info("%d of %d training reviews have no in-vocabulary word (zero vector)", self.n_empty_, len(texts))
        self.scaler_ = StandardScaler().fit(X)
        X = self.scaler_.transform(X)
        self.svm_, self.fit_info_ = self._fit_svm(X, y)
        X_val, y_val = (self.scaler_.transform(self._embed(validation[0])[0]), validation[1]) if validation else (None, None)
        self.calibration_ = fit_platt(*calibration_scores(self.svm_, X, y, X_val, y_val))

    def _fit_svm(self, X, y):
        """Exact RBF SVM, or the documented large-data fallback above ``max_svm_samples``."""
        n = len(y)
        if self.large_data not in ("subsample", "nystroem"):
            raise ValueError(f"large_data must be 'subsample' or 'nystroem', got {self.large_data!r}")
        svc = SVC(kernel="rbf", C=self.C, gamma=self.gamma, random_state=self.random_state)
        if n <= self.max_svm_samples:
            return svc.fit(X, y), {"method": "rbf", "rows": n, "of_rows": n}
        if self.large_data == "subsample":
            idx, _ = train_test_split(
                np.arange(n), train_size=self.max_svm_samples, stratify=y, random_state=self.random_state
            )
            logger.warning(
                "w2v: fitting the RBF SVM on a stratified sample of %d of %d reviews (max_svm_samples); "
                "set large_data='nystroem' to use all of them", len(idx), n,
            )
            return svc.fit(X[idx], y[idx]), {"method": "rbf-subsample", "rows": len(idx), "of_rows": n}
        gamma = self.gamma
        if gamma == "scale":
            gamma = 1.0 / (X.shape[1] * X.var())
        elif gamma == "auto":
            gamma = 1.0 / X.shape[1]
        model = make_pipeline(
            Nystroem(kernel="rbf", gamma=gamma, n_components=self.nystroem_components, random_state=self.random_state),
            LinearSVC(C=self.C, random_state=self.random_state),
        )
        logger.warning("w2v: %d reviews > max_svm_samples: RBF kernel approximated by %d Nystroem components", n, self.nystroem_components)
        return model.fit(X, y), {"method": f"nystroem-{self.nystroem_components}", "rows": n, "of_rows": n}

    def _decision_function(self, texts):
        return self.svm_.decision_function(self.scaler_.transform(self._embed(texts)[0]))

    def _predict_proba(self, texts):
        return platt_proba(self._decision_function(texts), self.calibration_)

    def _save_files(self, folder: Path):
        # word2vec binary format: plain floats, no pickle (gensim's own .save pickles).
        self.wv_.save_word2vec_format(str(folder / _VECTORS_FILE), binary=True)
        skops_dump(
            {
                "scaler": self.scaler_, "svm": self.svm_, "calibration": list(self.calibration_),
                "n_empty": self.n_empty_, "fit_info": self.fit_info_,
            },
            folder / _MODEL_FILE,
        )

    def _load_files(self, folder: Path):
        from gensim.models import KeyedVectors

        self.wv_ = KeyedVectors.load_word2vec_format(str(folder / _VECTORS_FILE), binary=True)
        state = skops_load(folder / _MODEL_FILE, _ALLOWED_TYPES)
        self.scaler_ = state["scaler"]
        self.svm_ = state["svm"]
        self.calibration_ = tuple(state["calibration"])
        self.n_empty_ = int(state["n_empty"])
        self.fit_info_ = dict(state["fit_info"])
