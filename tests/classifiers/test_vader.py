"""VaderClassifier: the lexicon's compound score cut into ordered classes."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from .._helpers import require

pytestmark = pytest.mark.usefixtures("_vader_installed")


@pytest.fixture
def _vader_installed():
    require("vader")


def _brute_force(s, rank, w, k, cuts):
    """The best weight correctly placed over every increasing choice of k - 1 cuts."""
    best = -1.0
    for chosen in itertools.combinations_with_replacement(cuts, k - 1):
        pred = np.searchsorted(np.asarray(chosen), s, side="right")
        best = max(best, float(w[pred == rank].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_thresholds_place_as_many_reviews_as_the_best_choice_of_cuts(seed):
    from classifiers.vader import best_thresholds, candidate_cuts

    rng = np.random.default_rng(seed)
    k, n = 3, 40
    rank = rng.integers(0, k, n)
    s = np.clip(rank * 0.6 - 0.6 + rng.normal(0, 0.5, n), -1, 1)
    w = rng.uniform(0.5, 2.0, n)
    t = best_thresholds(s, rank, w, k, bins=n)
    assert np.all(np.diff(t) >= 0)
    got = float(w[np.searchsorted(t, s, side="right") == rank].sum())
    candidates = candidate_cuts(s, n)
    assert len(candidates) > 20
    assert got == pytest.approx(_brute_force(s, rank, w, k, candidates))


def test_named_classes_are_ordered_by_their_compound_score_and_predict_in_order():
    from classifiers import VaderClassifier

    texts = ["I love it, wonderful!", "great food, great staff", "awful, terrible, never again", "horrible and rude",
             "it is a restaurant", "the table is wooden", "superb, the best", "disgusting and bad"]
    labels = ["pos", "pos", "neg", "neg", "neutral", "neutral", "pos", "neg"]
    clf = VaderClassifier().fit(texts, labels)
    assert clf.classes_[clf.order_].tolist() == ["neg", "neutral", "pos"]
    assert clf.predict(["wonderful, I love this great place!", "the worst meal, awful", "there is a door"]).tolist() == [
        "pos", "neg", "neutral"]
    assert clf.extra_record()["thresholds"]["class_order"] == ["neg", "neutral", "pos"]


def test_star_ratings_keep_their_numeric_order_and_a_higher_score_never_gets_fewer_stars():
    from classifiers import VaderClassifier

    texts = ["awful, disgusting, the worst", "bad and slow", "ok", "good food", "amazing, perfect, the best ever"] * 4
    stars = [1, 2, 3, 4, 5] * 4
    clf = VaderClassifier().fit(texts, stars)
    assert clf.order_.tolist() == [0, 1, 2, 3, 4]
    grid = [f"{'good ' * i}" if i else "bad bad bad" for i in range(6)]
    order = np.argsort(clf.compound(grid), kind="stable")
    predicted = clf.predict(grid)[order]
    assert np.all(np.diff(predicted) >= 0)


def test_a_very_long_review_is_read_up_to_max_chars():
    from classifiers import VaderClassifier

    clf = VaderClassifier(max_chars=30)
    long = "I love this place so much. " + "The food was disgusting and awful. " * 50
    assert clf.compound([long])[0] == clf.compound([long[:30]])[0] > 0


def test_a_damaged_state_file_is_refused_in_one_line(tmp_path):
    from classifiers import ModelFileError, VaderClassifier

    clf = VaderClassifier().fit(["great", "lovely", "awful", "bad"], [1, 1, 0, 0])
    clf.save(tmp_path / "m")
    state = json.loads((tmp_path / "m" / "vader.json").read_text())
    state["thresholds"] = [0.5, 0.1]
    (tmp_path / "m" / "vader.json").write_text(json.dumps(state))
    with pytest.raises(ModelFileError, match="increasing thresholds"):
        VaderClassifier.load(tmp_path / "m")
