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
from itertools import repeat
from operator import itemgetter

import numpy as np

#: Inputs up to this many reviews take the fast path; larger batches, scikit-learn's.
FAST_PATH_MAX = 32
_WEIGHT, _IDF2 = itemgetter(1), itemgetter(2)


class LinearTextScorer:
    """Decision value(s) of a linear model on a ``CountVectorizer``/``TfidfVectorizer``.

    Reproduces the vectorizer's word analyzer (lower-casing, ``token_pattern``,
    n-grams joined by a space), the counts of vocabulary terms, ``1 + log(tf)`` with
    ``sublinear_tf``, the IDF weights and the L2 norm, then the dot product with the
    model's coefficients: one value for two classes (``coef`` of one row), one per class
    above (``coef`` of K rows, as a one-vs-rest ``LinearSVC`` has).
    """

    def __init__(self, vectorizer, coef: np.ndarray, intercept):
        _check_plain_analyzer(vectorizer)
        self.lowercase = vectorizer.lowercase
        self.token_re = re.compile(vectorizer.token_pattern)
        if self.token_re.groups > 1:
            raise ValueError("token_pattern with more than one capturing group")
        self.min_n, self.max_n = vectorizer.ngram_range
        tfidf = hasattr(vectorizer, "idf_")
        self.sublinear, self.norm = _weighting(vectorizer, tfidf)
        idf = np.asarray(vectorizer.idf_, dtype=np.float64) if tfidf else np.ones(len(vectorizer.vocabulary_))
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        # Two classes: scalars (the common case, and the fastest); more: a vector per term.
        coef = coef.ravel() if coef.shape[0] == 1 else coef.T
        self.trie = _vocabulary_trie(vectorizer.vocabulary_, idf, coef, self.max_n)
        intercept = np.asarray(intercept, dtype=np.float64).ravel()
        self.intercept = float(intercept[0]) if coef.ndim == 1 else intercept
        # Batches need unigrams/bigrams and a pattern without a capturing group (its findall
        # must also return the newlines that separate reviews).
        batchable = self.max_n <= 2 and self.token_re.groups == 0 and self.token_re.search("\n") is None
        self._batch = _BatchTables(vectorizer.vocabulary_, idf, coef, self) if batchable else None

    def _found(self, text: str) -> list[tuple]:
        """Stats of every vocabulary n-gram occurrence in ``text``."""
        tokens = self.token_re.findall(text.lower() if self.lowercase else text)
        if self.min_n == 1 and self.max_n <= 2:  # the default (1, 2) and unigrams: the common case, unrolled
            return self._found_short(tokens)
        return self._found_any(tokens)

    def _found_short(self, tokens: list[str]) -> list[tuple]:
        """Stats of the unigrams, and bigrams with ``max_n == 2``, among ``tokens``."""
        found, trie, max_n = [], self.trie, self.max_n
        last = len(tokens) - 1
        for i, token in enumerate(tokens):
            node = trie.get(token)
            if node is None:
                continue
            if node[0] is not None:
                found.append(node[0])
            if max_n == 2 and i < last:
                pair = node[1].get(tokens[i + 1])
                if pair is not None and pair[0] is not None:
                    found.append(pair[0])
        return found

    def _found_any(self, tokens: list[str]) -> list[tuple]:
        """Stats of the n-grams of every size from ``min_n`` to ``max_n`` among ``tokens``."""
        found, trie, min_n, max_n = [], self.trie, self.min_n, self.max_n
        for i in range(len(tokens)):
            level = trie
            for n in range(1, max_n + 1):
                if i + n > len(tokens):
                    break
                node = level.get(tokens[i + n - 1])
                if node is None:
                    break
                if n >= min_n and node[0] is not None:
                    found.append(node[0])
                level = node[1]
        return found

    def decision(self, text: str):
        """The decision value of ``text`` (a float for two classes, an array of K above)."""
        found = self._found(text)
        if len(set(map(id, found))) == len(found):  # one stats tuple per term: id is enough
            # Every term once (the usual case for a review): tf = 1, so 1 + log(tf) = 1.
            dot = sum(map(_WEIGHT, found))
            norm2 = sum(map(_IDF2, found))
        else:
            counts: dict[str, list] = {}
            for stats in found:
                counts.setdefault(stats[3], [stats, 0])[1] += 1
            dot = norm2 = 0.0
            for (idf, weight, _, _), tf in counts.values():
                value = 1.0 + math.log(tf) if self.sublinear else float(tf)
                dot += value * weight
                norm2 += (value * idf) ** 2
        if self.norm == "l2" and norm2 > 0:
            dot /= math.sqrt(norm2)
        return dot + self.intercept

    def decisions(self, texts: list[str]) -> np.ndarray | None:
        """Decision values of many reviews, or ``None`` when only scikit-learn's path applies."""
        return None if self._batch is None else self._batch.decisions(texts)


