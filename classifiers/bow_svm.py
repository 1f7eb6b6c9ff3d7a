"""Bag-of-words (TF-IDF or counts) + linear SVM."""

from __future__ import annotations

import re
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.model_selection import ParameterGrid
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from threadpoolctl import threadpool_limits

from dataset import DataError

from ._calibration import calibrated_proba, calibration_from_state, calibration_scores, calibration_state, fit_calibration, platt_one
from ._fastpath import FAST_PATH_MAX, LinearTextScorer
from ._persist import ModelFileError, check_estimator, check_predicts, skops_dump, skops_load
from ._search import Trials, accuracy, defaults_first, task_score
from ._text import TOKEN_PATTERN
from .base import SentimentClassifier, decision_to_codes

_MODEL_FILE = "model.skops"
# numpy scalar types the vectorizer stores (its dtype parameter); nothing executable.
_ALLOWED_TYPES = frozenset({"builtins.type", "numpy.float64", "numpy.int64"})


class BowSvmClassifier(SentimentClassifier):
    """Bag-of-words features and a linear support vector machine.

    A scikit-learn ``TfidfVectorizer`` (or ``CountVectorizer``) fitted on the training
    texts only, followed by ``LinearSVC``. The defaults suit short reviews: word
    unigrams and bigrams (bigrams carry negation such as "not good"), terms seen in at
    least 2 training reviews, sublinear tf (``1 + log tf``) so a repeated word does not
    dominate, and no stop-word removal (stop-word lists drop "not" and "no").

    Parameters
    ----------
    C : float, default=0.5
        Inverse regularisation strength of the SVM.
    features : {"tfidf", "counts"}, default="tfidf"
        TF-IDF weighting or raw term counts.
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-gram sizes.
    token_pattern : str, default=TOKEN_PATTERN
        Regular expression of a token, matched on lower-cased text. The default is
        sentibench's tokenizer, shared with Word2Vec: words with inner apostrophes
        ("wasn't"), "!" and "?" (more accurate than scikit-learn's ``(?u)\\b\\w\\w+\\b``
        on review data; docs/design.md).
    min_df : int or float, default=2
        Ignore terms in fewer reviews than this (or a fraction).
    max_features : int, optional
        Keep only the most frequent terms.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)``; only for ``features="tfidf"``.
    class_weight : {"auto", "balanced"} or None, default="auto"
        Passed to ``LinearSVC``. ``"auto"`` is ``None`` for two classes (the binary
        defaults); for three or more it is chosen on the validation split between ``None``
        and ``"balanced"`` by the task's score (quadratic weighted kappa for numbered
        classes, macro-F1 otherwise): star ratings are rarely balanced, and the plain
        unweighted SVM then under-predicts the rare extremes. The record says which
        (``class_weight_choice``).
    random_state : int, optional
        Seed of ``LinearSVC``'s coordinate descent.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer or CountVectorizer
    svm_ : LinearSVC
    calibration_ : tuple (a, b) or dict
        Maps decision scores to probabilities, fitted on the validation split passed to
        ``fit`` (3-fold cross-validated training scores when there is none): Platt's
        sigmoid for two classes, a multinomial logistic regression on the K one-vs-rest
        scores above.
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from classifiers import BowSvmClassifier
    >>> texts = ["great food", "awful service", "loved it", "never again"] * 5
    >>> clf = BowSvmClassifier(min_df=1).fit(texts, [1, 0, 1, 0] * 5)
    >>> clf.predict(["great service, loved it"]).tolist()
    [1]
    """

    name = "bow"
    model_files = (_MODEL_FILE,)
    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "features": [StrOptions({"tfidf", "counts"})],
        "ngram_range": [tuple, list],
        "token_pattern": [str],
        "min_df": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="both")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "sublinear_tf": ["boolean"],
        "class_weight": [StrOptions({"auto", "balanced"}), None],  # a dict would be keyed by the internal 0/1 codes
        "random_state": ["random_state"],
    }
    search_space = {
        "ngram_range": [(1, 1), (1, 2), (1, 3)], "min_df": [1, 2, 3], "sublinear_tf": [True, False],
        "C": [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0],
    }
    #: Hyperparameters of the vectorizer: a search fits TF-IDF once per setting of these.
    _VECTORIZER_PARAMS = ("ngram_range", "min_df", "sublinear_tf")

    def __init__(
        self,
        *,
        C=0.5,
        features="tfidf",
        ngram_range=(1, 2),
        token_pattern=TOKEN_PATTERN,
        min_df=2,
        max_features=None,
        sublinear_tf=True,
        class_weight="auto",
        random_state=None,
    ):
        self.C = C
        self.features = features
        self.ngram_range = ngram_range
        self.token_pattern = token_pattern
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.class_weight = class_weight
        self.random_state = random_state

    def _validate_params(self):
        super()._validate_params()
        try:
            groups = re.compile(self.token_pattern).groups
        except re.error as exc:
            raise InvalidParameterError(
                f"The 'token_pattern' parameter of BowSvmClassifier must be a regular expression. Got "
                f"{self.token_pattern!r} instead ({exc})."
            ) from None
        if groups > 1:
            raise InvalidParameterError(
                f"The 'token_pattern' parameter of BowSvmClassifier may hold at most one capturing group (the "
                f"token). Got {self.token_pattern!r} with {groups}; use (?:...) for the others."
            )
        low_high = tuple(self.ngram_range)
        if not (len(low_high) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in low_high)
                and 1 <= low_high[0] <= low_high[1]):
            raise InvalidParameterError(
                f"The 'ngram_range' parameter of BowSvmClassifier must be two integers (min_n, max_n) with "
                f"1 <= min_n <= max_n, e.g. (1, 2). Got {self.ngram_range!r} instead."
            )

    def _make_vectorizer(self):
        common = dict(
            ngram_range=tuple(self.ngram_range), token_pattern=self.token_pattern, min_df=self.min_df,
            max_features=self.max_features,
        )
        if self.features == "tfidf":
            return TfidfVectorizer(sublinear_tf=self.sublinear_tf, **common)
        return CountVectorizer(**common)

    def _fit(self, texts, y, validation, sample_weight):
        vectorizer = self._make_vectorizer()
        # min_df counts training reviews; on a handful of texts it can leave no term.
        try:
            X = vectorizer.fit_transform(texts)
        except ValueError as exc:
            raise DataError(f"no usable terms in the training texts ({exc}); lower min_df") from None
        self.vectorizer_ = vectorizer
        # liblinear's inner products go through the BLAS, whose sums depend on its thread
        # count: one thread, so a fit gives the same model in a run one after another and in a
        # --jobs worker (decision values were 1e-3 apart). The fit takes as long either way.
        with threadpool_limits(limits=1, user_api="blas"):
            X_val, y_val = (vectorizer.transform(validation[0]), validation[1]) if validation else (None, None)
            self.class_weight_choice_ = self._choose_class_weight(X, y, X_val, y_val, sample_weight)
            self.svm_ = self._svm(self.C, self.class_weight_choice_["chosen"]).fit(X, y, sample_weight=sample_weight)
            fit_params = None if sample_weight is None else {"sample_weight": sample_weight}
            self.calibration_ = fit_calibration(*calibration_scores(self.svm_, X, y, X_val, y_val, fit_params))
        self._build_fast_path()

    def _svm(self, C, class_weight="default") -> LinearSVC:
        if class_weight == "default":  # a search's trials: "auto" is the binary default
            class_weight = None if self.class_weight == "auto" else self.class_weight
        return LinearSVC(C=C, class_weight=class_weight, random_state=self.random_state)

    def _choose_class_weight(self, X, y, X_val, y_val, sample_weight) -> dict:
        """``class_weight="auto"``: ``None`` or ``"balanced"``, whichever scores better on
        validation (three or more classes; ``None`` for two, or without a validation split)."""
        if self.class_weight != "auto":
            return {"chosen": self.class_weight, "reason": "set"}
        k = len(self.classes_)
        if k < 3 or X_val is None:
            return {"chosen": None, "reason": "two classes" if k < 3 else "no validation split"}
        metric, score = task_score(self.classes_)
        scores = {}
        for weight in (None, "balanced"):
            svm = self._svm(self.C, weight).fit(X, y, sample_weight=sample_weight)
            scores[str(weight)] = round(score(y_val, decision_to_codes(svm.decision_function(X_val))), 6)
        chosen = "balanced" if scores["balanced"] > scores["None"] else None
        return {"chosen": chosen, "metric": metric, "validation": scores}

    def search(self, train, validation, budget, score=accuracy) -> list[dict]:
        """TF-IDF fitted once per vectorizer setting; a LinearSVC per C on top, deciding as
        ``predict`` does."""
        grid = {k: self.search_space[k] for k in self._VECTORIZER_PARAMS}
        own = {k: tuple(self.ngram_range) if k == "ngram_range" else getattr(self, k) for k in grid}
        settings = defaults_first(own, ParameterGrid(grid))
        Cs = defaults_first(self.C, self.search_space["C"])
        classes, y = np.unique(np.asarray(train[1]), return_inverse=True)
        trials = Trials(self.name, budget, len(settings) * len(Cs))
        for setting in settings:
            start = time.perf_counter()
            vectorizer = clone(self).set_params(**setting)._make_vectorizer()
            try:
                X = vectorizer.fit_transform(train[0])
            except ValueError:
                continue  # min_df leaves no term on tiny data: not a candidate
            X_val = vectorizer.transform(validation[0])
            prep = time.perf_counter() - start
            for C in Cs:
                if not trials.allows_another():
                    return trials.records
                t0 = time.perf_counter()
                with threadpool_limits(limits=1, user_api="blas"):  # as in _fit
                    pred = classes[decision_to_codes(self._svm(C).fit(X, y).decision_function(X_val))]
                trials.add({**setting, "C": C}, score(np.asarray(validation[1]), pred), time.perf_counter() - t0 + prep / len(Cs))
        return trials.records

    def _build_fast_path(self):
        try:
            self._fast = LinearTextScorer(self.vectorizer_, self.svm_.coef_, self.svm_.intercept_)
        except ValueError:
            self._fast = None  # settings the fast path does not reproduce: scikit-learn's path

    def _decision_function(self, texts):
        if self._fast is not None:  # no scikit-learn overhead: the same numbers, faster
            if len(texts) <= FAST_PATH_MAX:
                return np.array([self._fast.decision(t) for t in texts])
            batch = self._fast.decisions(texts)
            if batch is not None:
                return batch
        return self.svm_.decision_function(self.vectorizer_.transform(texts))

    def _predict_proba(self, texts):
        if self._fast is not None and len(texts) <= FAST_PATH_MAX and len(self.classes_) == 2:
            p = [platt_one(self._fast.decision(t), self.calibration_) for t in texts]
            return np.array([[1.0 - q, q] for q in p])
        return calibrated_proba(self._decision_function(texts), self.calibration_)

    def extra_record(self, test=None) -> dict:
        return {"top_terms": self.top_terms(20), "class_weight_choice": getattr(self, "class_weight_choice_", None)}

    def top_terms(self, n=20) -> dict[str, list[tuple[str, float]]]:
        """The ``n`` terms with the largest SVM weights: for two classes the most positive
        (towards ``classes_[1]``) and most negative; above, for each class (by its position
        in ``classes_``) the terms that weigh most towards it."""
        terms = self.vectorizer_.get_feature_names_out()
        coef = self.svm_.coef_
        if coef.shape[0] == 1:
            order = np.argsort(coef[0])
            return {
                "positive": [(terms[i], float(coef[0, i])) for i in order[::-1][:n]],
                "negative": [(terms[i], float(coef[0, i])) for i in order[:n]],
            }
        return {str(k): [(terms[i], float(row[i])) for i in np.argsort(row)[::-1][:n]] for k, row in enumerate(coef)}

    def _save_files(self, folder: Path, context: dict):
        skops_dump(
            {"vectorizer": self.vectorizer_, "svm": self.svm_, "calibration": calibration_state(self.calibration_)},
            folder / _MODEL_FILE,
        )

    def _load_files(self, folder: Path):
        path = folder / _MODEL_FILE
        state = skops_load(path, _ALLOWED_TYPES)
        try:
            self.vectorizer_ = state["vectorizer"]
            self.svm_ = state["svm"]
            self.calibration_ = calibration_from_state(state["calibration"], len(self.classes_))
            valid = isinstance(self.vectorizer_, (TfidfVectorizer, CountVectorizer)) and isinstance(self.svm_, LinearSVC)
        except (TypeError, KeyError, IndexError, ValueError):
            valid = False
        if not valid:
            raise ModelFileError(f"{path} does not hold a BowSvmClassifier's state; save the model again")
        check_estimator(self.vectorizer_, path)
        check_estimator(self.svm_, path)
        problem = self._state_problem()
        if problem:
            raise ModelFileError(f"{path} does not hold a BowSvmClassifier's state ({problem}); save the model again")
        self._build_fast_path()
        check_predicts(self, path)

    def _state_problem(self) -> str | None:
        """What in a loaded state no fit of these hyperparameters makes (``None``: nothing)."""
        vectorizer, made = self.vectorizer_, self._make_vectorizer()
        if type(vectorizer) is not type(made):
            return f"a {type(vectorizer).__name__} where features={self.features!r} makes a {type(made).__name__}"
        problem = _analysis_problem(vectorizer, made)
        if problem is not None:
            return problem
        vocabulary = getattr(vectorizer, "vocabulary_", None)
        if not _is_vocabulary(vocabulary):
            return "its vocabulary is not terms numbered 0 to n - 1"
        if self.features == "tfidf" and not _has_idf(vectorizer, len(vocabulary)):
            return "its vectorizer's idf weights do not match its vocabulary"
        rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        if not (_is_float_array(getattr(self.svm_, "coef_", None), (rows, len(vocabulary)))
                and _is_float_array(getattr(self.svm_, "intercept_", None), (rows,))):
            return f"its SVM's weights are not of shape ({rows}, {len(vocabulary)})"
        return None


