"""Three classes and five: every classifier, the labels of a data file, the metrics and the
command line, on small synthetic reviews (and the shared VADER snippets when present)."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers import REGISTRY, BowSvmClassifier, SentimentClassifier, Word2VecSvmClassifier

from .._helpers import ENDPOINT_CLASSIFIERS, FAST_PARAMS, require, slow_for_transformers, synthetic_reviews

NAMES = sorted(n for n in REGISTRY if n not in ENDPOINT_CLASSIFIERS)
#: Fitting BERT and the encoder is slow: their parameters run with -m slow.
FITTED = slow_for_transformers(NAMES)
#: BERT learns these words in two epochs at a higher rate; the others with their fast settings.
_K_PARAMS = {**FAST_PARAMS, "bert": {**FAST_PARAMS["bert"], "epochs": 2, "learning_rate": 2e-4, "verbose": False}}


@pytest.fixture(scope="module", params=[3, 5], ids=["K3", "K5"])
def data(request):
    texts, labels = synthetic_reviews(request.param, 30, seed=request.param)
    n = len(texts)
    return request.param, texts[: n * 2 // 3], labels[: n * 2 // 3], texts[n * 2 // 3:], labels[n * 2 // 3:]


@pytest.fixture(scope="module", params=FITTED)
def fitted(request, data):
    k, train_x, train_y, test_x, test_y = data
    names = np.array(["neg", "mid", "pos"] if k == 3 else ["1", "2", "3", "4", "5"])
    require(request.param)
    clf = REGISTRY[request.param](**_K_PARAMS[request.param])
    clf.fit(train_x, names[train_y], validation=(test_x, names[test_y]))
    return clf, names, data


def test_k_classes_predict_their_names_with_k_probabilities(fitted):
    clf, names, (k, train_x, train_y, test_x, test_y) = fitted
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    pred = clf.predict(test_x)
    assert set(pred.tolist()) <= set(names.tolist())
    proba = clf.predict_proba(test_x)
    assert proba.shape == (len(test_x), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)  # BERT's softmax is float32
    decision = clf.decision_function(test_x)
    assert decision.shape == (len(test_x), k)
    np.testing.assert_array_equal(pred, clf.classes_[decision.argmax(axis=1)])
    assert clf.predict([]).shape == (0,) and clf.predict_proba([]).shape == (0, k)
    assert clf.decision_function([]).shape == (0, k)
    # Better than chance on words that mark the classes, for those that learn from labels
    # (zeroshot never reads the training reviews, and these marker words mean nothing to it).
    if clf.name != "zeroshot":
        assert (pred == names[test_y]).mean() > 1.5 / k


def test_k_class_models_survive_save_and_load(fitted, tmp_path):
    clf, _, (_, _, _, test_x, _) = fitted
    loaded = SentimentClassifier.load(clf.save(tmp_path / "model", card={"class_names": list(clf.classes_)}))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict(test_x), clf.predict(test_x))
    np.testing.assert_allclose(loaded.predict_proba(test_x), clf.predict_proba(test_x), atol=1e-6)
    assert f"{len(clf.classes_)} classes" in (tmp_path / "model" / "README.md").read_text()


@pytest.mark.parametrize("cls", [BowSvmClassifier, Word2VecSvmClassifier])
@pytest.mark.parametrize("k", [3, 5])
def test_fast_paths_give_scikit_learns_k_decision_values(cls, k):
    texts, labels = synthetic_reviews(k, 40, seed=1)
    clf = cls(**FAST_PARAMS[cls.name], random_state=0).fit(texts, labels)
    probe = texts[:20] + ["", "never seen words only", "awful awful amazing"]
    if cls is BowSvmClassifier:
        reference = clf.svm_.decision_function(clf.vectorizer_.transform(probe))
        batch = clf._fast.decisions(probe)
        np.testing.assert_allclose(batch, reference, atol=1e-9, rtol=0)
    else:
        reference = clf.svm_.decision_function(clf.scaler_.transform(clf._embed(probe)[0]))
    one_by_one = np.array([clf.decision_function([t])[0] for t in probe])
    assert one_by_one.shape == (len(probe), k)
    np.testing.assert_allclose(one_by_one, reference, atol=1e-9, rtol=0)
    np.testing.assert_array_equal(clf.predict(probe), reference.argmax(axis=1))


def test_svm_calibration_gives_k_class_probabilities_that_rank_like_the_decision(data):
    k, train_x, train_y, test_x, test_y = data
    clf = BowSvmClassifier(min_df=1).fit(train_x, train_y, validation=(test_x, test_y))
    assert np.asarray(clf.calibration_["coef"]).shape == (k, k)
    proba = clf.predict_proba(test_x)
    # The calibrated probabilities agree with the decision on most reviews.
    assert (proba.argmax(1) == clf.decision_function(test_x).argmax(1)).mean() > 0.8


def test_bow_chooses_its_class_weight_on_validation_for_three_or_more_classes():
    texts, labels = synthetic_reviews(5, 40, seed=3)
    keep = np.flatnonzero((labels != 0) | (np.arange(len(labels)) % 5 == 0))  # class 0 rare, as one-star reviews are
    texts, labels = [texts[i] for i in keep], labels[keep]
    train, val = slice(0, 120), slice(120, None)
    clf = BowSvmClassifier(min_df=1).fit(texts[train], labels[train], validation=(texts[val], labels[val]))
    choice = clf.extra_record()["class_weight_choice"]
    assert choice["metric"] == "qwk" and set(choice["validation"]) == {"None", "balanced"}
    best = max(choice["validation"], key=choice["validation"].get)
    assert str(choice["chosen"]) == (best if choice["validation"]["balanced"] != choice["validation"]["None"] else "None")
    assert clf.svm_.class_weight == choice["chosen"]
    named = np.array(["awful", "meh", "ok", "good", "great"])[labels]  # named classes: macro-F1
    clf = BowSvmClassifier(min_df=1).fit(texts[train], named[train], validation=(texts[val], named[val]))
    assert clf.extra_record()["class_weight_choice"]["metric"] == "f1_macro"
    two = BowSvmClassifier(min_df=1).fit(texts[train], labels[train] > 2, validation=(texts[val], labels[val] > 2))
    assert two.extra_record()["class_weight_choice"] == {"chosen": None, "reason": "two classes"}
    assert two.svm_.class_weight is None
    fixed = BowSvmClassifier(min_df=1, class_weight=None).fit(texts[train], labels[train], validation=(texts[val], labels[val]))
    assert fixed.extra_record()["class_weight_choice"] == {"chosen": None, "reason": "set"}
