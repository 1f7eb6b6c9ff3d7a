"""Tests for the ``dataset`` package: loaders, label handling, splits."""

import json

import numpy as np
import pandas as pd
import pytest

from dataset import (
    FORMATS,
    DataError,
    ReviewData,
    bundled_sample_path,
    detect_format,
    load_reviews,
    resolve_data_source,
    split_manifest,
    stratified_sample,
    stratified_split,
)

from .._helpers import SHARED_DATA, one_line_error

# Zhang et al. (2015) Yelp polarity layout: no header, "label","text", quotes
# doubled, newlines escaped as a backslash + "n" (written raw here on purpose).
YELP_POLARITY = (
    '"1","The soup was cold, the bread stale, and the waiter said ""no refunds"".'
    '\\nNever again."\n'
    '"2","Best tacos in town!\\n\\nFriendly staff, fair prices."\n'
    '"1","Rude, slow, overpriced."\n'
    '"2","We\'ll be back, ""for sure""."\n'
)

ROWS = [
    ("Loved every bite, will return.", "pos"),
    ("Terrible service and cold food.", "neg"),
    ("Great value for money.", "pos"),
    ("Never going back there.", "neg"),
]


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _header_file(tmp_path, fmt, text_name="text", label_name="label", rows=ROWS):
    frame = pd.DataFrame(rows, columns=[text_name, label_name])
    if fmt == "csv":
        path = tmp_path / "reviews.csv"
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        path = tmp_path / "reviews.tsv"
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "jsonl":
        path = tmp_path / "reviews.jsonl"
        frame.to_json(path, orient="records", lines=True)
    else:
        path = tmp_path / "reviews.parquet"
        frame.to_parquet(path)
    return path


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------


def test_yelp_polarity_unescapes_quotes_newlines_and_keeps_commas(tmp_path):
    path = _write(tmp_path / "test.csv", YELP_POLARITY)

    data = load_reviews(path)

    assert data.format == "yelp-polarity"
    assert data.texts[0] == (
        'The soup was cold, the bread stale, and the waiter said "no refunds".\nNever again.'
    )
    assert data.texts[1] == "Best tacos in town!\n\nFriendly staff, fair prices."
    assert data.texts[3] == 'We\'ll be back, "for sure".'
    assert data.labels.tolist() == [0, 1, 0, 1]
    assert data.labels.dtype == np.int64
    assert data.label_names == {0: "1", 1: "2"}
    assert data.n_read == 4 and data.dropped == {}
    assert data.source == str(path)


def test_yelp_polarity_unquoted_labels_detected(tmp_path):
    path = _write(tmp_path / "train.csv", '1,"bad, bad"\n2,good\n')
    assert detect_format(path) == "yelp-polarity"
    assert load_reviews(path).texts == ["bad, bad", "good"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", YELP_POLARITY, "yelp-polarity"),
        ("a.csv", "text,label\nnice,1\n", "csv"),
        ("a.tsv", "review\tsentiment\nnice\tpos\n", "tsv"),
        ("a.tsv", "nice place\t1\n", "uci"),
        ("a.txt", "nice place\t1\n", "uci"),
        ("a.txt", "sentence\tlabel\nnice\t1\n", "tsv"),
        ("a.jsonl", '{"text": "nice", "label": 1}\n', "jsonl"),
        ("a.ndjson", '{"text": "nice", "label": 1}\n', "jsonl"),
        ("a.json", '{"text": "nice", "label": 1}\n', "jsonl"),
        ("a.txt", "__label__pos nice\n", "fasttext"),
        ("a.cor", "\n__label__1 nice\n", "fasttext"),
        ("a.ft", "__label__negative awful\n", "fasttext"),
    ],
)
def test_detect_format(tmp_path, name, content, expected):
    assert detect_format(_write(tmp_path / name, content)) == expected