def _check_plain_analyzer(vectorizer) -> None:
    """Refuse a vectorizer whose text analysis is more than lower-casing and ``token_pattern``."""
    if vectorizer.analyzer != "word" or vectorizer.preprocessor is not None or vectorizer.tokenizer is not None \
            or vectorizer.stop_words is not None or vectorizer.strip_accents is not None:
        raise ValueError("the fast path reproduces the plain word analyzer only")


def _weighting(vectorizer, tfidf: bool) -> tuple[bool, str | None]:
    """``(sublinear, norm)`` of the vectorizer's term weights, refusing those not reproduced."""
    sublinear = bool(getattr(vectorizer, "sublinear_tf", False)) and tfidf
    norm = getattr(vectorizer, "norm", None) if tfidf else None
    if norm not in (None, "l2") or (tfidf and vectorizer.binary):
        raise ValueError("the fast path reproduces norm='l2' or no norm, non-binary counts")
    return sublinear, norm


def _vocabulary_trie(vocabulary: dict, idf: np.ndarray, coef: np.ndarray, max_n: int) -> dict:
    """The vocabulary as a trie with one level per token of an n-gram."""
    # Walking it from each position finds the n-grams without joining strings. Node:
    # [stats, children], stats = (idf, idf * coef, idf ** 2, term) for a vocabulary term, else None.
    trie: dict = {}
    for term, col in vocabulary.items():
        node = None
        level = trie
        parts = term.split(" ")
        if len(parts) > max_n:  # a token_pattern that matches spaces: no exact trie
            raise ValueError("token_pattern matches spaces; the fast path cannot split n-grams")
        for token in parts:
            node = level.setdefault(token, [None, {}])
            level = node[1]
        weight = idf[col] * coef[col]
        node[0] = (float(idf[col]), float(weight) if coef.ndim == 1 else weight, float(idf[col]) ** 2, term)
    return trie


class _BatchTables:
    """Arrays for scoring many reviews at once: every token of the batch is found in one
    regular-expression pass and one dictionary pass, and the counting, weighting and
    norms are NumPy operations (unigrams and bigrams, the vectorizer's default)."""

    def __init__(self, vocabulary: dict, idf: np.ndarray, coef: np.ndarray, scorer: LinearTextScorer):
        tokens = sorted({t for term in vocabulary for t in term.split(" ")})
        self.token_id = {t: i for i, t in enumerate(tokens)}
        self.token_id["\n"] = -2  # the boundary between two reviews
        n = len(tokens)
        self.n_tokens = n
        self.unigram_col = np.full(n + 1, -1, dtype=np.int64)  # index n: unknown tokens
        keys, cols = [], []
        for term, col in vocabulary.items():
            parts = term.split(" ")
            if len(parts) == 1:
                self.unigram_col[self.token_id[parts[0]]] = col
            else:
                keys.append(self.token_id[parts[0]] * n + self.token_id[parts[1]])
                cols.append(col)
        self.bigrams = _IntTable(np.asarray(keys, dtype=np.int64), np.asarray(cols, dtype=np.int64))
        self.idf = idf
        self.weight = idf * coef if coef.ndim == 1 else idf[:, None] * coef  # (n_terms,) or (n_terms, K)
        # Newlines separate reviews in the joined batch: the pattern finds them too.
        self.pattern = re.compile(r"\n|(?:" + scorer.token_re.pattern + ")")
        self.scorer = scorer

    def decisions(self, texts: list[str]) -> np.ndarray:
        s = self.scorer
        joined = "\n".join(t.replace("\n", " ") for t in texts)
        tokens = self.pattern.findall(joined.lower() if s.lowercase else joined)
        ids = np.fromiter(map(self.token_id.get, tokens, repeat(self.n_tokens)), dtype=np.int64, count=len(tokens))
        review = np.cumsum(ids == -2)
        keep = ids != -2
        ids, review = ids[keep], review[keep]
        hits_review, hits_col = [], []
        if s.min_n == 1:
            col = self.unigram_col[ids]
            hits_review.append(review[col >= 0])
            hits_col.append(col[col >= 0])
        if s.max_n == 2 and len(ids) > 1 and len(self.bigrams):
            a, b = ids[:-1], ids[1:]
            valid = (review[:-1] == review[1:]) & (a < self.n_tokens) & (b < self.n_tokens)
            col = self.bigrams.get(np.where(valid, a * self.n_tokens + b, -1))
            found = col >= 0
            hits_review.append(review[:-1][found])
            hits_col.append(col[found])
        review_hits = np.concatenate(hits_review) if hits_review else np.zeros(0, dtype=np.int64)
        col_hits = np.concatenate(hits_col) if hits_col else np.zeros(0, dtype=np.int64)
        n_cols = len(self.idf)
        pairs, tf = np.unique(review_hits * n_cols + col_hits, return_counts=True)
        rows, cols = pairs // n_cols, pairs % n_cols
        value = 1.0 + np.log(tf) if s.sublinear else tf.astype(np.float64)
        weights = self.weight[cols]
        if weights.ndim == 1:
            dot = np.bincount(rows, weights=value * weights, minlength=len(texts)).astype(np.float64)
        else:
            dot = np.column_stack([np.bincount(rows, weights=value * weights[:, k], minlength=len(texts))
                                   for k in range(weights.shape[1])]).astype(np.float64)
        if s.norm == "l2":
            norm = np.sqrt(np.bincount(rows, weights=(value * self.idf[cols]) ** 2, minlength=len(texts)).astype(np.float64))
            if dot.ndim == 2:
                norm = norm[:, None]
            dot = np.divide(dot, norm, out=dot.copy(), where=norm > 0)
        return dot + s.intercept


