"""Slices: accuracy per group and per review length, pooled small groups, and the worst slice
named only when it is significantly worse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import hypergeom

from benchmark.robustness.slices import MIN_GROUP, holm, length_bins, pooled_groups, slices_of


def test_per_group_accuracy_against_a_hand_computed_split():
    # 40 yelp reviews (30 right), 60 amazon (57 right), 10 imdb (5 right) and 5 tripadvisor (all right):
    # imdb and tripadvisor have fewer than 30 test reviews and are pooled: 15 reviews, 10 right.
    groups = ["yelp"] * 40 + ["amazon"] * 60 + ["imdb"] * 10 + ["tripadvisor"] * 5
    labels = np.zeros(len(groups), dtype=int)
    pred = np.ones(len(groups), dtype=int)
    pred[:30] = 0
    pred[40:97] = 0
    pred[100:105] = 0
    pred[110:] = 0
    out = slices_of(["x"] * len(groups), labels, {"bow": pred}, groups, "source")["group"]
    assert out["column"] == "source" and out["order"] == ["amazon", "yelp", "other"]
    assert out["pooled"] == "other" and out["pooled_groups"] == ["imdb", "tripadvisor"]
    by = out["by"]["bow"]
    assert by["accuracy"] == pytest.approx(97 / 115)  # 30 + 57 + 10 right
    assert {s: (v["n"], v["accuracy"]) for s, v in by["slices"].items()} == {
        "amazon": (60, 57 / 60), "yelp": (40, 30 / 40), "other": (15, 10 / 15)}
    for s in by["slices"].values():
        assert s["low"] <= s["accuracy"] <= s["high"]
    # The rest of yelp: 75 reviews, 57 + 10 right.
    assert by["slices"]["yelp"]["rest_accuracy"] == pytest.approx(67 / 75)


def test_the_one_sided_fisher_test_and_holms_correction_by_hand():
    # yelp: 10 wrong of 40; the rest: 3 wrong of 75. P(X >= 10) for X ~ Hypergeometric(115 reviews,
    # 13 wrong, 40 drawn) is Fisher's one-sided p-value.
    groups = ["yelp"] * 40 + ["amazon"] * 75
    labels = np.zeros(115, dtype=int)
    pred = np.r_[np.ones(10), np.zeros(30), np.ones(3), np.zeros(72)].astype(int)
    yelp = slices_of(["x"] * 115, labels, {"bow": pred}, groups)["group"]["by"]["bow"]["slices"]["yelp"]
    assert yelp["p_value"] == pytest.approx(hypergeom.sf(9, 115, 13, 40))
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])  # 3 x 0.01; max(2 x 0.03, ...); max(1 x 0.04, 0.06)


def test_the_worst_group_is_named_only_when_significantly_worse():
    rng = np.random.default_rng(0)
    groups = ["a"] * 200 + ["b"] * 200 + ["c"] * 200
    labels = rng.integers(0, 2, 600)
    even = np.where(rng.random(600) < 0.9, labels, 1 - labels)  # 90% right everywhere
    uneven = even.copy()
    uneven[400:] = np.where(rng.random(200) < 0.6, labels[400:], 1 - labels[400:])  # c: 60% right
    out = slices_of(["x"] * 600, labels, {"even": even, "uneven": uneven}, groups)["group"]["by"]
    assert out["even"]["worst"] is None
    assert out["uneven"]["worst"] == "c" and out["uneven"]["slices"]["c"]["p_holm"] < 0.05


def test_pooling_small_groups_says_which_and_keeps_a_real_group_called_other():
    groups = ["other"] * MIN_GROUP + ["x"] * 3 + ["y"] * (MIN_GROUP - 1)
    sliced, pool, small = pooled_groups(groups)
    assert pool == "other (pooled)" and small == ["x", "y"]
    assert sliced.count("other") == MIN_GROUP and sliced.count("other (pooled)") == MIN_GROUP + 2
    assert pooled_groups(["a"] * MIN_GROUP) == (["a"] * MIN_GROUP, None, [])


def test_length_bins_cut_at_the_tertiles_of_the_tokenised_lengths():
    # Token counts 1..9 (the shared tokenizer: "!" is a token, "wasn't" one token).
    texts = ["great!"[:5], "not great", "it wasn't good", "a b c d", "a b c d e", "a b c d e f", "a b c d e f g",
             "a b c d e f g h", "a b c d e f g h !"]
    bins, ranges = length_bins(texts)
    assert bins == ["short"] * 3 + ["medium"] * 3 + ["long"] * 3
    assert ranges == {"short": "up to 3 tokens", "medium": "4 to 6 tokens", "long": "7 tokens or more"}
    same, ranges = length_bins(["one two"] * 5)
    assert same == ["short"] * 5 and list(ranges) == ["short"]  # a bin no review falls in is left out
    out = slices_of(texts, np.zeros(9, int), {"bow": np.r_[np.zeros(6), np.ones(3)].astype(int)})
    assert "group" not in out
    assert [out["length"]["by"]["bow"]["slices"][b]["accuracy"] for b in ("short", "medium", "long")] == [1.0, 1.0, 0.0]


def test_slices_are_seeded():
    rng = np.random.default_rng(1)
    labels, pred = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    groups = list(rng.choice(["a", "b", "c"], 300))
    texts = [" ".join(["w"] * int(n)) for n in rng.integers(1, 30, 300)]
    assert slices_of(texts, labels, {"m": pred}, groups) == slices_of(texts, labels, {"m": pred}, groups)
