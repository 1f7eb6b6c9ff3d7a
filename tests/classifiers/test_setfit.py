"""SetFitClassifier: contrastive pairs fine-tune the bundled encoder, then embed's head."""

from __future__ import annotations

import numpy as np
import pytest

from .._helpers import require, weights_digest

REVIEWS = ["I loved it, wonderful food and friendly staff", "awful service, cold food, never again",
           "the best pizza in town", "rude waiter and a dirty table", "great value, we will be back",
           "terrible, the worst meal of my life"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


@pytest.fixture(scope="module")
def setfit():
    require("setfit")
    from classifiers import SetFitClassifier

    return SetFitClassifier


def test_pairs_are_same_class_or_not_as_marked_and_never_a_review_with_itself(setfit):
    from classifiers.setfit import contrastive_pairs

    y = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    pairs = contrastive_pairs(y, 5, np.random.default_rng(0))
    i, j, same = pairs.T
    np.testing.assert_array_equal(same, (y[i] == y[j]).astype(int))
    assert (i != j).all()
    # each review anchors exactly one positive and one negative pair per iteration
    np.testing.assert_array_equal(np.bincount(i[same == 1], minlength=len(y)), 5)
    np.testing.assert_array_equal(np.bincount(i[same == 0], minlength=len(y)), 5)
    alone = contrastive_pairs(np.array([0, 1, 1]), 2, np.random.default_rng(0))
    assert not ((alone[:, 0] == 0) & (alone[:, 2] == 1)).any()  # no class-mate: no positive pair


@pytest.mark.slow
def test_fine_tuning_moves_the_encoder_and_lowers_the_pair_loss(setfit):
    from classifiers import EmbeddingLogRegClassifier

    frozen = EmbeddingLogRegClassifier(max_length=32, inference="fp32").fit(REVIEWS, LABELS)
    clf = setfit(num_iterations=8, max_length=32, inference="fp32", random_state=0).fit(REVIEWS, LABELS)
    record = clf.extra_record()["setfit"]
    assert record["pairs"] == record["pairs_drawn"] == 2 * 8 * len(REVIEWS)
    assert record["steps"] == -(-record["pairs"] // 16)
    assert record["loss_last_tenth"] < record["loss_first_tenth"]
    assert weights_digest(clf.encoder_) != weights_digest(frozen.encoder_)
    assert clf.predict(REVIEWS).tolist() == LABELS
    # the same classes pull together: same-class cosine grows against other-class cosine
    gap = {}
    for name, model in (("frozen", frozen), ("setfit", clf)):
        X = model._embed(REVIEWS)
        cos = X @ X.T
        same = np.equal.outer(LABELS, LABELS) & ~np.eye(len(LABELS), dtype=bool)
        gap[name] = cos[same].mean() - cos[~np.equal.outer(LABELS, LABELS)].mean()
    assert gap["setfit"] > gap["frozen"]


@pytest.mark.slow
def test_max_pairs_caps_the_pairs_and_a_saved_model_predicts_the_same(setfit, tmp_path):
    from classifiers import SentimentClassifier

    clf = setfit(num_iterations=20, max_pairs=40, max_length=32, inference="fp32", random_state=0)
    clf.fit(REVIEWS, LABELS)
    record = clf.extra_record()["setfit"]
    assert (record["pairs"], record["pairs_drawn"], record["steps"]) == (40, 240, 3)
    assert clf.extra_record()["fit_info"] == {"method": "full", "rows": 6, "of_rows": 6}
    clf.save(tmp_path / "m")
    again = SentimentClassifier.load(tmp_path / "m")
    assert type(again).__name__ == "SetFitClassifier"
    probe = ["a lovely evening", "disgusting", "the menu has three pages"]
    np.testing.assert_allclose(again.predict_proba(probe), clf.predict_proba(probe), atol=1e-6)


@pytest.mark.slow
def test_max_train_samples_trains_encoder_and_head_on_a_stratified_sample(setfit):
    clf = setfit(num_iterations=2, max_train_samples=4, max_length=32, inference="fp32", random_state=0)
    clf.fit(REVIEWS * 2, LABELS * 2)
    assert clf.extra_record()["fit_info"] == {"method": "subsample", "rows": 4, "of_rows": 12}
    assert clf.extra_record()["setfit"]["pairs_drawn"] == 2 * 2 * 4
    assert clf.logreg_.n_features_in_ == 384 and clf.logreg_.classes_.size == 2


@pytest.mark.slow
def test_the_seed_decides_the_fine_tuning(setfit):
    a = setfit(num_iterations=2, max_length=32, inference="fp32", random_state=3).fit(REVIEWS, LABELS)
    b = setfit(num_iterations=2, max_length=32, inference="fp32", random_state=3).fit(REVIEWS, LABELS)
    assert weights_digest(a.encoder_) == weights_digest(b.encoder_)
