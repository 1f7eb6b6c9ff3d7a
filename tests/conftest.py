"""Shared fixtures: a tiny real corpus (the bundled sample) and the shared data folder."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from dataset import bundled_sample_path, load_reviews

#: Real review data beside the project (absent in a user's fresh clone).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: Hyperparameters that make each classifier fit the tiny corpus in seconds.
FAST_PARAMS = {
    "bow": {"min_df": 1},
    "w2v": {"min_count": 1, "w2v_epochs": 5},
    "bert": {"epochs": 1, "max_length": 32, "batch_size": 8},
}


def shared_file(name: str) -> Path:
    """Path of a file in ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not present (real data lives only beside the project)")
    return path


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


def unused_port() -> int:
    """A loopback port that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_one_line(excinfo, *needles) -> str:
    """The exception's message: a single line containing every needle."""
    message = str(excinfo.value)
    assert "\n" not in message and "\r" not in message
    for needle in needles:
        assert needle in message
    return message