class _IntTable:
    """A hash table from non-negative int64 keys to int64 values, looked up for a whole
    array at once (open addressing, linear probing, at most half full). Five times
    faster than a binary search over the sorted keys for a batch's bigrams."""

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.n = len(keys)
        self.bits = max(4, int(2 * max(self.n, 1) - 1).bit_length())
        self.mask = (1 << self.bits) - 1
        self.keys = np.full(1 << self.bits, -1, dtype=np.int64)
        self.values = np.full(1 << self.bits, -1, dtype=np.int64)
        slot, pending = self._home(keys), np.arange(self.n)
        while len(pending):  # each round, one waiting key per free slot takes it
            free = self.keys[slot[pending]] == -1
            _, first = np.unique(slot[pending[free]], return_index=True)
            won = pending[free][first]
            self.keys[slot[won]], self.values[slot[won]] = keys[won], values[won]
            pending = np.setdiff1d(pending, won, assume_unique=True)
            slot[pending] = (slot[pending] + 1) & self.mask  # every slot tried is taken now

    def __len__(self) -> int:
        return self.n

    def _home(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys.astype(np.uint64) * self._MULTIPLIER) >> np.uint64(64 - self.bits)).astype(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 where a key is absent (negative keys are absent)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        slot = self._home(keys)
        todo = np.flatnonzero(keys >= 0)
        while len(todo):
            stored = self.keys[slot[todo]]
            hit = stored == keys[todo]
            out[todo[hit]] = self.values[slot[todo[hit]]]
            todo = todo[~hit & (stored != -1)]  # an empty slot ends a key's search
            slot[todo] = (slot[todo] + 1) & self.mask
        return out


class RbfScorer:
    """Decision value(s) of a fitted RBF-kernel ``SVC`` on standardised mean word vectors.

    The kernel against every support vector is ``exp(-gamma * |sv_i - x|^2)``, with
    ``|sv_i - x|^2 = |sv_i|^2 - 2 sv_i . x + |x|^2`` from precomputed squared norms. Two
    classes: ``sum_i dual_coef_i * k_i + intercept``. More: libsvm's one-vs-one value of
    each pair of classes, turned into one-vs-rest values by scikit-learn's own function,
    as ``SVC(decision_function_shape="ovr")`` does.
    """

    def __init__(self, svc, scaler, wv):
        self.sv = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
        self.sv_sq = np.einsum("ij,ij->i", self.sv, self.sv)
        self.n_classes = len(svc.classes_)
        dual = np.asarray(svc.dual_coef_, dtype=np.float64)
        if self.n_classes == 2:
            self.dual = dual.ravel()
            self.intercept = float(svc.intercept_[0])
        else:
            # One row per pair (i, j) of classes: the coefficients of class i's support
            # vectors against j, and of j's against i; zero elsewhere.
            starts = np.r_[0, np.cumsum(svc.n_support_)]
            pairs = [(i, j) for i in range(self.n_classes) for j in range(i + 1, self.n_classes)]
            self.dual = np.zeros((len(pairs), len(self.sv)))
            for p, (i, j) in enumerate(pairs):
                own, other = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
                self.dual[p, own] = dual[j - 1, own]
                self.dual[p, other] = dual[i, other]
            self.intercept = np.asarray(svc.intercept_, dtype=np.float64)
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

    def decision(self, tokens: list[str]):
        """A float for two classes, an array of K one-vs-rest values above."""
        x = self.features(tokens)
        kernel = np.exp(-self.gamma * (self.sv_sq - 2.0 * (self.sv @ x) + x @ x))
        if self.n_classes == 2:
            # dual_coef_ and intercept_ as scikit-learn exposes them: already signed for classes_[1].
            return float(self.dual @ kernel) + self.intercept
        from sklearn.utils.multiclass import _ovr_decision_function

        ovo = (self.dual @ kernel + self.intercept)[None, :]
        return _ovr_decision_function(ovo < 0, -ovo, self.n_classes)[0]