def test_detect_format_parquet(tmp_path):
    assert detect_format(_header_file(tmp_path, "parquet")) == "parquet"


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    ("text_name", "label_name"),
    [("text", "label"), ("Review", "Sentiment"), ("BODY", "polarity"), ("comment", "target")],
)
def test_header_formats_find_columns_by_common_names(tmp_path, fmt, text_name, label_name):
    path = _header_file(tmp_path, fmt, text_name, label_name)

    data = load_reviews(path)

    assert data.format == fmt
    assert data.texts == [text for text, _ in ROWS]
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.label_names == {0: "neg", 1: "pos"}


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_header_formats_take_explicit_columns(tmp_path, fmt):
    rows = [(t, lab, "ignored") for t, lab in ROWS]
    frame = pd.DataFrame(rows, columns=["blurb", "verdict", "text"])
    path = _header_file(tmp_path, fmt)  # for the file name and extension only
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False, sep="," if fmt == "csv" else "\t")

    data = load_reviews(path, text_column="blurb", label_column="VERDICT")

    assert data.texts[0] == ROWS[0][0]
    assert data.labels.tolist() == [1, 0, 1, 0]


def test_uci_format(tmp_path):
    content = 'Wow... Loved this place.\t1\nCrust is "not" good.\t0\nA\ttab inside\t1\n'
    path = _write(tmp_path / "uci_yelp_labelled.txt", content)

    data = load_reviews(path)

    assert data.format == "uci"
    assert data.texts == ["Wow... Loved this place.", 'Crust is "not" good.', "A\ttab inside"]
    assert data.labels.tolist() == [1, 0, 1]
    assert data.label_names == {0: "0", 1: "1"}


@pytest.mark.parametrize(
    ("neg", "pos"), [("0", "1"), ("neg", "pos"), ("negative", "positive"), ("1", "2")]
)
def test_fasttext_format(tmp_path, neg, pos):
    content = f"__label__{pos} a fine film\n\n__label__{neg}   a dull , silly film  \n"
    path = _write(tmp_path / "sample.txt", content)

    data = load_reviews(path)

    assert data.format == "fasttext"
    assert data.texts == ["a fine film", "a dull , silly film"]
    assert data.labels.tolist() == [1, 0]
    assert data.label_names == {0: neg, 1: pos}


def test_bundled_sample_loads_200_rows_with_both_classes():
    assert bundled_sample_path().is_file()

    data = load_reviews("sample:pang-lee")

    assert len(data) == 200
    assert data.class_counts() == {0: 100, 1: 100}
    assert data.format == "fasttext"
    assert data.source == "sample:pang-lee"
    assert all(isinstance(text, str) and text for text in data.texts)
    # The same file reached through its path: known as the sample.
    assert load_reviews(str(bundled_sample_path())).source == "sample:pang-lee"


def test_format_argument_overrides_detection(tmp_path):
    path = _write(tmp_path / "reviews.dat", "good stuff\t1\nbad stuff\t0\n")
    assert load_reviews(path, format="uci").labels.tolist() == [1, 0]
    assert load_reviews(path, format="UCI").format == "uci"


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected", "names"),
    [
        (["1", "2", "2", "1"], [0, 1, 1, 0], {0: "1", 1: "2"}),
        (["0", "1", "1", "0"], [0, 1, 1, 0], {0: "0", 1: "1"}),
        (["-1", "1", "1", "-1"], [0, 1, 1, 0], {0: "-1", 1: "1"}),
        (["0.0", "1.0", "1.0", "0.0"], [0, 1, 1, 0], {0: "0.0", 1: "1.0"}),
        (["neg", "pos", "pos", "neg"], [0, 1, 1, 0], {0: "neg", 1: "pos"}),
        (["NEGATIVE", "Positive", "Positive", "NEGATIVE"], [0, 1, 1, 0],
         {0: "NEGATIVE", 1: "Positive"}),
        ([" pos ", "neg", "POS", "neg"], [1, 0, 1, 0], None),
    ],
)
def test_label_normalisation(tmp_path, values, expected, names):
    rows = "".join(f"review {i},{value}\n" for i, value in enumerate(values))
    path = _write(tmp_path / "labels.csv", "text,label\n" + rows)

    data = load_reviews(path)

    assert data.labels.tolist() == expected
    if names is not None:
        assert data.label_names == names


def test_numeric_labels_from_jsonl_and_parquet(tmp_path):
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [1.0, 0.0, np.nan]})
    frame.to_parquet(tmp_path / "f.parquet")
    frame.to_json(tmp_path / "f.jsonl", orient="records", lines=True)

    for name in ("f.parquet", "f.jsonl"):
        data = load_reviews(tmp_path / name)
        assert data.labels.tolist() == [1, 0]
        assert data.dropped == {"missing label": 1}


