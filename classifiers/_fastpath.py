"""Predictions for one review, or a few, at the cost of the method rather than the library.

scikit-learn's ``transform`` + ``decision_function`` spend about a millisecond per call on
input checks, sparse-matrix construction and dispatch, while a TF-IDF vector of one
review and a dot product take microseconds. These scorers compute exactly the same
numbers (same tokens, n-grams, TF-IDF weighting, L2 norm, kernel) in plain Python and
small NumPy operations; the classifiers use them for small inputs and keep the
vectorised scikit-learn path for large batches. They are built from the fitted
scikit-learn objects at fit and load time (no pickle involved), and tests check that the
decision values agree with scikit-learn's to 1e-9.
"""

from __future__ import annotations

import math
import re

import numpy as np

#: Inputs up to this many reviews take the fast path; larger batches, scikit-learn's.
FAST_PATH_MAX = 32


class LinearTextScorer:
    """Decision value of a linear model on a ``CountVectorizer``/``TfidfVectorizer``.

    Reproduces the vectorizer's word analyzer (lower-casing, ``token_pattern``,
    n-grams joined by a space), the counts of vocabulary terms, ``1 + log(tf)`` with
    ``sublinear_tf``, the IDF weights and the L2 norm, then the dot product with the
    model's coefficients.
    """

    def __init__(self, vectorizer, coef: np.ndarray, intercept: float):
        if vectorizer.analyzer != "word" or vectorizer.preprocessor is not None or vectorizer.tokenizer is not None \
                or vectorizer.stop_words is not None or vectorizer.strip_accents is not None:
            raise ValueError("the fast path reproduces the plain word analyzer only")
        self.lowercase = vectorizer.lowercase
        self.token_re = re.compile(vectorizer.token_pattern)
        if self.token_re.groups > 1:
            raise ValueError("token_pattern with more than one capturing group")
        self.min_n, self.max_n = vectorizer.ngram_range
        tfidf = hasattr(vectorizer, "idf_")
        self.sublinear = bool(getattr(vectorizer, "sublinear_tf", False)) and tfidf
        self.norm = getattr(vectorizer, "norm", None) if tfidf else None
        if self.norm not in (None, "l2") or (tfidf and vectorizer.binary):
            raise ValueError("the fast path reproduces norm='l2' or no norm, non-binary counts")
        idf = np.asarray(vectorizer.idf_, dtype=np.float64) if tfidf else np.ones(len(vectorizer.vocabulary_))
        coef = np.asarray(coef, dtype=np.float64).ravel()
        # term -> (idf, idf * coef): one dictionary lookup per n-gram.
        self.terms = {term: (float(idf[col]), float(idf[col] * coef[col])) for term, col in vectorizer.vocabulary_.items()}
        self.intercept = float(intercept)

    def _ngrams(self, text: str) -> list[str]:
        tokens = self.token_re.findall(text.lower() if self.lowercase else text)
        if self.max_n == 1:
            return tokens
        grams = list(tokens) if self.min_n == 1 else []
        for n in range(max(self.min_n, 2), min(self.max_n, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def decision(self, text: str) -> float:
        counts: dict[str, int] = {}
        terms = self.terms
        for gram in self._ngrams(text):
            if gram in terms:
                counts[gram] = counts.get(gram, 0) + 1
        dot = norm2 = 0.0
        for gram, tf in counts.items():
            idf, weight = terms[gram]
            value = 1.0 + math.log(tf) if self.sublinear else float(tf)
            dot += value * weight
            norm2 += (value * idf) ** 2
        if self.norm == "l2" and norm2 > 0:
            dot /= math.sqrt(norm2)
        return dot + self.intercept


class RbfScorer:
    """Decision value of a fitted RBF-kernel ``SVC`` on standardised mean word vectors.

    ``sum_i dual_coef_i * exp(-gamma * |sv_i - x|^2) + intercept``, with
    ``|sv_i - x|^2 = |sv_i|^2 - 2 sv_i . x + |x|^2`` from precomputed squared norms.
    """

    def __init__(self, svc, scaler, wv):
        self.sv = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
        self.sv_sq = np.einsum("ij,ij->i", self.sv, self.sv)
        self.dual = np.asarray(svc.dual_coef_, dtype=np.float64).ravel()
        self.intercept = float(svc.intercept_[0])
        self.gamma = float(svc._gamma)
        # The classifier embeds in float32 and StandardScaler keeps float32 arithmetic:
        # the same steps here give the same numbers.
        self.mean = np.asarray(scaler.mean_).astype(np.float32)
        self.scale = np.asarray(scaler.scale_).astype(np.float32)
        self.index = wv.key_to_index
        self.vectors = wv.vectors

    def features(self, tokens: list[str]) -> np.ndarray:
        ids = [self.index[t] for t in tokens if t in self.index]
        x = self.vectors[ids].mean(axis=0, dtype=np.float32) if ids else np.zeros(self.mean.shape, dtype=np.float32)
        return ((x - self.mean) / self.scale).astype(np.float64)

    def decision(self, tokens: list[str]) -> float:
        x = self.features(tokens)
        sq = self.sv_sq - 2.0 * (self.sv @ x) + x @ x
        # dual_coef_ and intercept_ as scikit-learn exposes them: already signed for classes_[1].
        return float(self.dual @ np.exp(-self.gamma * sq)) + self.intercept
