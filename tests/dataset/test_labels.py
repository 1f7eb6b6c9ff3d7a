"""Label values become classes: star ratings, negative/neutral/positive, known pairs,
label-map groups, any other names, and the limits."""

from __future__ import annotations

import pytest

from dataset import MAX_CLASSES, DataError, load_reviews

# -- data -----------------------------------------------------------------------------------


def _csv(tmp_path, rows, header="text,label"):
    path = tmp_path / "reviews.csv"
    path.write_text(header + "\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


def test_star_ratings_stay_five_ordered_classes_unless_thresholded(tmp_path):
    path = _csv(tmp_path, [(f"review {i}", 1 + i % 5) for i in range(50)], "text,stars")
    data = load_reviews(str(path))
    assert data.classes == ["1", "2", "3", "4", "5"] and data.ordinal and data.class_values == [1, 2, 3, 4, 5]
    assert data.class_counts() == {k: 10 for k in range(5)}
    binary = load_reviews(str(path), star_threshold=3)
    assert binary.classes == ["negative", "positive"] and binary.dropped == {"neutral star rating (3)": 10}
    assert binary.label_names == {0: "1-2 stars", 1: "4-5 stars"}


def test_sentiment_words_are_three_ordered_classes_and_known_pairs_stay_binary(tmp_path):
    words = load_reviews(str(_csv(tmp_path, [(f"r {i}", ["positive", "neutral", "negative"][i % 3]) for i in range(30)])))
    assert words.classes == ["negative", "neutral", "positive"] and words.ordinal
    assert [words.classes[k] for k in words.labels[:3]] == ["positive", "neutral", "negative"]
    polarity = load_reviews(str(_csv(tmp_path, [(f"r {i}", 1 + i % 2) for i in range(20)])))
    assert polarity.classes == ["negative", "positive"] and polarity.label_names == {0: "1", 1: "2"}


def test_other_names_are_classes_in_sorted_order(tmp_path):
    data = load_reviews(str(_csv(tmp_path, [(f"r {i}", ["sad", "angry", "happy"][i % 3]) for i in range(30)])))
    assert data.classes == ["angry", "happy", "sad"] and not data.ordinal


def test_label_map_groups_are_classes_in_the_order_given(tmp_path):
    path = _csv(tmp_path, [(f"r {i}", 1 + i % 5) for i in range(50)])
    data = load_reviews(str(path), label_map={"negative": ["1", "2"], "neutral": ["3"], "positive": ["4", "5"]})
    assert data.classes == ["negative", "neutral", "positive"] and data.ordinal
    assert data.class_counts() == {0: 20, 1: 10, 2: 20}
    assert data.label_names == {0: "1, 2", 1: "3", 2: "4, 5"}
    older = load_reviews(str(path), label_map={"1": 0, "5": 1})
    assert older.classes == ["negative", "positive"] and older.dropped == {"dropped by label map": 30}


def test_too_many_classes_or_two_label_rules_are_one_line(tmp_path):
    path = _csv(tmp_path, [(f"r {i}", i) for i in range(MAX_CLASSES + 5)])
    with pytest.raises(DataError, match=f"{MAX_CLASSES + 5} numeric label values"):
        load_reviews(str(path))
    with pytest.raises(DataError, match="give one"):
        load_reviews(str(path), star_threshold=3, label_map={"a": ["1"], "b": ["2"]})
