"""Prediction latency of every classifier (pytest-benchmark).

Kept out of the default run by the ``latency`` marker::

    python -m pytest -m latency --benchmark-autosave          # measure, save JSON under .benchmarks/
    python -m pytest -m latency --benchmark-compare           # compare with the last saved run
    python -m pytest -m latency --benchmark-disable           # run each once (CI: checks it works)

Each model is fitted on first use (so ``-k "not bert"`` never fine-tunes BERT), once per
session and data set: two classes (2,000 Yelp sentences from ../shared/data when present,
else the bundled 200-sentence sample) and five star classes (the VADER Amazon snippets
from ../shared/data when present, else synthetic reviews). A "batch of 100" is always 100
test reviews, drawn with replacement when the test split is smaller.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from classifiers import REGISTRY
from dataset import bundled_sample_path, load_reviews, stratified_sample, stratified_split

from .._helpers import ENDPOINT_CLASSIFIERS, SHARED_DATA, synthetic_reviews

pytestmark = pytest.mark.latency

#: fastText (what a user would pick instead) when installed, first: trained after the
#: other models in the same process it can diverge (see benchmark/perf_classical.py).
#: Built-in classifiers only: installed plugins have no settings here. Not llm: its latency is
#: the endpoint's (its record holds the p50 and p95 of its requests).
NAMES = (["fasttext"] if importlib.util.find_spec("fasttext") else []) + [
    n for n in REGISTRY if REGISTRY.is_builtin(n) and n not in ENDPOINT_CLASSIFIERS]
#: Settings that keep session set-up short; latency depends on the model, not on epochs.
PARAMS = {"bow": {}, "w2v": {}, "bert": {"epochs": 1, "verbose": False}, "embed": {}, "vader": {}, "zeroshot": {}, "static": {},
          "setfit": {"num_iterations": 1}}


def _reviews(kind: str):
    """(texts, labels, source) of one of the suite's data sets."""
    if kind == "two classes":
        shared = SHARED_DATA / "yelp_sentences.csv"
        data = load_reviews(str(shared if shared.is_file() else bundled_sample_path()))
        return data.texts, data.labels, data.source
    shared = SHARED_DATA / "vader_amazon_snippets.csv"
    if shared.is_file():
        data = load_reviews(str(shared), label_column="stars")
        return data.texts, data.labels, data.source
    texts, labels = synthetic_reviews(5, 200, seed=0)
    return texts, labels, "synthetic five-star reviews"


@pytest.fixture(scope="session", params=["two classes", "five stars"])
def corpus(request):
    texts, labels, source = _reviews(request.param)
    keep = stratified_sample(labels, 2000, seed=0)
    texts, labels = [texts[i] for i in keep], labels[keep]
    train, val, test = stratified_split(labels, seed=0)
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    return {
        "source": source,
        "classes": int(labels.max()) + 1,
        "train": (pick(train), labels[train]),
        "validation": (pick(val), labels[val]),
        "test": pick(test),
    }


class _FastTextProba:
    """fastText supervised (as in ``perf classical``) with ``predict_proba`` over a list."""

    def __init__(self, texts, labels):
        import fasttext

        from benchmark.perf.classical import _FastText

        self.n_classes = int(np.max(labels)) + 1
        self.model = _FastText(fasttext, seed=0).fit(texts, labels)

    def predict_proba(self, texts):
        labels, probs = self.model.model.predict([" ".join(t.split()) for t in texts], k=self.n_classes)
        out = np.zeros((len(texts), self.n_classes))
        for row, (names, values) in enumerate(zip(labels, probs, strict=True)):
            for name, value in zip(names, values, strict=True):
                out[row, int(name.removeprefix("__label__"))] = value
        return out / out.sum(axis=1, keepdims=True)  # fastText's float32 softmax sums to 1 - 1e-5


class _Fitted(dict):
    """Classifiers fitted the first time a test asks for them."""

    def __init__(self, corpus):
        super().__init__()
        self.corpus = corpus

    def __missing__(self, name):
        if name == "fasttext":
            return self.setdefault(name, _FastTextProba(*self.corpus["train"]))
        clf = REGISTRY[name](**PARAMS[name]).fit(*self.corpus["train"], validation=self.corpus["validation"])
        clf.predict_proba(self.corpus["test"][:1])  # lazy set-up (BERT's traced model) before timing
        self[name] = clf
        return clf


@pytest.fixture(scope="session")
def fitted(corpus):
    return _Fitted(corpus)


@pytest.fixture(scope="session")
def batch_of_100(corpus):
    texts = corpus["test"]
    rng = np.random.default_rng(0)
    return [texts[i] for i in rng.choice(len(texts), size=100, replace=len(texts) < 100)]


@pytest.mark.benchmark(group="single review")
@pytest.mark.parametrize("name", NAMES)
def test_single_review_latency(benchmark, fitted, corpus, name):
    texts = corpus["test"]
    calls = iter(range(10**9))

    def one_review():
        return fitted[name].predict_proba([texts[next(calls) % len(texts)]])

    benchmark.extra_info.update(classifier=name, data=corpus["source"], classes=corpus["classes"])
    proba = benchmark.pedantic(one_review, rounds=100, warmup_rounds=5, iterations=1)
    assert proba.shape == (1, corpus["classes"])
    np.testing.assert_allclose(proba.sum(), 1.0)


@pytest.mark.benchmark(group="batch of 100 reviews")
@pytest.mark.parametrize("name", NAMES)
def test_batch_latency(benchmark, fitted, corpus, batch_of_100, name):
    batch = batch_of_100
    assert len(batch) == 100
    benchmark.extra_info.update(classifier=name, data=corpus["source"], classes=corpus["classes"], batch_size=len(batch))
    proba = benchmark.pedantic(fitted[name].predict_proba, args=(batch,), rounds=10, warmup_rounds=1, iterations=1)
    assert proba.shape == (len(batch), corpus["classes"])