def test_star_ratings_with_threshold_drop_and_count_neutral(tmp_path):
    stars = [1, 2, 3, 4, 5, 3, 5, 1, 3, 4]
    rows = "".join(f"review {i}\t{s}\n" for i, s in enumerate(stars))
    path = _write(tmp_path / "stars.tsv", "body\tstars\n" + rows)

    data = load_reviews(path, star_threshold=3)

    assert data.labels.tolist() == [0, 0, 1, 1, 1, 0, 1]
    assert data.dropped == {"neutral star rating (3)": 3}
    assert data.n_read == 10
    assert data.label_names == {0: "1-2 stars", 1: "4-5 stars"}
    assert "review 2" not in data.texts


def test_label_map_overrides_and_drops_none(tmp_path):
    rows = "a,1\nb,2\nc,3\nd,4\ne,5\nf,2\n"
    path = _write(tmp_path / "stars.csv", "text,rating\n" + rows)

    data = load_reviews(path, label_map={"1": 0, "2": 0, "3": None, 4: 1, "5": 1})

    assert data.texts == ["a", "b", "d", "e", "f"]
    assert data.labels.tolist() == [0, 0, 1, 1, 0]
    assert data.dropped == {"dropped by label map": 1}
    assert data.label_names == {0: "1, 2", 1: "4, 5"}
    # A star threshold as well would be a second rule for the same labels: refused, not overridden.
    with pytest.raises(DataError) as excinfo:
        load_reviews(path, label_map={"1": 0, "5": 1}, star_threshold=2)
    one_line_error(excinfo, "stars.csv", "--star-threshold and --label-map")


def test_label_map_can_swap_polarity(tmp_path):
    path = _write(tmp_path / "odd.csv", "text,label\ngood,1\nbad,0\n")
    data = load_reviews(path, label_map={"0": 1, "1": 0})
    assert data.labels.tolist() == [0, 1]


def test_empty_texts_and_missing_labels_dropped_and_counted(tmp_path):
    content = 'text,label\ngood,1\n,0\n"   ",1\nfine,\nbad,0\n"\t",0\n'
    path = _write(tmp_path / "gaps.csv", content)

    data = load_reviews(path)

    assert data.texts == ["good", "bad"]
    assert data.n_read == 6
    assert data.dropped == {"empty text": 3, "missing label": 1}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.csv", "\ufefftext,label\r\n\"two\r\nlines\",1\r\nplain,0\r\n"),
        ("bom.tsv", "\ufeffreview\tlabel\r\ntwo lines\t1\r\nplain\t0\r\n"),
        (
            "bom.jsonl",
            '\ufeff{"text": "two lines", "label": 1}\r\n{"text": "plain", "label": 0}\r\n',
        ),
        ("bom.txt", "\ufefftwo lines\t1\r\nplain\t0\r\n"),
        ("bom.cor", "\ufeff__label__1 two lines\r\n__label__0 plain\r\n"),
        ("bom_yelp.csv", '\ufeff"2","two lines"\r\n"1","plain"\r\n'),
    ],
)
def test_bom_and_windows_line_endings(tmp_path, name, content):
    data = load_reviews(_write(tmp_path / name, content))

    assert data.labels.tolist() == [1, 0]
    assert data.texts[1] == "plain"
    assert data.texts[0] in ("two lines", "two\nlines")
    assert not any("\r" in text or "\ufeff" in text for text in data.texts)


# ---------------------------------------------------------------------------
# Errors: one line, naming the file and the fix
# ---------------------------------------------------------------------------


