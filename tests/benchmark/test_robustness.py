"""Behavioural tests: templates, perturbations, which cases fail, the statistics, and the
sentences the recommendation gains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.predictions_file import decode_predictions
from benchmark.robustness.cases import generate
from benchmark.robustness.gaps import CLEAR_GAP, robustness_gaps, robustness_sentences
from benchmark.robustness.polarity import Polarity
from benchmark.robustness.score import failures, pairwise, score_classifier, wilson_interval
from benchmark.robustness.suite import load_suite
from benchmark.robustness.templates import expand, mft_cases

BINARY = Polarity.of(["negative", "positive"])
REVIEWS = ["great", "lovely staff", "the food was great", "awful", "terrible service here", "the room was awful", "fine",
           "we will come back, the pasta was excellent", "never again, the waiter was rude", "ok"]


def suite_of(tmp_path, tests, lists=None, **settings):
    """A suite of only ``tests`` (and the built-in word lists plus ``lists``)."""
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"replace": True, "tests": tests, "lists": lists or {}, **settings}))
    return load_suite(path)


# -- templates ------------------------------------------------------------------------------


def test_a_template_expands_to_every_combination_of_its_slots(tmp_path):
    suite = suite_of(tmp_path, [{"name": "dishes", "kind": "mft", "expect": {
        "positive": ["The {dish} was {adj}."], "not negative": ["{dish} and {dish}, {dish2}"]}}],
        lists={"dish": ["soup", "pie"], "adj": ["good", "fine"]})
    (test,) = suite.tests
    assert expand("The {dish} was {adj}.", suite.lists) == ["The soup was good.", "The soup was fine.", "The pie was good.",
                                                            "The pie was fine."]
    cases = mft_cases(test, suite.lists, max_cases=100, seed=0)
    assert sorted((c["text"], c["expect"]) for c in cases) == sorted([
        ("The soup was good.", "positive"), ("The soup was fine.", "positive"), ("The pie was good.", "positive"),
        ("The pie was fine.", "positive"),
        # A slot repeated is the same word; {dish2} is a draw of its own.
        ("soup and soup, soup", "not negative"), ("soup and soup, pie", "not negative"),
        ("pie and pie, soup", "not negative"), ("pie and pie, pie", "not negative"),
    ])


def test_words_with_slots_of_their_own_are_filled_too(tmp_path):
    suite = suite_of(tmp_path, [{"name": "t", "kind": "mft", "expect": {"positive": ["{sentence}"]}}],
                     lists={"sentence": ["I went on a {day}."]})
    (case,) = mft_cases(suite.tests[0], suite.lists, 10, seed=3)
    assert case["text"].removeprefix("I went on a ").removesuffix(".") in suite.lists["day"]


def test_more_combinations_than_max_cases_are_a_seeded_sample_of_them():
    suite = load_suite()
    test = next(t for t in suite.tests if t.name == "negated positive")
    every = {t for template in test.expect["negative"] for t in expand(template, suite.lists)}
    drawn = mft_cases(test, suite.lists, max_cases=50, seed=7)
    assert len(drawn) == 50 and {c["text"] for c in drawn} <= every
    assert drawn == mft_cases(test, suite.lists, max_cases=50, seed=7)
    assert drawn != mft_cases(test, suite.lists, max_cases=50, seed=8)


def test_same_seed_same_cases_and_another_seed_other_cases():
    suite = load_suite()
    texts = [f"the food at place {i} was great and the service was not bad" for i in range(40)]
    rows = list(range(100, 140))
    first = generate(suite, texts, rows, BINARY, seed=42)
    assert generate(suite, texts, rows, BINARY, seed=42) == first
    other = generate(suite, texts, rows, BINARY, seed=43)
    assert other["cases_sha256"] != first["cases_sha256"]
    one_typo = [t for t in first["tests"] if t["name"] == "one typo"][0]
    assert one_typo["cases"] != [t for t in other["tests"] if t["name"] == "one typo"][0]["cases"]
    # A test's cases do not depend on the other tests of the suite.
    alone = load_suite()
    alone = type(alone)(tuple(t for t in alone.tests if t.name == "one typo"), alone.lists, alone.max_cases, alone.reviews)
    assert generate(alone, texts, rows, BINARY, seed=42)["tests"] == [one_typo]


def test_reviews_to_perturb_are_a_seeded_sample_of_the_test_split(tmp_path):
    suite = suite_of(tmp_path, [{"name": "case", "kind": "inv", "perturb": "case"}], reviews=5)
    texts = [f"review {i}" for i in range(30)]
    sample = generate(suite, texts, list(range(30)), BINARY, seed=1)["reviews"]
    assert len(sample["row_id"]) == 5 and sample["of"] == 30
    assert sample["text"] == [f"review {r}" for r in sample["row_id"]]


# -- perturbations and hand-made classifiers --------------------------------------------------


class Keywords:
    """Positive when a review holds one of its positive words exactly: a typo hides the word."""

    classes_ = np.array([0, 1])
    positive = {"great", "lovely", "excellent"}

    def _key(self, word: str) -> str:
        return word

    def predict(self, texts):
        keys = {self._key(w) for w in self.positive}
        return np.array([int(any(self._key(w) in keys for w in t.lower().replace(",", " ").split())) for t in texts])

    def predict_proba(self, texts):
        p = self.predict(texts) * 0.8 + 0.1
        return np.column_stack([1 - p, p])


class SortedLetters(Keywords):
    """The same words, compared by their sorted letters: blind to two letters swapped."""

    def _key(self, word: str) -> str:
        return "".join(sorted(word))


def test_a_typo_keeps_the_label_of_a_classifier_that_ignores_typos_and_flips_one_that_does_not(tmp_path):
    suite = suite_of(tmp_path, [{"name": "one typo", "kind": "inv", "perturb": "typos"},
                                {"name": "two typos", "kind": "inv", "perturb": "typos", "count": 2}])
    cases = generate(suite, REVIEWS, list(range(len(REVIEWS))), BINARY, seed=0)
    by_name = {t["name"]: t for t in cases["tests"]}
    assert all(c["text"] != REVIEWS[c["review"]] for c in by_name["one typo"]["cases"])
    tolerant = score_classifier(SortedLetters(), cases, BINARY)["tests"]
    naive = score_classifier(Keywords(), cases, BINARY)["tests"]
    assert tolerant["one typo"]["failures"] == tolerant["two typos"]["failures"] == 0
    # "great" and "lovely staff" have one content word each: the typo lands in the keyword.
    flipped = {REVIEWS[c["review"]] for c, bad in zip(by_name["one typo"]["cases"], failures(
        by_name["one typo"], naive["one typo"], score_classifier(Keywords(), cases, BINARY)["original"], BINARY), strict=True) if bad}
    assert {"great", "lovely staff"} <= flipped
    assert naive["one typo"]["failures"] == len(flipped) and naive["one typo"]["rate"] > 0


@pytest.mark.parametrize(("perturb", "text", "expected"), [
    ("punctuation", "The food was great!", "The food was great"),
    ("punctuation", "i liked it", "i liked it."),
    ("case", "The Food was GREAT", "the food was great"),
    ("case", "great food. nice staff", "Great food. Nice staff"),
    ("contractions", "i wo n't go , it was n't good", "i will not go , it was not good"),
    ("contractions", "It wasn't good and I'm out", "It was not good and I am out"),
    ("contractions", "We do not like it. It is bad", "We don't like it. It's bad"),
    ("contractions", "great food", None),
    ("numbers", "5 stars, 4 out of 5, 8/10, 4.5 stars", None),  # ratings carry sentiment: left alone
])
def test_perturbations_on_written_and_tokenised_text(perturb, text, expected):
    from benchmark.robustness.perturb import apply
    from benchmark.robustness.suite import Test

    assert apply(Test("t", "t", "inv", perturb=perturb), text, np.random.default_rng(0), load_suite().lists) == expected


def test_names_places_and_numbers_are_swapped_consistently():
    from benchmark.robustness.perturb import apply
    from benchmark.robustness.suite import Test

    lists = load_suite().lists
    rng = np.random.default_rng(0)
    out = apply(Test("t", "t", "inv", perturb="swap", words="first_name"), "Anna met Anna and john", rng, lists)
    first, _, second, _, third = out.split()
    assert first == second != "Anna" and first in lists["first_name"] and third.islower() and third != "john"
    out = apply(Test("t", "t", "inv", perturb="swap", words="city"), "We flew from New York", rng, lists)
    assert out.startswith("We flew from ") and out.removeprefix("We flew from ") in set(lists["city"]) - {"New York"}
    out = apply(Test("t", "t", "inv", perturb="numbers"), "We waited 40 minutes for 2 coffees", rng, lists)
    waited, coffees = int(out.split()[2]), int(out.split()[5])
    assert 32 <= waited <= 48 and waited != 40 and coffees != 2


# -- expectations, classes and the directional score ---------------------------------------


def test_polarity_of_two_three_and_star_classes():
    assert (BINARY.negative, BINARY.positive, BINARY.neutral, BINARY.values, BINARY.tolerance) == (0, 1, None, (0.0, 1.0), 0.1)
    three = Polarity.of(["negative", "neutral", "positive"], ordinal=True)
    assert (three.negative, three.positive, three.neutral, three.values) == (0, 2, 1, (0.0, 1.0, 2.0))
    stars = Polarity.of(["1", "2", "3", "4", "5"], ordinal=True, class_values=[1, 2, 3, 4, 5])
    assert (stars.negative, stars.positive, stars.neutral, stars.score) == (0, 4, None, "expected star value")
    assert stars.tolerance == pytest.approx(0.4)  # 0.1 of the 1-to-5 range
    assert stars.scores([[0, 0, 0, 0.5, 0.5], [1, 0, 0, 0, 0]]).tolist() == [4.5, 1.0]
    flipped = Polarity.of(["positive", "negative"])
    assert (flipped.negative, flipped.positive, flipped.values) == (1, 0, (1.0, 0.0))
    unknown = Polarity.of(["bad", "good"])
    assert unknown.negative is None and "--label-map" in unknown.missing_for("positive")


def test_expectations_fail_the_right_predictions():
    three = Polarity.of(["negative", "neutral", "positive"], ordinal=True)
    pred = np.array([0, 1, 2])
    assert three.failed("positive", pred).tolist() == [True, True, False]
    assert three.failed("not negative", pred).tolist() == [True, False, False]
    assert three.failed("neutral", pred).tolist() == [True, False, True]
    assert three.failed("not positive", pred).tolist() == [False, False, True]


def test_tests_the_classes_do_not_allow_are_skipped_and_say_why():
    suite = load_suite()
    two = {t["name"]: t for t in generate(suite, REVIEWS, list(range(10)), BINARY, 0)["tests"]}
    assert two["neutral statement"]["skipped"] == "no class is named neutral" and not two["neutral statement"]["cases"]
    assert "skipped" not in two["negated positive"]
    three = {t["name"]: t for t in generate(suite, REVIEWS, list(range(10)), Polarity.of(["negative", "neutral", "positive"], True),
                                            0)["tests"]}
    assert "skipped" not in three["neutral statement"] and three["neutral statement"]["cases"]
    named = {t["name"]: t for t in generate(suite, REVIEWS, list(range(10)), Polarity.of(["bad", "good", "meh"]), 0)["tests"]}
    assert "skipped" in named["plain positive"] and "skipped" in named["added negative sentence"]
    assert "skipped" not in named["one typo"]  # invariance needs no polarity


class Stars:
    """Five star classes; the expected star value follows the count of ``word`` in a review."""

    classes_ = np.arange(5)

    def __init__(self, word: str, direction: int):
        self.word, self.direction = word, direction

    def predict_proba(self, texts):
        out = []
        for t in texts:
            star = int(np.clip(2 + self.direction * t.lower().count(self.word), 0, 4))
            out.append(np.eye(5)[star])
        return np.array(out)

    def predict(self, texts):
        return self.predict_proba(texts).argmax(1)


def test_directional_tests_on_stars_watch_the_expected_star_value(tmp_path):
    stars = Polarity.of(["1", "2", "3", "4", "5"], ordinal=True, class_values=[1, 2, 3, 4, 5])
    suite = suite_of(tmp_path, [
        {"name": "added negative", "kind": "dir", "perturb": "append", "texts": ["It was terrible."], "must_not": "rise"},
        {"name": "added positive", "kind": "dir", "perturb": "append", "texts": ["It was terrible."], "must_not": "fall"}])
    cases = generate(suite, REVIEWS, list(range(10)), stars, 0)
    sensible = score_classifier(Stars("terrible", -1), cases, stars)["tests"]
    contrary = score_classifier(Stars("terrible", +1), cases, stars)["tests"]
    # Adding "terrible" lowers the sensible model's stars by one for every review whose stars
    # can still go down: a rise never happens, a fall always does.
    assert sensible["added negative"]["failures"] == 0
    assert contrary["added negative"]["failures"] == 10 and contrary["added negative"]["rate"] == 1.0
    assert sensible["added positive"]["failures"] == 10
    assert sensible["added negative"]["score"][0] < 3


def test_mcnemar_per_test_counts_the_cases_each_classifier_alone_passes(tmp_path):
    suite = suite_of(tmp_path, [{"name": "one typo", "kind": "inv", "perturb": "typos"}])
    robustness = {"classes": BINARY.to_json(), **generate(suite, REVIEWS, list(range(10)), BINARY, 0), "classifiers": {}}
    robustness["classifiers"]["naive"] = score_classifier(Keywords(), robustness, BINARY)
    robustness["classifiers"]["tolerant"] = score_classifier(SortedLetters(), robustness, BINARY)
    (pair,) = pairwise(robustness)["one typo"]
    naive = robustness["classifiers"]["naive"]["tests"]["one typo"]
    assert (pair["a"], pair["b"], pair["a_only"], pair["b_only"]) == ("naive", "tolerant", 0, naive["failures"])
    assert decode_predictions(naive["pred"]).tolist() == Keywords().predict([c["text"] for c in robustness["tests"][0]["cases"]]).tolist()


# -- statistics ------------------------------------------------------------------------------


def test_wilson_interval_against_hand_computed_values():
    # 71 failures in 100 cases, z = 1.959964 (z^2 = 3.841459):
    #   centre = (0.71 + z^2 / 200) / (1 + z^2 / 100) = 0.729207 / 1.038415 = 0.702231
    #   half   = z / 1.038415 * sqrt(0.71 * 0.29 / 100 + z^2 / 40000) = 1.887458 * 0.046422 = 0.087620
    low, high = wilson_interval(71, 100)
    assert low == pytest.approx(0.614611, abs=1e-6) and high == pytest.approx(0.789852, abs=1e-6)
    # No failure in 10 cases: [0, z^2 / (10 + z^2)] = [0, 3.841459 / 13.841459].
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    assert wilson_interval(10, 10)[0] == pytest.approx(1 - 0.277533, abs=1e-6)
    assert wilson_interval(0, 0) is None


# -- the recommendation's sentences -----------------------------------------------------------


def _scored(rates: dict[str, dict[str, float]]) -> dict:
    return {name: {"tests": {t: {"rate": r, "low": r - 0.05, "high": r + 0.05} for t, r in tests.items()}}
            for name, tests in rates.items()}


TESTS = [{"name": "negated positive", "family": "negation"}, {"name": "negated negative", "family": "negation"},
         {"name": "one typo", "family": "typos"}, {"name": "better than", "family": "comparison"}]


def _pairs(p: dict[str, float]) -> dict:
    return {t: [{"a": "bow", "b": "bert", "a_only": 0, "b_only": 1, "p_value": v}] for t, v in p.items()}


def test_a_sentence_per_family_where_the_recommended_classifier_fails_clearly_more_often():
    scored = _scored({"bow": {"negated positive": 0.71, "negated negative": 0.50, "one typo": 0.12, "better than": 0.30},
                      "bert": {"negated positive": 0.09, "negated negative": 0.30, "one typo": 0.06, "better than": 0.25}})
    pairs = _pairs({"negated positive": 1e-9, "negated negative": 1e-4, "one typo": 0.001, "better than": 0.01})
    gaps = robustness_gaps({"classifier": "bow", "most_accurate": "bow", "runner_up": "bert"}, TESTS, scored, pairs)
    # negation: the larger of two clear gaps; typos: 6 points is not clear; comparison: under CLEAR_GAP too.
    assert [(g["family"], g["test"]) for g in gaps["gaps"]] == [("negation", "negated positive")]
    assert 0.12 - 0.06 < CLEAR_GAP
    (sentence,) = robustness_sentences(gaps)
    assert 'bow fails "negated positive" 71% [66, 76] of the time, bert 9% [4, 14]' in sentence
    # A clear gap that McNemar does not confirm is no gap.
    assert robustness_gaps({"classifier": "bow", "most_accurate": "bow", "runner_up": "bert"}, TESTS, scored,
                           _pairs({"negated positive": 0.2, "negated negative": 0.3, "one typo": 0.5, "better than": 0.5}))["gaps"] == []


def test_the_cheaper_pick_is_weighed_against_the_more_accurate_classifier():
    scored = _scored({"bow": {"negated positive": 0.71}, "bert": {"negated positive": 0.09}})
    recommendation = {"classifier": "bow", "most_accurate": "bert", "runner_up": "bow"}  # no significant lead: the cheaper
    gaps = robustness_gaps(recommendation, TESTS[:1], scored, _pairs({"negated positive": 1e-9}))
    assert (gaps["classifier"], gaps["other"]) == ("bow", "bert") and len(gaps["gaps"]) == 1
    assert robustness_gaps({"classifier": "bow"}, TESTS, scored, {}) is None  # only one classifier measured
    assert robustness_sentences(None) == []