def _analysis_problem(vectorizer, made) -> str | None:
    """How ``vectorizer`` turns a text into terms differently from ``made`` (``None``: it does not)."""
    # What turns a text into terms: sentibench sets these and nothing else.
    for key in ("input", "analyzer", "preprocessor", "tokenizer", "token_pattern", "ngram_range"):
        value, expected = getattr(vectorizer, key), getattr(made, key)
        if (tuple(value) if key == "ngram_range" and isinstance(value, list) else value) != expected:
            return f"its vectorizer's {key} is {value!r}, not {expected!r}"
    return None


def _is_vocabulary(vocabulary) -> bool:
    """Whether ``vocabulary`` maps terms (str) to the columns 0 to n - 1."""
    return (isinstance(vocabulary, dict) and all(isinstance(term, str) for term in vocabulary)
            and sorted(vocabulary.values()) == list(range(len(vocabulary))))


def _has_idf(vectorizer, n_terms: int) -> bool:
    """Whether ``vectorizer`` holds float idf weights for ``n_terms`` terms."""
    tfidf = getattr(vectorizer, "_tfidf", None)
    return isinstance(tfidf, TfidfTransformer) and _is_float_array(getattr(tfidf, "idf_", None), (n_terms,))


def _is_float_array(value, shape: tuple[int, ...]) -> bool:
    return isinstance(value, np.ndarray) and value.shape == shape and np.issubdtype(value.dtype, np.floating)