def test_missing_file_error(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_reviews(tmp_path / "nowhere.csv")
    one_line_error(excinfo, "nowhere.csv", "--data")


def test_directory_error(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_reviews(tmp_path)
    one_line_error(excinfo, str(tmp_path), "directory")


def test_bad_encoding_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9 cr\xe8me,1\nbad,0\n".encode("latin-1"))
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    one_line_error(excinfo, "latin1.csv", "re-save it as UTF-8")


@pytest.mark.parametrize(
    ("name", "content"), [("data.xyz", "hello world\n"), ("notes.txt", "just prose\n")]
)
def test_unknown_format_error_lists_formats(tmp_path, name, content):
    with pytest.raises(DataError) as excinfo:
        load_reviews(_write(tmp_path / name, content))
    one_line_error(excinfo, name, "--format")
    assert all(fmt in str(excinfo.value) for fmt in FORMATS)


def test_invalid_format_argument_error(tmp_path):
    path = _header_file(tmp_path, "csv")
    with pytest.raises(DataError) as excinfo:
        load_reviews(path, format="xlsx")
    one_line_error(excinfo, "reviews.csv", "--format")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_missing_columns_error_lists_present_columns(tmp_path, fmt):
    path = _header_file(tmp_path, fmt, "headline", "stars")
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    one_line_error(excinfo, path.name, "--text-column")
    assert "headline, stars" in str(excinfo.value)

    with pytest.raises(DataError) as excinfo:
        load_reviews(path, text_column="headline", label_column="verdict")
    one_line_error(excinfo, path.name, "--label-column")
    assert "'verdict'" in str(excinfo.value) and "headline, stars" in str(excinfo.value)


def test_single_class_error(tmp_path):
    path = _write(tmp_path / "happy.csv", "text,label\nyay,1\ngreat,1\n")
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    one_line_error(excinfo, "happy.csv", "--label-column")


def test_single_class_after_threshold_error(tmp_path):
    path = _write(tmp_path / "glowing.csv", "text,stars\na,4\nb,5\nc,3\nd,5\n")
    with pytest.raises(DataError) as excinfo:
        load_reviews(path, star_threshold=3)
    one_line_error(excinfo, "glowing.csv", "--star-threshold")


def test_more_labels_are_more_classes_up_to_a_limit(tmp_path):
    rows = "".join(f"review {i},topic{i % 12}\n" for i in range(36))
    data = load_reviews(_write(tmp_path / "topics.csv", "text,label\n" + rows))
    assert data.n_classes == 12 and data.classes[:3] == ["topic0", "topic1", "topic10"] and not data.ordinal
    rows = "".join(f"review {i},id{i}\n" for i in range(30))
    with pytest.raises(DataError) as excinfo:
        load_reviews(_write(tmp_path / "ids.csv", "text,label\n" + rows))
    one_line_error(excinfo, "ids.csv", "30 distinct label values", "--label-column", "--label-map")


def test_an_unknown_label_pair_is_two_classes_in_sorted_order(tmp_path):
    data = load_reviews(_write(tmp_path / "words.csv", "text,label\na,good\nb,bad\n"))
    assert data.classes == ["bad", "good"] and data.labels.tolist() == [1, 0]


def test_label_map_drops_and_counts_values_it_leaves_out(tmp_path):
    path = _write(tmp_path / "words.csv", "text,label\na,bad\nb,good\nc,meh\nd,meh\n")
    data = load_reviews(path, label_map={"bad": 0, "good": 1})
    assert data.texts == ["a", "b"] and data.labels.tolist() == [0, 1]
    assert data.dropped == {"dropped by label map": 2}


def test_stars_without_threshold_are_one_class_per_star(tmp_path):
    data = load_reviews(_write(tmp_path / "stars.csv", "text,stars\na,1\nb,3\nc,5\n"))
    assert data.classes == ["1", "3", "5"] and data.class_values == [1, 3, 5] and data.ordinal


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("blank.csv", "text,label\n   ,1\n,0\n"),
        ("nolabels.csv", "text,label\nfine,\ngood,\n"),
        ("header_only.csv", "text,label\n"),
    ],
)
def test_no_rows_left_error(tmp_path, name, content):
    with pytest.raises(DataError) as excinfo:
        load_reviews(_write(tmp_path / name, content))
    one_line_error(excinfo, name, "--text-column")


def test_ragged_csv_error_names_line(tmp_path):
    path = _write(tmp_path / "ragged.csv", "text,label\nok,1\nyes, really,1\nno,0\n")
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    one_line_error(excinfo, "ragged.csv", "line 3")


def test_invalid_jsonl_error_names_line(tmp_path):
    path = _write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n')
    with pytest.raises(DataError) as excinfo:
        load_reviews(path)
    one_line_error(excinfo, "bad.jsonl", "line 2")


