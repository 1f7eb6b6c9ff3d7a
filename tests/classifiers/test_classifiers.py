"""The SentimentClassifier contract, checked for every registered classifier."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score

from classifiers import REGISTRY, BowSvmClassifier, ModelFileError, SentimentClassifier, Word2VecSvmClassifier, tokenize
from classifiers._persist import METADATA_FILE

from .._helpers import ENDPOINT_CLASSIFIERS, FAST_PARAMS, require, shared_file, slow_for_transformers

NAMES = sorted(n for n in REGISTRY if n not in ENDPOINT_CLASSIFIERS)
#: Fitting BERT and the encoder is slow: their parameters run with -m slow.
FITTED = slow_for_transformers(NAMES)


def make(name, **extra):
    require(name)
    return REGISTRY[name](**{**FAST_PARAMS[name], **extra})


@pytest.fixture(scope="module", params=FITTED)
def fitted(request, tiny):
    train_x, train_y, test_x, test_y = tiny
    clf = make(request.param)
    returned = clf.fit(train_x, train_y, validation=(test_x, test_y))
    assert returned is clf
    return clf


def test_registry_names_match_classes():
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert issubclass(cls, SentimentClassifier)


def test_predict_shapes_and_values(fitted, tiny):
    test_x = tiny[2]
    pred = fitted.predict(test_x)
    assert pred.shape == (len(test_x),)
    assert pred.dtype.kind == "i"
    assert set(pred.tolist()) <= {0, 1}
    assert fitted.decision_function(test_x).shape == (len(test_x),)
    np.testing.assert_array_equal(fitted.classes_, [0, 1])


def test_predict_proba_rows_sum_to_one_and_follow_decision(fitted, tiny):
    test_x = tiny[2]
    proba = fitted.predict_proba(test_x)
    assert proba.shape == (len(test_x), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # Probabilities rank items as the decision function does.
    order = np.argsort(fitted.decision_function(test_x), kind="stable")
    assert np.all(np.diff(proba[order, 1]) >= -1e-9)


def test_fits_its_training_data(fitted, tiny):
    train_x, train_y = tiny[:2]
    assert (fitted.predict(train_x) == train_y).mean() > 0.7


def test_input_container_types_give_same_predictions(fitted, tiny):
    test_x = tiny[2]
    expected = fitted.predict(test_x)
    np.testing.assert_array_equal(fitted.predict(np.array(test_x, dtype=object)), expected)
    np.testing.assert_array_equal(fitted.predict(pd.Series(test_x)), expected)
    np.testing.assert_array_equal(fitted.predict(tuple(test_x)), expected)


@pytest.mark.parametrize(
    "bad, match",
    [("a single review", "single str"), (42, "got int"), ([1, 2], r"X\[0\] is int"), (["ok", None], r"X\[1\] is NoneType")],
)
def test_bad_input_types_raise_type_error(fitted, bad, match):
    with pytest.raises(TypeError, match=match):
        fitted.predict(bad)


def test_empty_input_gives_empty_output(fitted):
    assert fitted.predict([]).shape == (0,)
    assert fitted.predict_proba([]).shape == (0, 2)


def test_save_load_round_trip_is_identical(fitted, tiny, tmp_path):
    test_x = tiny[2]
    path = fitted.save(tmp_path / "model")
    loaded = type(fitted).load(path)
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict(test_x), fitted.predict(test_x))
    np.testing.assert_array_equal(loaded.predict_proba(test_x), fitted.predict_proba(test_x))
    # The generic loader finds the right class from the metadata.
    assert type(SentimentClassifier.load(path)) is type(fitted)


def test_save_replaces_existing_folder(fitted, tmp_path):
    target = tmp_path / "model"
    fitted.save(target)
    fitted.save(target)
    assert (target / METADATA_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_classifier_raises_not_fitted(name, tmp_path):
    clf = REGISTRY[name]()
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(["good"])
    with pytest.raises(NotFittedError):
        clf.save(tmp_path / "m")


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_get_params(name):
    clf = make(name)
    params = clf.get_params()
    cloned = clone(clf)
    assert cloned is not clf
    assert cloned.get_params() == params
    assert clf.set_params(**params) is clf


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "texts, labels, match",
    [
        (["good", "bad", "fine"], [1, 0], "different lengths"),
        ([], [], "0 sample"),
        (["good", "great"], [1, 1], "only one class"),
    ],
)
def test_fit_rejects_bad_labels(name, texts, labels, match):
    with pytest.raises(ValueError, match=match):
        REGISTRY[name]().fit(texts, labels)


@pytest.mark.parametrize("name", ["bow", "w2v"])
def test_works_inside_scikit_learn_cross_validation(name, sample):
    scores = cross_val_score(make(name), sample.texts, sample.labels, cv=2)
    assert scores.shape == (2,)
    assert np.all((scores >= 0) & (scores <= 1))


def test_load_refuses_other_kind_missing_files_and_other_format(tiny, tmp_path):
    train_x, train_y = tiny[:2]
    path = BowSvmClassifier(min_df=1).fit(train_x, train_y).save(tmp_path / "bow")
    with pytest.raises(ModelFileError, match="not a Word2VecSvmClassifier"):
        Word2VecSvmClassifier.load(path)
    meta = json.loads((path / METADATA_FILE).read_text())
    meta["sentibench_format"] = 99
    (path / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="format 99"):
        BowSvmClassifier.load(path)
    with pytest.raises(ModelFileError, match="not a saved sentibench model"):
        BowSvmClassifier.load(tmp_path / "nowhere")
    path = BowSvmClassifier(min_df=1).fit(train_x, train_y).save(tmp_path / "bow2")
    (path / "model.skops").unlink()
    with pytest.raises(ModelFileError, match="missing model.skops"):
        SentimentClassifier.load(path)


def test_bow_top_terms_are_sentiment_words(sample):
    clf = BowSvmClassifier(min_df=1).fit(sample.texts, sample.labels)
    terms = clf.top_terms(5)
    assert len(terms["positive"]) == 5 and len(terms["negative"]) == 5
    assert all(w > 0 for _, w in terms["positive"])
    assert all(w < 0 for _, w in terms["negative"])


def test_bow_invalid_features_value():
    with pytest.raises(ValueError, match="'features' parameter of BowSvmClassifier must be"):
        BowSvmClassifier(features="bogus").fit(["good", "bad"], [1, 0])


def test_tokenizer_keeps_negation_and_marks():
    assert tokenize("The pasta wasn't GREAT!! does n't _num_ stars?") == [
        "the", "pasta", "wasn't", "great", "!", "!", "does", "n't", "_num_", "stars", "?",
    ]


def test_w2v_counts_reviews_without_known_words(tiny):
    train_x, train_y = tiny[:2]
    # "- ..." has no token at all; the rare word appears once, below min_count=2.
    clf = Word2VecSvmClassifier(min_count=2, w2v_epochs=2).fit(train_x + ["- ...", "zzzqqq"], np.append(train_y, [1, 0]))
    assert clf.n_empty_ == 2
    assert clf.predict(["qqqzzz xxyyzz"]).shape == (1,)


_W2V_SCRIPT = """
import sys
from dataset import bundled_sample_path, load_reviews
from classifiers import Word2VecSvmClassifier
d = load_reviews(str(bundled_sample_path()))
clf = Word2VecSvmClassifier(min_count=1, w2v_epochs=3, random_state=7).fit(d.texts, d.labels)
print(clf.wv_.vectors.tobytes().hex()[:4000], clf.decision_function(d.texts[:20]).tobytes().hex())
"""


@pytest.mark.slow
def test_w2v_is_bit_exact_across_processes_with_different_hash_seeds():
    outputs = [
        subprocess.run(
            [sys.executable, "-c", _W2V_SCRIPT], capture_output=True, text=True, check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] and outputs[0] == outputs[1]


def test_w2v_pretrained_vectors_and_extra_corpus(tiny, tmp_path):
    train_x, train_y, test_x, _ = tiny
    base = Word2VecSvmClassifier(min_count=1, w2v_epochs=2).fit(train_x, train_y)
    vec_path = tmp_path / "vectors.txt"
    base.wv_.save_word2vec_format(str(vec_path), binary=False)
    pretrained = Word2VecSvmClassifier(vectors=str(vec_path)).fit(train_x, train_y)
    assert len(pretrained.wv_) == len(base.wv_)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(["an unseenword appears here", "unseenword again and again"] * 3))
    extended = Word2VecSvmClassifier(min_count=1, w2v_epochs=2, corpus=str(corpus)).fit(train_x, train_y)
    assert "unseenword" in extended.wv_.key_to_index
    assert "unseenword" not in base.wv_.key_to_index
    with pytest.raises(ValueError, match="not found"):
        Word2VecSvmClassifier(corpus=str(tmp_path / "missing.txt")).fit(train_x, train_y)


@pytest.mark.parametrize("large_data, method, rows", [("subsample", "rbf-subsample", 30), ("nystroem", "nystroem-20", 48)])
def test_w2v_large_data_fallbacks_are_recorded(tiny, tmp_path, large_data, method, rows):
    train_x, train_y, test_x, _ = tiny
    clf = Word2VecSvmClassifier(min_count=1, w2v_epochs=2, max_svm_samples=30, large_data=large_data, nystroem_components=20)
    clf.fit(train_x, train_y)
    assert clf.fit_info_ == {"method": method, "rows": rows, "of_rows": 48}
    assert clf.predict_proba(test_x).shape == (len(test_x), 2)
    loaded = Word2VecSvmClassifier.load(clf.save(tmp_path / "m"))
    assert loaded.fit_info_ == clf.fit_info_
    np.testing.assert_array_equal(loaded.decision_function(test_x), clf.decision_function(test_x))


def test_w2v_small_data_uses_the_exact_svm(tiny):
    train_x, train_y = tiny[:2]
    clf = Word2VecSvmClassifier(min_count=1, w2v_epochs=2).fit(train_x, train_y)
    assert clf.fit_info_ == {"method": "rbf", "rows": 48, "of_rows": 48}


def test_w2v_calibrates_on_its_subsample_without_a_validation_split(sample, monkeypatch):
    """Above max_svm_samples the SVM fits a subsample; calibration must cross-validate that
    subsample, not an exact RBF SVM on every row (hours on large data)."""
    import classifiers.w2v_svm as w2v_module

    seen = []
    real = w2v_module.calibration_scores

    def remember(estimator, X, y, *args, **kwargs):
        seen.append(len(X))
        return real(estimator, X, y, *args, **kwargs)

    monkeypatch.setattr(w2v_module, "calibration_scores", remember)
    clf = Word2VecSvmClassifier(**FAST_PARAMS["w2v"], max_svm_samples=60, random_state=0).fit(sample.texts, sample.labels)
    assert clf.fit_info_["method"] == "rbf-subsample" and seen == [60]
    assert clf.predict_proba(sample.texts[:5]).shape == (5, 2)


@pytest.mark.slow
def test_embed_chooses_its_inference_path_on_validation_and_keeps_it_when_saved(tiny, tmp_path, monkeypatch):
    from classifiers import EmbeddingLogRegClassifier, SentimentClassifier
    from classifiers.encoder.inference import InferenceNets, choose_path

    train_x, train_y, val_x, val_y = tiny
    clf = EmbeddingLogRegClassifier(**FAST_PARAMS["embed"]).fit(train_x, train_y, validation=(val_x, val_y))
    choice = clf.inference_choice_
    assert {"fp32", "int8"} <= set(choice["candidates"])
    assert choice["chosen"] == choose_path(choice["candidates"])[0] == clf._inference_path()
    # Predictions go through the chosen path (logits divided by the fitted temperature), and a saved model keeps it.
    from scipy.special import softmax

    decision = clf.logreg_.decision_function(clf._embed(val_x, choice["chosen"])) / clf.temperature_
    expected = softmax(np.column_stack([-decision / 2, decision / 2]), axis=1)
    assert clf.temperature_ > 0 and clf.temperature_ != 1.0
    np.testing.assert_allclose(clf.predict_proba(val_x), expected)
    loaded = SentimentClassifier.load(clf.save(tmp_path / "embed"))
    assert loaded.inference_choice_["chosen"] == choice["chosen"] and loaded.temperature_ == clf.temperature_
    np.testing.assert_allclose(loaded.predict_proba(val_x), expected, atol=1e-6)
    # A set path, or no validation split, measures nothing.
    monkeypatch.setattr(InferenceNets, "choose", lambda *a, **k: pytest.fail("measured the inference paths"))
    assert EmbeddingLogRegClassifier(**FAST_PARAMS["embed"], inference="int8").fit(
        train_x, train_y, validation=(val_x, val_y)).inference_choice_["chosen"] == "int8"
    assert EmbeddingLogRegClassifier(**FAST_PARAMS["embed"]).fit(train_x, train_y).inference_choice_["chosen"] == "fp32"


@pytest.mark.slow
def test_an_embed_folder_saved_without_an_inference_choice_predicts_in_fp32(tiny, tmp_path):
    from classifiers import EmbeddingLogRegClassifier, ModelFileError, SentimentClassifier

    train_x, train_y, val_x, _ = tiny
    clf = EmbeddingLogRegClassifier(**FAST_PARAMS["embed"]).fit(train_x, train_y)
    folder = clf.save(tmp_path / "embed")
    (folder / "inference.json").write_text('{"chosen": "int8", "reason": "chosen elsewhere"}')
    assert SentimentClassifier.load(folder)._inference_path() == "int8"
    (folder / "inference.json").unlink()
    loaded = SentimentClassifier.load(folder)
    assert loaded._inference_path() == "fp32"
    (folder / "inference.json").write_text("[1]")
    with pytest.raises(ModelFileError, match="inference choice"):
        SentimentClassifier.load(folder)



@pytest.mark.shared_data
def test_bow_fits_the_same_model_whatever_the_blas_thread_count():
    # A --jobs worker has one BLAS thread, a run one after another two: liblinear's inner
    # products summed in another order gave decision values 1e-3 apart on this split (seed 8),
    # so probabilities, ECE and Brier differed between the two runs of one seed. (Synthetic
    # data of the same shape did not show it.)
    from threadpoolctl import threadpool_limits

    from dataset import Split, load_reviews, stratified_split

    data = load_reviews(shared_file("yelp_sentences.csv"))
    split = Split(data, *stratified_split(data.labels, seed=8))
    fitted = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            clf = BowSvmClassifier(C=0.5, random_state=8).fit(
                split.texts("train"), split.labels("train"), validation=(split.texts("validation"), split.labels("validation")))
        fitted[threads] = (clf.decision_function(split.texts("test")), clf.predict_proba(split.texts("test")))
    assert np.array_equal(fitted[1][0], fitted[2][0]) and np.array_equal(fitted[1][1], fitted[2][1])
