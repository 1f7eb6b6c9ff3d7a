"""Mean Word2Vec review vectors + RBF-kernel SVM."""

from __future__ import annotations

import logging
import os
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.kernel_approximation import Nystroem
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from dataset import DataError, UsageError, stratified_sample

from ._calibration import calibrated_proba, calibration_from_state, calibration_scores, calibration_state, fit_calibration
from ._fastpath import FAST_PATH_MAX, RbfScorer
from ._persist import ModelFileError, check_estimator, check_predicts, skops_dump, skops_load
from ._search import Trials, accuracy, defaults_first
from ._text import tokenize
from ._w2v_vectors import PICKLE_SUFFIXES as PICKLE_SUFFIXES  # re-exported: importable from here as before
from ._w2v_vectors import _read_corpus, _stable_hash, is_pickle_vectors, load_vectors
from .base import SentimentClassifier, decision_to_codes

logger = logging.getLogger(__name__)

_VECTORS_FILE = "vectors.w2v.bin"
_MODEL_FILE = "model.skops"
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64", "numpy.int32"})


class Word2VecSvmClassifier(SentimentClassifier):
    """Mean of Word2Vec word vectors, standardised, into an RBF-kernel SVM.

    Word vectors are trained with gensim's ``Word2Vec`` on the training texts only (plus
    an optional unlabelled in-domain ``corpus``; never validation or test texts), or
    loaded from ``vectors``. A review's vector is the mean of its in-vocabulary word
    vectors; a review with none gets the zero vector (counted in ``n_empty_``).
    Tokenisation is sentibench's shared tokenizer (:func:`classifiers._text.tokenize`).

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
    vectors : str, path or gensim KeyedVectors, optional
        Pretrained vectors to use instead of training: a word2vec text or binary file
        (see :func:`load_vectors`; gensim's pickle-based ``.kv`` files are refused), or
        a ``KeyedVectors`` object you loaded yourself.
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
    calibration_ : tuple (a, b) or dict
        Maps decision scores to probabilities, fitted on validation decision scores (3-fold
        cross-validated training scores when no validation split is given): Platt's
        sigmoid for two classes, a multinomial logistic regression on the K one-vs-rest
        scores above.
    n_empty_ : int
        Training reviews with no in-vocabulary word.
    classes_ : ndarray of shape (n_classes,)

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
    threads_param = "workers"
    _parameter_constraints = {
        "vector_size": [Interval(Integral, 1, None, closed="left")],
        "window": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "sg": [Interval(Integral, 0, 1, closed="both")],
        "w2v_epochs": [Interval(Integral, 1, None, closed="left")],
        "workers": [Interval(Integral, 1, None, closed="left")],
        "vectors": [str, os.PathLike, HasMethods(["get_vector"]), None],
        "corpus": [str, os.PathLike, None],
        "C": [Interval(Real, 0, None, closed="neither")],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
        "max_svm_samples": [Interval(Integral, 2, None, closed="left")],
        "large_data": [StrOptions({"subsample", "nystroem"})],
        "nystroem_components": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }
    #: ``gamma_factor`` multiplies scikit-learn's "scale" gamma, 1 / (n_features * X.var()).
    search_space = {"vector_size": [100, 200], "w2v_epochs": [10, 20], "C": [1.0, 4.0, 16.0], "gamma_factor": [0.5, 1.0, 2.0]}
    #: Hyperparameters of the word vectors: a search trains them once per setting of these.
    _VECTOR_PARAMS = ("vector_size", "w2v_epochs")

    def __init__(
        self,
        *,
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

    def _word_vectors(self, sentences):
        """Pretrained vectors (a file, or KeyedVectors passed in), else trained on ``sentences``."""
        if isinstance(self.vectors, (str, os.PathLike)):
            return load_vectors(self.vectors)
        if self.vectors is not None:
            return self.vectors  # KeyedVectors loaded by the caller
        return self._train_vectors(sentences)

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
            raise DataError(f"no word occurs {self.min_count}+ times in the training texts; lower min_count")
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

    def _fit(self, texts, y, validation, sample_weight):
        self.wv_ = self._word_vectors([tokenize(t) for t in texts])
        X, self.n_empty_ = self._embed(texts)
        if self.n_empty_:
            logger.info("%d of %d training reviews have no in-vocabulary word (zero vector)", self.n_empty_, len(texts))
        self.scaler_ = StandardScaler().fit(X)
        X = self.scaler_.transform(X)
        self.svm_, self.fit_info_, fit_params, rows = self._fit_svm(X, y, sample_weight)
        X_val, y_val = (self.scaler_.transform(self._embed(validation[0])[0]), validation[1]) if validation else (None, None)
        if rows is not None and X_val is None:
            # Without validation, calibration cross-validates the SVM: on the subsample it
            # was fitted on, not on all rows (an exact RBF SVM on those is what max_svm_samples avoids).
            X, y = X[rows], y[rows]
            fit_params = None if fit_params is None else {"sample_weight": fit_params["sample_weight"][rows]}
        self.calibration_ = fit_calibration(*calibration_scores(self.svm_, X, y, X_val, y_val, fit_params))
        self._build_fast_path()

    def _build_fast_path(self):
        # The exact RBF SVM has a fast path; the Nystroem approximation keeps scikit-learn's.
        self._fast = RbfScorer(self.svm_, self.scaler_, self.wv_) if isinstance(self.svm_, SVC) else None

    def _fit_svm(self, X, y, sample_weight):
        """Exact RBF SVM, or the documented large-data fallback above ``max_svm_samples``.

        Returns the fitted model, ``fit_info_``, the fit parameters that carry the sample
        weights (for cross-validated calibration) and the rows it was fitted on (``None``: all).
        """
        n = len(y)
        svc = SVC(kernel="rbf", C=self.C, gamma=self.gamma, random_state=self.random_state)
        weights = None if sample_weight is None else {"sample_weight": sample_weight}
        if n <= self.max_svm_samples:
            return svc.fit(X, y, sample_weight=sample_weight), {"method": "rbf", "rows": n, "of_rows": n}, weights, None
        if self.large_data == "subsample":
            idx = stratified_sample(y, self.max_svm_samples, seed=self.random_state or 0)
            logger.warning(
                "w2v: fitting the RBF SVM on a stratified sample of %d of %d reviews (max_svm_samples); "
                "set large_data='nystroem' to use all of them", len(idx), n,
            )
            sub = None if sample_weight is None else sample_weight[idx]
            info = {"method": "rbf-subsample", "rows": len(idx), "of_rows": n}
            return svc.fit(X[idx], y[idx], sample_weight=sub), info, weights, idx
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
        weights = None if sample_weight is None else {"linearsvc__sample_weight": sample_weight}
        info = {"method": f"nystroem-{self.nystroem_components}", "rows": n, "of_rows": n}
        return model.fit(X, y, **(weights or {})), info, weights, None

    @classmethod
    def checked_params(cls, params: dict, *, trusted_files: frozenset[str] = frozenset()) -> dict:
        """Files that only a user's own command line may name: a ``corpus`` (its words end up
        in the saved vectors, so a crafted run folder or config file naming one could copy
        any local text file into a model) and ``vectors`` in gensim's pickle-based format
        (a pickle can run code)."""
        corpus = params.get("corpus")
        if isinstance(corpus, (str, os.PathLike)) and str(corpus) not in trusted_files:
            raise UsageError(
                f"w2v.corpus={corpus} is named in a config file or a run folder; sentibench reads a corpus only when "
                "it is named on the command line (its words end up in the saved model): start the run with "
                "--set w2v.corpus=PATH"
            )
        vectors = params.get("vectors")
        if not isinstance(vectors, str) or not is_pickle_vectors(vectors):
            return params
        if vectors not in trusted_files:
            raise UsageError(
                f"w2v.vectors={vectors} is a pickle (gensim's native format) named in a config file or a run "
                "folder; sentibench unpickles only files named on the command line: --set w2v.vectors=PATH"
            )
        return {**params, "vectors": load_vectors(vectors, allow_pickle=True)}

    def search(self, train, validation, budget, score=accuracy) -> list[dict]:
        """Word vectors trained (and reviews embedded) once per Word2Vec setting; an RBF SVM
        per (C, gamma) on top, fitted as ``fit`` fits it. The run's own C and gamma come
        first (gamma factor 1 keeps its gamma), even off the grid."""
        grid = {k: self.search_space[k] for k in self._VECTOR_PARAMS}
        settings = defaults_first({k: getattr(self, k) for k in grid}, ParameterGrid(grid))
        if self.vectors is not None:  # pretrained vectors: no Word2Vec setting to tune
            settings = [{}]
        svm_grid = {k: self.search_space[k] for k in ("C", "gamma_factor")}
        svm_settings = defaults_first({"C": self.C, "gamma_factor": 1.0}, ParameterGrid(svm_grid))
        classes, y = np.unique(np.asarray(train[1]), return_inverse=True)
        sentences = [tokenize(t) for t in train[0]]
        trials = Trials(self.name, budget, len(settings) * len(svm_settings))
        for setting in settings:
            start = time.perf_counter()
            clf = clone(self).set_params(**setting)
            clf.wv_ = clf._word_vectors(sentences)
            scaler = StandardScaler().fit(clf._embed(train[0])[0])
            X = scaler.transform(clf._embed(train[0])[0])
            X_val = scaler.transform(clf._embed(validation[0])[0])
            scale = 1.0 / (X.shape[1] * X.var()) if X.var() > 0 else 1.0
            prep = time.perf_counter() - start
            for g in svm_settings:
                if not trials.allows_another():
                    return trials.records
                t0 = time.perf_counter()
                gamma = self.gamma if g["gamma_factor"] == 1.0 else float(g["gamma_factor"] * scale)
                svm = clone(clf).set_params(C=g["C"], gamma=gamma)._fit_svm(X, y, None)[0]
                pred = classes[decision_to_codes(svm.decision_function(X_val))]
                trials.add({**setting, "C": g["C"], "gamma": gamma}, score(np.asarray(validation[1]), pred),
                           time.perf_counter() - t0 + prep / len(svm_settings))
        return trials.records

    def extra_record(self, test=None) -> dict:
        return {"fit_info": self.fit_info_}

    def _decision_function(self, texts):
        if self._fast is not None and len(texts) <= FAST_PATH_MAX:
            return np.array([self._fast.decision(tokenize(t)) for t in texts], dtype=np.float64)
        return self.svm_.decision_function(self.scaler_.transform(self._embed(texts)[0]))

    def _predict_proba(self, texts):
        return calibrated_proba(self._decision_function(texts), self.calibration_)

    def _save_files(self, folder: Path, context: dict):
        # word2vec binary format: plain floats, no pickle (gensim's own .save pickles).
        self.wv_.save_word2vec_format(str(folder / _VECTORS_FILE), binary=True)
        skops_dump(
            {
                "scaler": self.scaler_, "svm": self.svm_, "calibration": calibration_state(self.calibration_),
                "n_empty": self.n_empty_, "fit_info": self.fit_info_,
            },
            folder / _MODEL_FILE,
        )

    def _load_files(self, folder: Path):
        from gensim.models import KeyedVectors

        vectors = folder / _VECTORS_FILE
        try:
            self.wv_ = KeyedVectors.load_word2vec_format(str(vectors), binary=True)
        except (ValueError, EOFError, UnicodeDecodeError, IndexError, OSError) as exc:
            raise ModelFileError(
                f"{vectors} is damaged or not word2vec binary ({type(exc).__name__}: {exc}); save the model again"
            ) from None
        state = skops_load(folder / _MODEL_FILE, _ALLOWED_TYPES)
        try:
            self.scaler_ = state["scaler"]
            self.svm_ = state["svm"]
            self.calibration_ = calibration_from_state(state["calibration"], len(self.classes_))
            self.n_empty_ = int(state["n_empty"])
            self.fit_info_ = dict(state["fit_info"])
            valid = isinstance(self.scaler_, StandardScaler) and isinstance(self.svm_, (SVC, Pipeline))
        except (TypeError, KeyError, IndexError, ValueError):
            valid = False
        if not valid:
            raise ModelFileError(f"{folder / _MODEL_FILE} does not hold a Word2VecSvmClassifier's state; save the model again")
        check_estimator(self.scaler_, folder / _MODEL_FILE)
        check_estimator(self.svm_, folder / _MODEL_FILE)
        self._build_fast_path()
        check_predicts(self, folder / _MODEL_FILE)