def test_empty_file_error(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_reviews(_write(tmp_path / "empty.csv", ""))
    one_line_error(excinfo, "empty.csv", "empty")


def test_data_error_is_value_error_and_single_line():
    error = DataError("cannot read 'x.csv': boom\nmore detail")
    assert isinstance(error, ValueError)
    assert str(error) == "cannot read 'x.csv': boom more detail"


# ---------------------------------------------------------------------------
# ReviewData
# ---------------------------------------------------------------------------


def test_review_data_subset_and_class_counts(tmp_path):
    data = load_reviews(_write(tmp_path / "test.csv", YELP_POLARITY))

    part = data.subset(np.array([3, 0]))

    assert isinstance(part, ReviewData)
    assert len(part) == 2
    assert part.texts == [data.texts[3], data.texts[0]]
    assert part.labels.tolist() == [1, 0]
    assert (part.label_names, part.source, part.format) == (
        data.label_names, data.source, data.format,
    )
    assert data.class_counts() == {0: 2, 1: 2}
    assert data.subset([0, 2]).class_counts() == {0: 2, 1: 0}


# ---------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------


@pytest.fixture
def seed_sized_labels():
    """38,000 labels (the seed's Yelp test.csv size), 40 % positive, shuffled."""
    labels = np.zeros(38_000, dtype=np.int64)
    labels[:15_200] = 1
    return np.random.default_rng(0).permutation(labels)


def test_stratified_split_sizes_match_seed(seed_sized_labels):
    train, val, test = stratified_split(seed_sized_labels)

    assert (len(train), len(val), len(test)) == (26_600, 5_700, 5_700)


def test_stratified_split_is_stratified_disjoint_and_covering(seed_sized_labels):
    train, val, test = stratified_split(seed_sized_labels)

    overall = seed_sized_labels.mean()
    for part in (train, val, test):
        assert abs(seed_sized_labels[part].mean() - overall) < 0.001
    combined = np.concatenate([train, val, test])
    assert len(np.unique(combined)) == len(combined) == len(seed_sized_labels)
    assert np.array_equal(np.sort(combined), np.arange(len(seed_sized_labels)))


def test_stratified_split_reproducible_per_seed(seed_sized_labels):
    first = stratified_split(seed_sized_labels, seed=42)
    again = stratified_split(seed_sized_labels, seed=42)
    other = stratified_split(seed_sized_labels, seed=7)

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_stratified_split_is_the_seed_notebooks_exact_split(seed_sized_labels):
    """The seed notebook's split (train_test_split 70/30, then 50/50, random_state=42),
    pinned by the digest of its index arrays: any change of procedure, order or library
    behaviour that would move even one review between parts fails here."""
    train, val, test = stratified_split(seed_sized_labels, seed=42)
    manifest = split_manifest(seed_sized_labels, train, val, test)
    assert manifest["sha256"] == "371fde193826d6e37169f4da689db53ff6b0498a0f530a1ffffa0b3a0a667415"
    assert train[:5].tolist() == [13053, 36863, 35669, 35353, 32773]
    assert test[:3].tolist() == [17944, 2652, 16225]


@pytest.mark.parametrize("n_minority", [0, 1, 3, 5])
def test_stratified_split_too_few_rows_error(n_minority):
    labels = np.array([0] * 50 + [1] * n_minority)
    if n_minority == 0:
        labels = np.array([], dtype=np.int64)
    with pytest.raises(DataError, match="at least") as excinfo:
        stratified_split(labels)
    assert "\n" not in str(excinfo.value)


def test_stratified_split_smallest_workable_input():
    labels = np.array([0] * 6 + [1] * 6)
    train, val, test = stratified_split(labels)
    assert len(train) + len(val) + len(test) == 12
    assert all(set(labels[part]) == {0, 1} for part in (train, val, test))


def test_stratified_sample_deterministic_sorted_and_balanced(seed_sized_labels):
    sample = stratified_sample(seed_sized_labels, 1_000, seed=3)

    assert len(sample) == 1_000
    assert np.array_equal(sample, np.sort(sample))
    assert len(np.unique(sample)) == 1_000
    assert abs(seed_sized_labels[sample].mean() - 0.4) < 0.002
    assert np.array_equal(sample, stratified_sample(seed_sized_labels, 1_000, seed=3))
    assert not np.array_equal(sample, stratified_sample(seed_sized_labels, 1_000, seed=4))


@pytest.mark.parametrize("n", [10, 11, 1_000])
def test_stratified_sample_returns_everything_when_n_is_large(n):
    labels = np.array([0, 1] * 5)
    assert np.array_equal(stratified_sample(labels, n), np.arange(10))


@pytest.mark.parametrize("n", [0, -5])
def test_stratified_sample_rejects_n_below_one(n):
    with pytest.raises(DataError):
        stratified_sample(np.array([0, 1] * 5), n)


def test_split_manifest_is_json_and_tracks_the_split(seed_sized_labels):
    parts = stratified_split(seed_sized_labels, seed=42)

    manifest = split_manifest(seed_sized_labels, *parts)

    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["sizes"] == {"train": 26_600, "validation": 5_700, "test": 5_700}
    assert manifest["n_total"] == 38_000
    counts = manifest["class_counts"]
    assert set(counts) == {"train", "validation", "test"}
    assert sum(c["1"] for c in counts.values()) == 15_200
    assert sum(c["0"] for c in counts.values()) == 22_800
    assert len(manifest["sha256"]) == 64
    assert split_manifest(seed_sized_labels, *parts)["sha256"] == manifest["sha256"]

    other = split_manifest(seed_sized_labels, *stratified_split(seed_sized_labels, seed=1))
    assert other["sha256"] != manifest["sha256"]
    train, val, test = parts
    # Moving one index across a boundary must change the digest too.
    moved = split_manifest(seed_sized_labels, train[:-1], np.r_[train[-1:], val], test)
    assert moved["sha256"] != manifest["sha256"]


# ---------------------------------------------------------------------------
# Choosing the data source
# ---------------------------------------------------------------------------


def test_resolve_data_source_order(tmp_path):
    project = tmp_path / "project"
    (project / "dataset").mkdir(parents=True)
    seed_file = project / "dataset" / "yelp_reviews.csv"
    env = {"SENTIBENCH_DATA": "/from/env.csv"}

    assert resolve_data_source("/cli.csv", environ=env, project_dir=project) == (
        "/cli.csv", "--data",
    )
    assert resolve_data_source(None, environ=env, project_dir=project) == (
        "/from/env.csv", "environment variable SENTIBENCH_DATA",
    )

    source, why = resolve_data_source(None, environ={}, project_dir=project)
    assert source == "sample:uci"
    assert why.startswith("bundled sample sample:uci") and "Yelp, Amazon and IMDb" in why

    seed_file.write_text(YELP_POLARITY)
    source, why = resolve_data_source(None, environ={}, project_dir=project)
    assert source == str(seed_file)
    assert why.startswith("dataset/yelp_reviews.csv")
    # Environment still wins over the seed file, and an empty value is ignored.
    assert resolve_data_source(environ=env, project_dir=project)[0] == "/from/env.csv"
    empty_env = {"SENTIBENCH_DATA": ""}
    assert resolve_data_source(environ=empty_env, project_dir=project)[0] == str(seed_file)


def test_resolved_sources_load(tmp_path):
    source, _ = resolve_data_source(environ={}, project_dir=tmp_path)
    assert len(load_reviews(source)) == 3000


def test_the_default_data_ships_in_the_package_with_its_licence():
    """UCI Sentiment Labelled Sentences: 1,000 balanced sentences from each source, CC BY 4.0."""
    from dataset import uci_sample_path

    data = load_reviews("sample:uci")
    assert data.source == "sample:uci" and data.format == "csv" and data.classes == ["negative", "positive"]
    assert len(data) == 3000 and data.class_counts() == {0: 1500, 1: 1500} and not data.dropped
    frame = pd.read_csv(uci_sample_path(), keep_default_na=False)
    assert frame.groupby(["source", "label"]).size().to_dict() == {
        (s, y): 500 for s in ("amazon", "imdb", "yelp") for y in (0, 1)}
    licence = (uci_sample_path().parent / "README.md").read_text()
    assert "CC BY 4.0" in licence and "Kotzias" in licence
    # The older name of the small sample still works, under its new name.
    assert load_reviews("bundled:pang_lee_polarity").source == "sample:pang-lee"


# ---------------------------------------------------------------------------
# Real data (../shared/data, absent in a fresh clone)
# ---------------------------------------------------------------------------


@pytest.mark.shared_data
def test_shared_data_files_load():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")

    yelp = load_reviews(SHARED_DATA / "yelp_sentences.csv")
    assert yelp.format == "csv"
    assert len(yelp) == 22_163
    assert yelp.class_counts() == {0: 8_861, 1: 13_302}

    for name in ("uci_yelp_labelled.txt", "uci_amazon_cells_labelled.txt",
                 "uci_imdb_labelled.txt"):
        data = load_reviews(SHARED_DATA / name)
        assert data.format == "uci"
        assert len(data) == 1_000
        assert data.class_counts() == {0: 500, 1: 500}
