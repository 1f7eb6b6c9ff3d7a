"""The fast single-review path of BoW and Word2Vec computes scikit-learn's numbers.

Equality is checked against the scikit-learn path of the same fitted model (the
vectorizer and SVM called directly), on hostile text, on saved-and-loaded models, and on
real reviews from ../shared/data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers import BowSvmClassifier, SentimentClassifier, Word2VecSvmClassifier
from classifiers._fastpath import FAST_PATH_MAX, _IntTable

from .._helpers import FAST_PARAMS, shared_file
from .._helpers import HOSTILE_TEXT as TEXT

VARIANTS = {
    "bow": BowSvmClassifier(min_df=1, random_state=0),
    "bow-trigrams-counts": BowSvmClassifier(min_df=1, ngram_range=(1, 3), features="counts", random_state=0),
    "bow-unigrams-plain-tf": BowSvmClassifier(min_df=1, ngram_range=(1, 1), sublinear_tf=False, random_state=0),
    "bow-sklearn-tokens": BowSvmClassifier(min_df=1, ngram_range=(2, 3), token_pattern=r"(?u)\b\w\w+\b", random_state=0),
    # Tokens that hold a space: the fast path steps aside (its trie splits n-grams at spaces).
    "bow-spaced-tokens": BowSvmClassifier(min_df=1, ngram_range=(1, 2), token_pattern=r"\w+ \w+|\w+", random_state=0),
    "w2v": Word2VecSvmClassifier(**FAST_PARAMS["w2v"]),
}


def scikit_learn_decision(clf, texts) -> np.ndarray:
    """The decision values of the fitted scikit-learn objects, called directly."""
    if isinstance(clf, BowSvmClassifier):
        return clf.svm_.decision_function(clf.vectorizer_.transform(texts))
    return clf.svm_.decision_function(clf.scaler_.transform(clf._embed(texts)[0]))


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def fitted(request, sample):
    from sklearn.base import clone

    return clone(VARIANTS[request.param]).fit(sample.texts, sample.labels)


def assert_same(clf, texts):
    fast = np.array([clf.decision_function([t])[0] for t in texts])
    reference = scikit_learn_decision(clf, texts)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(clf.predict(texts[:FAST_PATH_MAX]), clf.classes_[(reference[:FAST_PATH_MAX] > 0).astype(int)])


def test_fast_path_equals_scikit_learn_on_the_sample(fitted, sample):
    assert_same(fitted, sample.texts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=1, max_size=5))
def test_fast_path_equals_scikit_learn_on_hostile_text(fitted, texts):
    assert_same(fitted, texts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=FAST_PATH_MAX + 1, max_size=60))
def test_batch_path_equals_scikit_learn_on_hostile_text(fitted, texts):
    # More than FAST_PATH_MAX reviews: BoW scores the whole batch with NumPy.
    np.testing.assert_allclose(fitted.decision_function(texts), scikit_learn_decision(fitted, texts), rtol=0, atol=1e-9)


def test_saved_models_load_into_the_fast_path(fitted, sample, tmp_path):
    loaded = SentimentClassifier.load(fitted.save(tmp_path / "m"))
    assert (loaded._fast is None) == (fitted._fast is None)
    assert (loaded._fast is None) == (fitted.get_params().get("token_pattern") == r"\w+ \w+|\w+")  # only there
    np.testing.assert_array_equal(
        [loaded.decision_function([t])[0] for t in sample.texts[:50]], [fitted.decision_function([t])[0] for t in sample.texts[:50]]
    )
    assert_same(loaded, sample.texts[:50])


def test_large_batches_keep_the_vectorised_path(fitted, sample):
    # Above FAST_PATH_MAX reviews the scikit-learn path runs; both agree anyway.
    np.testing.assert_allclose(fitted.decision_function(sample.texts), scikit_learn_decision(fitted, sample.texts), atol=1e-9)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["bow", "w2v"])
def test_fast_path_equals_scikit_learn_on_real_reviews(name):
    import pandas as pd

    frame = pd.read_csv(shared_file("yelp_sentences.csv")).sample(4000, random_state=0)
    texts, labels = frame["text"].tolist(), frame["label"].to_numpy()
    clf = (BowSvmClassifier() if name == "bow" else Word2VecSvmClassifier()).fit(texts[:3000], labels[:3000])
    assert_same(clf, texts[3000:])
    np.testing.assert_allclose(clf.decision_function(texts[3000:]), scikit_learn_decision(clf, texts[3000:]), rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, 2**40), st.integers(0, 10**6), max_size=300),
       st.lists(st.integers(-5, 2**40), max_size=200))
def test_int_table_finds_exactly_the_stored_keys(stored, queries):
    keys = np.array(list(stored), dtype=np.int64)
    table = _IntTable(keys, np.array(list(stored.values()), dtype=np.int64))
    probe = np.array(list(stored) + queries, dtype=np.int64)
    assert table.get(probe).tolist() == [stored.get(k, -1) if k >= 0 else -1 for k in probe.tolist()]


def test_int_table_with_many_colliding_keys():
    keys = np.arange(0, 4096 * 64, 64, dtype=np.int64)  # regular keys: long probe runs if the hash were poor
    table = _IntTable(keys, keys * 3)
    assert (table.get(keys) == keys * 3).all() and (table.get(keys + 1) == -1).all()


def test_a_steep_calibration_gives_probabilities_not_an_overflow(sample):
    """A separable validation split gives Platt a steep slope; exp(-(a*d+b)) then exceeds
    a float on the single-review path (OverflowError before), not on the batch path."""
    clf = BowSvmClassifier(min_df=1, random_state=0).fit(sample.texts, sample.labels)
    clf.calibration_ = (1e4, 0.0)
    texts = sample.texts[::10]
    single = np.vstack([clf.predict_proba([t]) for t in texts])
    batch = clf.predict_proba(texts * (FAST_PATH_MAX // len(texts) + 1))[: len(texts)]
    np.testing.assert_allclose(single, batch, atol=1e-12)
    assert not np.isnan(single).any() and {0.0, 1.0} <= set(single.ravel().round(3))
