"""Shared fixtures: a tiny real corpus (the bundled sample) and one finished run of it.
Helpers are in _helpers.py."""

from __future__ import annotations

import numpy as np
import pytest

from dataset import bundled_sample_path, load_reviews


def _every_interval_holds_its_value():
    """A property of every run in the suite: each bootstrap interval any run computes holds
    its value (``low <= value <= high``). ``stats.bootstrap_ci`` makes every record's
    intervals; it is checked here before any module has imported it by name."""
    import functools

    import benchmark.stats as stats

    real = stats.bootstrap_ci

    @functools.wraps(real)
    def checked(*args, **kwargs):
        out = real(*args, **kwargs)
        outside = {name: ci for name, ci in out.items()
                   if isinstance(ci, dict) and ci["low"] is not None and not ci["low"] <= ci["value"] <= ci["high"]}
        assert not outside, f"intervals that exclude their own value: {outside}"
        return out

    stats.bootstrap_ci = checked


_every_interval_holds_its_value()


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
def default_data_is_the_small_sample(monkeypatch, tmp_path_factory):
    """Tests that leave --data out mean the 200-sentence sample (30 test reviews: quick), in
    this process and in the processes they start (SENTIBENCH_DATA), also in a checkout where
    ``download`` wrote dataset/yelp_reviews.csv. Tests of the default itself set what they need."""
    import dataset._locate

    monkeypatch.setenv("SENTIBENCH_DATA", "sample:pang-lee")
    monkeypatch.setattr(dataset._locate, "PROJECT_DIR", tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One finished run shared by every test that reads a run folder: bow and w2v on the
    bundled 200-sentence sample (30 test reviews), models saved. Tests that change a run
    folder work on a copy of it."""
    from benchmark.__main__ import main

    from ._helpers import FAST

    out = tmp_path_factory.mktemp("finished")
    assert main(["-q", "run", "--classifiers", "bow,w2v", "--data", "sample:pang-lee", "--save-models",
                 "--output", str(out), *FAST]) == 0
    (run_dir,) = out.iterdir()
    return run_dir
