"""Shared fixtures: a tiny real corpus (the bundled sample). Helpers are in _helpers.py."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dataset import bundled_sample_path, load_reviews

#: Modules that import torch at the top: not collected on an install without the bert extra.
collect_ignore = [] if importlib.util.find_spec("torch") else [
    "test_bert.py", "test_distributed.py", "test_export.py", "test_perf.py", "test_resume.py",
]


@pytest.fixture(scope="session")
def sample():
    """The 200 labelled movie-review sentences shipped with gensim."""
    return load_reviews(str(bundled_sample_path()))


@pytest.fixture(scope="session")
def tiny(sample):
    """(train_texts, train_labels, test_texts, test_labels): 48 + 16 balanced sentences."""
    y = sample.labels
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    train = np.concatenate([pos[:24], neg[:24]])
    test = np.concatenate([pos[24:32], neg[24:32]])
    texts = sample.texts
    return [texts[i] for i in train], y[train], [texts[i] for i in test], y[test]


@pytest.fixture(autouse=True)
def default_data_is_the_bundled_sample(monkeypatch, tmp_path_factory):
    """Tests that leave --data out mean the bundled sample, also in a checkout where
    ``download`` wrote dataset/yelp_reviews.csv or SENTIBENCH_DATA is set."""
    import dataset._locate

    monkeypatch.delenv("SENTIBENCH_DATA", raising=False)
    monkeypatch.setattr(dataset._locate, "PROJECT_DIR", tmp_path_factory.getbasetemp())
