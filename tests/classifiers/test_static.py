"""StaticEmbeddingClassifier: model2vec distilled once from the bundled encoder, cached by hash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .._helpers import require

pytestmark = pytest.mark.slow  # distils the encoder (about 20 s, once per cache)

REVIEWS = ["I loved it, wonderful food and friendly staff", "awful service, cold food, never again",
           "the best pizza in town", "rude waiter and a dirty table", "great value, we will be back",
           "terrible, the worst meal of my life"] * 3
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"] * 3


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    require("static")
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENTIBENCH_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def fitted(cache):
    from classifiers import StaticEmbeddingClassifier

    return StaticEmbeddingClassifier(pca_dims=32).fit(REVIEWS, LABELS)


def test_the_first_fit_distils_and_caches_the_second_reads_the_cache(cache, fitted):
    from classifiers import StaticEmbeddingClassifier

    first = fitted.extra_record()["static"]
    assert first["distilled_now"] and first["distill_time_s"] > 0 and first["pca_dims"] == 32
    (entry,) = (cache / "static").iterdir()  # one entry, written whole (no temporary folder left)
    assert json.loads((entry / "distilled.json").read_text())["encoder_sha256"] == first["encoder_sha256"]
    again = StaticEmbeddingClassifier(pca_dims=32).fit(REVIEWS, LABELS)
    second = again.extra_record()["static"]
    assert not second["distilled_now"] and second["distill_time_s"] == first["distill_time_s"]
    np.testing.assert_allclose(again.embed(REVIEWS), fitted.embed(REVIEWS), rtol=1e-5)


def test_embeddings_are_a_lookup_of_the_chosen_size_and_separate_the_classes(fitted):
    X = fitted.embed(REVIEWS)
    assert X.shape == (len(REVIEWS), 32)
    assert fitted.predict(REVIEWS).tolist() == LABELS
    proba = fitted.predict_proba(REVIEWS)
    np.testing.assert_allclose(proba, fitted.logreg_.predict_proba(X), rtol=1e-9)  # scikit-learn's, computed in NumPy
    np.testing.assert_allclose(fitted.decision_function(REVIEWS), fitted.logreg_.decision_function(X), rtol=1e-9)


def test_three_classes_give_scikit_learns_probabilities(cache):
    from classifiers import StaticEmbeddingClassifier

    labels = ["pos", "neg", "mid"] * 6
    clf = StaticEmbeddingClassifier(pca_dims=32).fit(REVIEWS, labels)
    X = clf.embed(REVIEWS)
    np.testing.assert_allclose(clf.predict_proba(REVIEWS), clf.logreg_.predict_proba(X), rtol=1e-9)
    assert clf.predict(REVIEWS).tolist() == clf.classes_[clf.logreg_.predict(X)].tolist()


def test_a_saved_model_predicts_the_same_and_a_damaged_one_is_refused(fitted, tmp_path):
    from classifiers import ModelFileError, StaticEmbeddingClassifier

    fitted.save(tmp_path / "m")
    loaded = StaticEmbeddingClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(REVIEWS), fitted.predict_proba(REVIEWS), rtol=1e-6)
    (tmp_path / "m" / "static" / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="model.safetensors"):
        StaticEmbeddingClassifier.load(tmp_path / "m")


def test_a_failed_distillation_leaves_nothing_in_the_cache(cache, fitted, monkeypatch):
    import model2vec.distill

    from classifiers.static import distilled

    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model2vec.distill, "distill", broken)
    before = sorted(p.name for p in (cache / "static").iterdir())
    with pytest.raises(RuntimeError):
        distilled(None, 16)  # another setting: not cached yet
    assert sorted(p.name for p in (cache / "static").iterdir()) == before


def test_a_few_reviews_embed_exactly_as_model2vecs_encode(fitted):
    from classifiers.encoder.batching import encodable

    texts = ["bad \ud800 surrogate", "x" * 100_000, "", "great " * 2000, "the soup was cold", " \t "]
    expected = fitted.static_.encode([encodable(t) for t in texts], use_multiprocessing=False)
    np.testing.assert_array_equal(fitted.embed(texts), expected)  # the direct path (few texts)
    fitted.static_._set_max_length_in_tokenizer(None)  # a tokenizer left without truncation is set again
    np.testing.assert_array_equal(fitted.embed(texts[:2]), expected[:2])
    many = texts * 10  # above the direct path's 32: model2vec's encode
    np.testing.assert_array_equal(fitted.embed(many), np.tile(expected, (10, 1)))


@pytest.mark.parametrize("damage", ["record", "weights"])
def test_a_damaged_cache_entry_is_distilled_again_with_a_warning(cache, fitted, damage, caplog):
    import logging

    from classifiers import StaticEmbeddingClassifier

    (entry,) = (cache / "static").iterdir()
    if damage == "record":
        (entry / "distilled.json").write_text("{not json")
    else:
        (entry / "model.safetensors").write_bytes(b"\x00" * 16)
    with caplog.at_level(logging.WARNING, logger="classifiers.static"):
        again = StaticEmbeddingClassifier(pca_dims=32).fit(REVIEWS, LABELS)
    assert "is damaged" in caplog.text and "distilling again" in caplog.text
    assert again.extra_record()["static"]["distilled_now"]
    np.testing.assert_allclose(again.embed(REVIEWS), fitted.embed(REVIEWS), rtol=1e-5)
    (entry,) = (cache / "static").iterdir()  # the entry whole again
    assert json.loads((entry / "distilled.json").read_text())["pca_dims"] == 32
