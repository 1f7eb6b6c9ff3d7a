"""ZeroShotClassifier: the nearest class description, labels never used for predictions."""

from __future__ import annotations

import numpy as np
import pytest

from .._helpers import one_line_error, require

pytestmark = pytest.mark.slow  # loads and runs the encoder

REVIEWS = ["I loved it, wonderful food and friendly staff", "awful service, cold food, never again",
           "the best pizza in town", "rude waiter and a dirty table", "great value, we will be back",
           "terrible, the worst meal of my life"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


@pytest.fixture(scope="module")
def zeroshot():
    require("zeroshot")
    from classifiers import ZeroShotClassifier

    return ZeroShotClassifier


def test_the_training_labels_change_no_prediction(zeroshot):
    shuffled = ["neg", "pos", "neg", "pos", "neg", "pos"]  # every training label wrong
    a = zeroshot(max_length=32, inference="fp32").fit(REVIEWS, LABELS)
    b = zeroshot(max_length=32, inference="fp32").fit(REVIEWS, shuffled)
    probe = ["a lovely evening", "disgusting", "the menu has three pages"]
    np.testing.assert_array_equal(a.predict(probe), b.predict(probe))
    np.testing.assert_allclose(a.predict_proba(probe), b.predict_proba(probe))
    assert a.predict(REVIEWS).tolist() == LABELS  # "a positive review", "a negative review"


def test_the_descriptions_decide_and_are_recorded(zeroshot):
    clf = zeroshot(descriptions=["a positive review", "a negative review"], max_length=32, inference="fp32")
    clf.fit(REVIEWS, LABELS)  # classes_ are ["neg", "pos"]: the descriptions are the wrong way round
    assert clf.predict(REVIEWS).tolist() == ["neg" if y == "pos" else "pos" for y in LABELS]
    assert clf.extra_record()["zeroshot"]["descriptions"] == ["a positive review", "a negative review"]


def test_a_wrong_number_of_descriptions_is_one_line(zeroshot):
    from dataset import UsageError

    with pytest.raises(UsageError) as caught:
        zeroshot(descriptions=["only one"], max_length=32).fit(REVIEWS, LABELS)
    one_line_error(caught, "2 non-empty texts", "neg, pos")


def test_saved_and_loaded_it_predicts_the_same(zeroshot, tmp_path):
    clf = zeroshot(max_length=32).fit(REVIEWS, LABELS, validation=(REVIEWS, LABELS))
    clf.save(tmp_path / "m")
    again = type(clf).load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(REVIEWS), clf.predict_proba(REVIEWS), atol=1e-6)
