"""Hostile input to ``predict``, checked with hypothesis: every classifier gives valid
labels and probabilities or a clear ``TypeError``/``ValueError``, never a crash or a hang.

Each classifier is fitted once per module.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from classifiers import REGISTRY
from dataset import load_reviews

from .._helpers import ENDPOINT_CLASSIFIERS, FAST_PARAMS, HOSTILE_PIECES, require, slow_for_transformers
from .._helpers import HOSTILE_TEXT as TEXT

PREDICT_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ONE_MB_TEXT = "great food " * 100_000  # 1.1 MB

# ---------------------------------------------------------------------------
# 5. predict on every registered classifier
# ---------------------------------------------------------------------------

NAMES = sorted(n for n in REGISTRY if n not in ENDPOINT_CLASSIFIERS)
#: Fitting BERT and the encoder is slow: their parameters run with -m slow.
FITTED = slow_for_transformers(NAMES)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run torch on one thread for this module, then restore the setting: with one
    thread per core, BERT slows down many times over as soon as another process holds a
    core (docs/design.md). The behaviour under test does not depend on it."""
    try:
        import torch
    except ImportError:  # no bert extra: nothing to set
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=FITTED)
def fitted(request, tiny, one_torch_thread):
    """Each classifier, fitted once per module on the tiny training split."""
    name = request.param
    require(name)
    params = dict(FAST_PARAMS[name])
    if name == "bert":
        params["verbose"] = False
    train_x, train_y = tiny[:2]
    return REGISTRY[name](**params).fit(train_x, train_y)


def object_array(items):
    """1-D object array holding exactly ``items`` (np.array would nest lists)."""
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


CONTAINERS = {
    "list": list,
    "tuple": tuple,
    "ndarray": object_array,
    "series": lambda xs: pd.Series(object_array(xs)),
}


def assert_valid_predictions(clf, texts):
    n = len(texts)
    pred = clf.predict(texts)
    assert isinstance(pred, np.ndarray) and pred.shape == (n,)
    assert pred.dtype.kind == "i"
    assert set(pred.tolist()) <= {0, 1}
    proba = clf.predict_proba(texts)
    assert proba.shape == (n, 2)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    scores = clf.decision_function(texts)
    assert scores.shape == (n,) and np.isfinite(scores).all()
    np.testing.assert_array_equal(pred, (scores > 0).astype(np.int64))


@PREDICT_SETTINGS
@given(
    texts=st.lists(TEXT, min_size=1, max_size=5),
    container=st.sampled_from(sorted(CONTAINERS)),
)
@example(texts=["", " ", "\t\r\n", "\x00\x01\x1b", "😀👍🏽 日本語 العربية"], container="list")
def test_predict_any_text_gives_binary_labels_and_probabilities(fitted, texts, container):
    assert_valid_predictions(fitted, CONTAINERS[container](texts))


def test_predict_on_a_one_megabyte_text(fitted, record_property):
    texts = [ONE_MB_TEXT, "", "short and sweet"]
    start = time.perf_counter()
    assert_valid_predictions(fitted, texts)
    seconds = time.perf_counter() - start
    # Recorded, not asserted: timings belong in the benchmarks, not in tests.
    record_property(f"{fitted.name}_1mb_seconds", round(seconds, 2))


#: Lone surrogates are valid Python str values (e.g. from errors="surrogateescape")
#: that cannot be encoded as UTF-8.
SURROGATE_TEXT = st.lists(
    st.one_of(st.characters(categories=["Cs"]), HOSTILE_PIECES), min_size=1, max_size=4
).map("".join)


@PREDICT_SETTINGS
@given(texts=st.lists(st.one_of(TEXT, SURROGATE_TEXT), min_size=1, max_size=4))
@example(texts=["\ud800"])
def test_predict_lone_surrogates_gives_valid_predictions(fitted, texts):
    assert_valid_predictions(fitted, texts)


NON_STR = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=10),
    st.lists(st.text(max_size=5), max_size=2),
    st.just(pd.NA),
)


@PREDICT_SETTINGS
@given(
    items=st.lists(st.one_of(TEXT, NON_STR), min_size=1, max_size=5).filter(
        lambda xs: any(not isinstance(x, str) for x in xs)
    ),
    container=st.sampled_from(["list", "tuple", "ndarray"]),
)
@example(items=[None], container="list")
@example(items=["fine", 3], container="list")
@example(items=[b"bytes"], container="list")
def test_predict_non_str_items_raise_type_error_naming_the_item(fitted, items, container):
    first_bad = next(i for i, x in enumerate(items) if not isinstance(x, str))
    texts = CONTAINERS[container](items)
    for method in (fitted.predict, fitted.predict_proba, fitted.decision_function):
        with pytest.raises(TypeError, match=rf"X\[{first_bad}\] is "):
            method(texts)


@PREDICT_SETTINGS
@given(
    texts=st.one_of(
        st.text(max_size=10),
        st.binary(max_size=10),
        st.none(),
        st.integers(),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
        st.sets(st.text(max_size=3), max_size=2),
        st.builds(lambda xs: (x for x in xs), st.lists(st.text(max_size=3), max_size=2)),
        st.builds(lambda x: np.array([[x], [x]], dtype=object), st.text(max_size=3)),
    )
)
def test_predict_rejects_non_sequences_with_type_error(fitted, texts):
    with pytest.raises(TypeError):
        fitted.predict(texts)


def test_predict_empty_input_gives_empty_output(fitted):
    assert fitted.predict([]).shape == (0,)
    assert fitted.predict_proba([]).shape == (0, 2)


def test_numbers_from_a_loaded_file_are_str_and_predictable(fitted):
    """End to end: whatever the loader returns from a messy file predicts."""
    content = '{"text": 5, "label": 1}\n{"text": null, "label": 0}\n{"text": "😀 \\u0000", "label": 0}\n'
    with tempfile.TemporaryDirectory(prefix="sentibench-hostile-") as folder:
        path = Path(folder) / "messy.jsonl"
        path.write_text(content, encoding="utf-8")
        data = load_reviews(path)
    assert data.dropped == {"empty text": 1}
    assert all(isinstance(t, str) for t in data.texts)
    assert_valid_predictions(fitted, data.texts)
    assert not math.isnan(float(data.texts[0]))
