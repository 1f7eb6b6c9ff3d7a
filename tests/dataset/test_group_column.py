"""``--group-column``: one more column of the user's data, in every header format, kept with
its reviews through dropped rows, subsets and the split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dataset import DataError, load_reviews, stratified_split
from dataset._split import Split

from .._helpers import one_line_error

ROWS = [
    ("great food", "1", "yelp"),
    ("awful wait", "0", "amazon"),
    ("", "1", "yelp"),  # empty text: dropped, and its group with it
    ("fine place", "1", ""),  # blank group
    ("bad room", "0", "2.0"),  # a number, written as a float by some tools
    ("nice staff", "1", "Yelp "),  # stripped, case kept
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["text", "label", "Source"])


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_every_header_format_reads_the_group_of_each_kept_review(tmp_path, fmt):
    path = tmp_path / f"reviews.{fmt}"
    frame = _frame()
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    data = load_reviews(str(path), group_column="source")  # matched case-insensitively, as the text column is
    assert data.texts == ["great food", "awful wait", "fine place", "bad room", "nice staff"]
    assert data.groups == ["yelp", "amazon", "(missing)", "2", "Yelp"]
    assert load_reviews(str(path)).groups is None  # not asked: not read


def test_hugging_face_data_reads_the_group_column(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.Value("int64"),
                                  "source": datasets.ClassLabel(names=["imdb", "yelp"])})
    datasets.Dataset.from_dict({"text": ["good", "bad", "fine"], "label": [1, 0, 1], "source": [1, 0, 1]},
                               features=features).save_to_disk(str(tmp_path / "saved"))
    data = load_reviews(f"hf:{tmp_path / 'saved'}", group_column="source")
    assert data.groups == ["yelp", "imdb", "yelp"]  # ClassLabel names, as for labels
    with pytest.raises(DataError) as info:
        load_reviews(f"hf:{tmp_path / 'saved'}", group_column="city")
    one_line_error(info, "group column 'city' not found", "text, label, source")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_missing_group_column_is_one_line_listing_the_columns(tmp_path, fmt):
    path = tmp_path / f"reviews.{fmt}"
    (_frame().to_csv(path, index=False) if fmt == "csv" else _frame().to_json(path, orient="records", lines=True))
    with pytest.raises(DataError) as info:
        load_reviews(str(path), group_column="city")
    one_line_error(info, "group column 'city' not found", "columns present: text, label, Source", "--group-column")


def test_a_headerless_format_has_no_column_to_group_by(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text("great food\t1\nawful wait\t0\n")
    with pytest.raises(DataError) as info:
        load_reviews(str(path), format="uci", group_column="source")
    one_line_error(info, "uci files have no header", "--group-column source")


def test_subsets_and_the_split_keep_each_review_with_its_group(tmp_path):
    n = 60
    frame = pd.DataFrame({"text": [f"review number {i}" for i in range(n)], "label": [i % 2 for i in range(n)],
                          "city": [f"city {i % 7}" for i in range(n)]})
    frame.to_csv(tmp_path / "r.csv", index=False)
    data = load_reviews(str(tmp_path / "r.csv"), group_column="city")
    sub = data.subset(np.array([5, 3, 40]))
    assert sub.groups == ["city 5", "city 3", "city 5"]
    split = Split(data, *stratified_split(data.labels, seed=1))
    for part in ("train", "validation", "test"):
        # Each review's text names its row, so its group can be checked from the text alone.
        assert split.groups(part) == [f"city {int(t.split()[-1]) % 7}" for t in split.texts(part)]
    plain = Split(load_reviews(str(tmp_path / "r.csv")), *stratified_split(data.labels, seed=1))
    assert plain.groups("test") is None


def test_groups_must_align_with_texts():
    from dataset import ReviewData

    with pytest.raises(ValueError, match="aligned"):
        ReviewData(["a", "b"], [0, 1], {0: "0", 1: "1"}, "x", "csv", 2, groups=["only one"])
