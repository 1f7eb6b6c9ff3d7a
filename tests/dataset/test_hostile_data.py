"""Hostile files, checked with hypothesis: the loaders never crash or hang.

Every case must end in a valid result or a clear error: :class:`dataset.DataError`
(one line, naming the file). Anything else (a pandas, pyarrow or csv exception leaking
out, a silently shifted column) is a bug.

Hypothesis re-runs a test body many times with one function-scoped fixture, so
files are written into a fresh :func:`tempfile.TemporaryDirectory` per example.
Example counts are kept modest so that the whole module runs in well under a
minute on 2 cores; each classifier is fitted once per module.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dataset import FORMATS, DataError, ReviewData, load_reviews

from .._helpers import HOSTILE_TEXT

LOADER_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PREDICT_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BOM = b"\xef\xbb\xbf"
ONE_MB_TEXT = "great food " * 100_000  # 1.1 MB

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

TEXT = HOSTILE_TEXT

#: Label spellings per class that the loader documents as a binary pair.
LABEL_STYLES = {
    "int": (0, 1),
    "digits": ("0", "1"),
    "yelp": ("1", "2"),
    "words": ("neg", "pos"),
    "Words": ("Negative", "POSITIVE"),
}

HEADERS = [("text", "label"), ("Review", "sentiment"), ("sentence", "polarity")]


def norm(text: str) -> str:
    """What the loader legitimately does to every text: strip surrounding
    whitespace (str.strip), then turn Windows line endings into "\\n"."""
    return text.strip().replace("\r\n", "\n")


@contextmanager
def fresh_dir():
    with tempfile.TemporaryDirectory(prefix="sentibench-hostile-") as folder:
        yield Path(folder)


def assert_clear_error(err: DataError, path: Path):
    """A DataError message is one non-empty line that names the file."""
    message = str(err)
    assert isinstance(err, DataError)
    assert message.strip(), "empty DataError message"
    assert len(message.splitlines()) == 1, f"message is not one line: {message!r}"
    assert path.name in message, f"message does not name {path.name}: {message!r}"


def load_or_error(path: Path, **kwargs):
    """load_reviews(path), or the DataError it raised (checked to be clear).

    Any other exception propagates and fails the test: that is a crash.
    """
    try:
        return load_reviews(path, **kwargs)
    except DataError as err:
        assert_clear_error(err, path)
        return err


def assert_well_formed(data: ReviewData):
    assert isinstance(data, ReviewData)
    assert len(data.texts) == len(data.labels) > 0
    assert data.labels.dtype == np.int64
    # Every class has a review, and there are at least two (odd labels are classes of their own).
    assert set(data.labels.tolist()) == set(range(data.n_classes)) and data.n_classes >= 2
    assert len(data.classes) == len(data.label_names)
    assert all(isinstance(t, str) and t and t == t.strip() for t in data.texts)
    assert all(n > 0 for n in data.dropped.values())
    # Every row read is either kept or dropped and counted under a reason.
    assert data.n_read == len(data.texts) + sum(data.dropped.values())


def expected_rows(texts, classes):
    """(kept texts, kept classes, number of empty texts) after the loader's cleaning."""
    kept = [(norm(t), c) for t, c in zip(texts, classes, strict=True) if norm(t)]
    return [t for t, _ in kept], [c for _, c in kept], len(texts) - len(kept)


def assert_loaded_exactly(result, path, texts, classes):
    """Either the rows come back exactly (normalised, empty ones dropped and
    counted) or, when the usable rows lack a class, a clear DataError."""
    want_texts, want_classes, n_empty = expected_rows(texts, classes)
    if set(want_classes) != {0, 1}:
        assert isinstance(result, DataError), "expected an error: usable rows lack a class"
        return
    assert not isinstance(result, Exception), f"unexpected error: {result}"
    assert_well_formed(result)
    assert result.texts == want_texts
    assert result.labels.tolist() == want_classes
    assert result.n_read == len(texts)
    assert result.dropped == ({"empty text": n_empty} if n_empty else {})
    assert result.source == str(path)


# ---------------------------------------------------------------------------
# 1. Header formats round trip: csv (BOM, CRLF), tsv, jsonl, parquet
# ---------------------------------------------------------------------------


def write_header_format(folder, fmt, texts, labels, columns, *, bom, crlf, ascii_json=True):
    text_col, label_col = columns
    if fmt in ("csv", "tsv"):
        path = folder / f"reviews.{fmt}"
        quoting = csv.QUOTE_MINIMAL
        if not crlf and any("\r" in t for t in texts):
            # Python 3.11's csv writer (behind DataFrame.to_csv) leaves a bare "\r"
            # unquoted when the line terminator is "\n"; every reader then splits
            # the row there. That file is broken, not the loader: quote all texts.
            quoting = csv.QUOTE_NONNUMERIC
        pd.DataFrame({text_col: texts, label_col: labels}).to_csv(
            path,
            sep="," if fmt == "csv" else "\t",
            index=False,
            encoding="utf-8-sig" if bom else "utf-8",
            lineterminator="\r\n" if crlf else "\n",
            quoting=quoting,
        )
    elif fmt == "jsonl":
        path = folder / "reviews.jsonl"
        eol = "\r\n" if crlf else "\n"
        lines = [
            json.dumps({text_col: t, label_col: lab}, ensure_ascii=ascii_json)
            for t, lab in zip(texts, labels, strict=True)
        ]
        path.write_bytes((BOM if bom else b"") + "".join(line + eol for line in lines).encode("utf-8"))
    else:
        path = folder / "reviews.parquet"
        pd.DataFrame({text_col: pd.Series(texts, dtype=object), label_col: labels}).to_parquet(path)
    return path


@LOADER_SETTINGS
@given(
    rows=st.lists(st.tuples(TEXT, st.integers(0, 1)), max_size=8),
    fmt=st.sampled_from(["csv", "tsv", "jsonl", "parquet"]),
    style=st.sampled_from(sorted(LABEL_STYLES)),
    columns=st.sampled_from(HEADERS),
    bom=st.booleans(),
    crlf=st.booleans(),
    ascii_json=st.booleans(),
)
@example(
    rows=[("  padded  ", 1), ("\r\n", 0), ('say "hi", ok\r\nbye', 0), ("\ufeffbom inside", 1)],
    fmt="csv", style="int", columns=("text", "label"), bom=True, crlf=True, ascii_json=True,
)
def test_header_formats_round_trip_hostile_texts(rows, fmt, style, columns, bom, crlf, ascii_json):
    texts = [t for t, _ in rows]
    classes = [c for _, c in rows]
    labels = [LABEL_STYLES[style][c] for c in classes]
    with fresh_dir() as folder:
        path = write_header_format(folder, fmt, texts, labels, columns, bom=bom, crlf=crlf, ascii_json=ascii_json)
        result = load_or_error(path)
        assert_loaded_exactly(result, path, texts, classes)
        if isinstance(result, ReviewData):
            assert result.format == fmt


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "yelp"])
def test_loaders_keep_a_one_megabyte_text(fmt):
    texts = [ONE_MB_TEXT + "\r\nlast line ", "short"]
    with fresh_dir() as folder:
        if fmt == "yelp":
            path = folder / "train.csv"
            path.write_text(yelp_line("2", texts[0]) + yelp_line("1", texts[1]), encoding="utf-8")
        else:
            path = write_header_format(folder, fmt, texts, [1, 0], ("text", "label"), bom=False, crlf=False)
        data = load_reviews(path)
    assert data.texts == [norm(t) for t in texts]
    assert data.labels.tolist() == [1, 0]


# ---------------------------------------------------------------------------
# 2. Yelp polarity (Zhang et al.): every field quoted, quotes doubled,
#    newlines stored as a literal backslash + "n"
# ---------------------------------------------------------------------------


def yelp_line(label: str, text: str, eol: str = "\n") -> str:
    escaped = text.replace('"', '""').replace("\r\n", "\\n").replace("\n", "\\n")
    return f'"{label}","{escaped}"{eol}'


# A literal backslash + "n" in a review is ambiguous in this format (it reads
# back as a newline), so such texts are not generated.
YELP_TEXT = TEXT.filter(lambda t: "\\n" not in t)


@LOADER_SETTINGS
@given(
    rows=st.lists(st.tuples(YELP_TEXT, st.integers(0, 1)), min_size=1, max_size=8),
    bom=st.booleans(),
    crlf=st.booleans(),
)
@example(rows=[('a "quoted", comma\nand a newline', 1), ("\r\x85\u2028 line breaks", 0)], bom=True, crlf=True)
def test_yelp_polarity_recovers_texts_and_labels(rows, bom, crlf):
    texts = [t for t, _ in rows]
    classes = [c for _, c in rows]
    content = "".join(yelp_line(str(c + 1), t, "\r\n" if crlf else "\n") for t, c in rows)
    with fresh_dir() as folder:
        path = folder / "train.csv"
        path.write_bytes((BOM if bom else b"") + content.encode("utf-8"))
        result = load_or_error(path)
        # The writer stored each "\r\n" as backslash + "n", which reads back as "\n".
        assert_loaded_exactly(result, path, [t.replace("\r\n", "\n") for t in texts], classes)
        if isinstance(result, ReviewData):
            assert result.format == "yelp-polarity"
            assert result.label_names == {0: "1", 1: "2"}


# ---------------------------------------------------------------------------
# 3. Raw bytes and invalid UTF-8
# ---------------------------------------------------------------------------

EXTENSIONS = [".csv", ".tsv", ".txt", ".jsonl", ".json", ".cor", ".parquet", ""]
#: Plausible starts, so that random bytes get past format detection into the readers.
PREFIXES = [
    b"", BOM, b"text,label\n", b'"1","', b"1,", b"text\tlabel\r\n", b"a review\t",
    b"__label__1 ", b'{"text": "', b'{"text": 1, "label": ', b"PAR1",
]


@LOADER_SETTINGS
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=300),
    ext=st.sampled_from(EXTENSIONS),
    fmt=st.one_of(st.none(), st.sampled_from(FORMATS)),
)
@example(prefix=b"text,label\n", body=b"ok,1\nbad,0\n\xff,1\n", ext=".csv", fmt=None)
@example(prefix=b"", body=b"\x00\x00\x00", ext=".csv", fmt=None)
@example(prefix=b"", body="re\x85view\u2028,label\x0c\nok,1\n".encode(), ext=".csv", fmt=None)  # line breaks in column names
@example(prefix=BOM, body=b"text,\xef\xbb\xbftext,label\nok,x,1\nbad,y,0\n", ext=".csv", fmt=None)
@example(prefix=b'"1","', body=b"x" * 70000, ext=".csv", fmt=None)
def test_arbitrary_bytes_load_or_raise_data_error(prefix, body, ext, fmt):
    with fresh_dir() as folder:
        path = folder / f"data{ext}"
        path.write_bytes(prefix + body)
        # fmt=None detects the format; a given format forces that reader on any bytes.
        result = load_or_error(path, format=fmt)
        if isinstance(result, ReviewData):
            assert_well_formed(result)


#: Texts for one-review-per-line formats: no "\r"/"\n" (they end the line) and
#: no "__label__" (a UCI line starting with it is a fastText line).
LINE_TEXT = TEXT.map(lambda t: t.replace("\r", " ").replace("\n", " ").replace("__label__", "label"))


@LOADER_SETTINGS
@given(
    rows=st.lists(st.tuples(LINE_TEXT, st.integers(0, 1)), max_size=8),
    fmt=st.sampled_from(["uci", "fasttext"]),
    style=st.sampled_from(["digits", "yelp", "words"]),
    ext=st.sampled_from([".txt", ".tsv", ".cor", ""]),
    eol=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    detect=st.booleans(),
)
@example(
    rows=[("Great pasta\x85 would return", 1), ("Cold\x0csoup\u2028", 0)],
    fmt="uci", style="digits", ext=".txt", eol="\n", bom=False, detect=True,
)
def test_uci_and_fasttext_round_trip_hostile_texts(rows, fmt, style, ext, eol, bom, detect):
    """UCI ("text<TAB>label") and fastText ("__label__X text") lines: Unicode line
    separators, tabs, control characters and emoji inside a review stay in it."""
    if fmt == "fasttext" and ext == ".tsv":
        ext = ".txt"
    texts = [t for t, _ in rows]
    classes = [c for _, c in rows]
    labels = [LABEL_STYLES[style][c] for c in classes]
    expected = list(texts)
    if fmt == "uci" and not bom and texts and texts[0].startswith("\ufeff"):
        # A file that starts with U+FEFF starts with a BOM, which is not text.
        expected[0] = texts[0][1:]
    if fmt == "uci":
        lines = [f"{t}\t{lab}" for t, lab in zip(texts, labels, strict=True)]
    else:
        lines = [f"__label__{lab} {t}" for t, lab in zip(texts, labels, strict=True)]
    with fresh_dir() as folder:
        path = folder / f"reviews{ext}"
        path.write_bytes((BOM if bom else b"") + "".join(line + eol for line in lines).encode("utf-8"))
        result = load_or_error(path, format=None if detect else fmt)
        assert_loaded_exactly(result, path, expected, classes)
        if isinstance(result, ReviewData):
            assert result.format == fmt


LABEL_PAIRS = [("0", "1"), ("1", "2"), ("-1", "1"), ("neg", "POS"), ("__label__0", "__label__1")]
ODD_LABELS = st.sampled_from([" 1 ", "1.0", "3", "nan", "", "__label__pos", "2\t1"])


@LOADER_SETTINGS
@given(
    # An int picks the file's spelling of that class; a str is an odd label.
    lines=st.lists(st.tuples(TEXT, st.one_of(st.integers(0, 1), st.integers(0, 1), ODD_LABELS)), min_size=1, max_size=8),
    pair=st.sampled_from(LABEL_PAIRS),
    sep=st.sampled_from([",", "\t", " ", ""]),
    label_first=st.booleans(),
    eol=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    ext=st.sampled_from([".csv", ".tsv", ".txt", ".cor", ""]),
    fmt=st.sampled_from([None, None, "uci", "fasttext", "yelp-polarity"]),
)
def test_hostile_text_lines_in_any_format_load_or_raise_data_error(
    lines, pair, sep, label_first, eol, bom, ext, fmt
):
    """Headerless line files (label first or last, any separator) with hostile
    texts, detected or forced through the headerless readers."""
    rows = [(t, pair[lab] if isinstance(lab, int) else lab) for t, lab in lines]
    content = "".join((f"{lab}{sep}{t}" if label_first else f"{t}{sep}{lab}") + eol for t, lab in rows)
    with fresh_dir() as folder:
        path = folder / f"lines{ext}"
        path.write_bytes((BOM if bom else b"") + content.encode("utf-8"))
        result = load_or_error(path, format=fmt)
        if isinstance(result, ReviewData):
            assert_well_formed(result)


#: Byte sequences that are never valid UTF-8, wherever they are inserted.
INVALID_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
)


@LOADER_SETTINGS
@given(
    rows=st.lists(st.tuples(TEXT, st.integers(0, 1)), min_size=1, max_size=6),
    fmt=st.sampled_from(["csv", "tsv", "jsonl"]),
    bad=INVALID_UTF8,
    where=st.floats(0, 1),
    bom=st.booleans(),
)
def test_invalid_utf8_in_a_text_file_is_a_data_error(rows, fmt, bad, where, bom):
    texts = [t for t, _ in rows]
    labels = [c for _, c in rows]
    with fresh_dir() as folder:
        path = write_header_format(folder, fmt, texts, labels, ("text", "label"), bom=bom, crlf=False, ascii_json=False)
        data = path.read_bytes()
        at = int(where * len(data))
        path.write_bytes(data[:at] + bad + data[at:])
        with pytest.raises(DataError) as excinfo:
            load_reviews(path)
        assert_clear_error(excinfo.value, path)
        # pandas' C parser splits raw bytes into fields before decoding them, so
        # bytes wedged next to a quote (inside a doubled "" or before an opening
        # quote) can first make a row ragged; that error is reported instead.
        if b'"' not in data[max(0, at - 1) : at + 1]:
            assert "UTF-8" in str(excinfo.value)


@LOADER_SETTINGS
@given(values=st.lists(st.binary(max_size=20), min_size=2, max_size=6))
def test_parquet_binary_text_column_is_decoded_or_a_data_error(values):
    import pyarrow as pa
    import pyarrow.parquet as pq

    classes = [i % 2 for i in range(len(values))]
    with fresh_dir() as folder:
        path = folder / "reviews.parquet"
        pq.write_table(pa.table({"text": pa.array(values, type=pa.binary()), "label": classes}), path)
        result = load_or_error(path)
        try:
            texts = [v.decode("utf-8") for v in values]
        except UnicodeDecodeError:
            assert isinstance(result, DataError)
            assert "UTF-8" in str(result)
            return
        assert_loaded_exactly(result, path, texts, classes)


def test_parquet_string_column_with_invalid_utf8_is_a_data_error():
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fresh_dir() as folder:
        good = folder / "good.parquet"
        table = pa.table({"text": ["grXat food", "awful"], "label": [1, 0]})
        pq.write_table(table, good, compression="none", use_dictionary=False, write_statistics=False)
        raw = good.read_bytes()
        assert raw.count(b"grXat") == 1  # in the data page only
        path = folder / "corrupt.parquet"
        path.write_bytes(raw.replace(b"grXat", b"gr\xffat"))
        with pytest.raises(DataError) as excinfo:
            load_reviews(path)
        assert_clear_error(excinfo.value, path)
        assert "UTF-8" in str(excinfo.value)


@pytest.mark.parametrize(
    "metadata",
    [
        b"{not json",
        b"\xf4\x90 not utf-8",
        b"{}",
        b'{"columns": 5}',
        json.dumps({"columns": [{"name": "renamed", "field_name": "text"}], "index_columns": []}).encode(),
    ],
)
def test_parquet_damaged_pandas_metadata_is_ignored(metadata):
    """The columns are read as stored; the "pandas" footer metadata is not needed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fresh_dir() as folder:
        path = folder / "meta.parquet"
        table = pa.table({"text": ["great food", "awful"], "label": [1, 0]})
        pq.write_table(table.replace_schema_metadata({b"pandas": metadata}), path)
        data = load_reviews(path)
    assert data.texts == ["great food", "awful"]
    assert data.labels.tolist() == [1, 0]


@LOADER_SETTINGS
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_corrupted_parquet_is_a_data_error_or_loads(cut, flips):
    with fresh_dir() as folder:
        good = write_header_format(
            folder, "parquet", ["great food", "awful", "fine", "bad"], [1, 0, 1, 0], ("text", "label"),
            bom=False, crlf=False,
        )
        raw = bytearray(good.read_bytes())
        for where, value in flips:
            raw[int(where * (len(raw) - 1))] = value
        raw = raw[: max(1, int(cut * len(raw)))] if cut < 1 else raw
        path = folder / "corrupt.parquet"
        path.write_bytes(bytes(raw))
        result = load_or_error(path)
        if isinstance(result, ReviewData):
            assert_well_formed(result)


# ---------------------------------------------------------------------------
# 4. Ragged rows; numbers and missing values in the text column
# ---------------------------------------------------------------------------

PLAIN = st.text(alphabet="abc xyz", max_size=6)


@LOADER_SETTINGS
@given(
    rows=st.lists(
        st.one_of(
            st.tuples(PLAIN.filter(lambda t: t.strip())),  # label field missing
            st.tuples(PLAIN, st.sampled_from(["0", "1", ""])),
            st.tuples(PLAIN, st.sampled_from(["0", "1"]), PLAIN),  # one field too many
            st.tuples(PLAIN, st.sampled_from(["0", "1"]), PLAIN, PLAIN),
        ),
        min_size=1,
        max_size=8,
    ),
    fmt=st.sampled_from(["csv", "tsv"]),
)
@example(rows=[("good", "1", "x"), ("bad", "0", "y")], fmt="csv")  # surplus field on every row
@example(rows=[("good", "1", "x"), ("bad", "0"), ("fine", "1"), ("meh", "0")], fmt="csv")
def test_ragged_rows_are_an_error_naming_the_line_or_dropped_and_counted(rows, fmt):
    sep = "," if fmt == "csv" else "\t"
    content = sep.join(["text", "label"]) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    with fresh_dir() as folder:
        path = folder / f"ragged.{fmt}"
        path.write_text(content, encoding="utf-8")
        result = load_or_error(path)
    too_long = [i for i, r in enumerate(rows) if len(r) > 2]
    if too_long:
        # A surplus field is an unquoted separator inside a review: never guess.
        assert isinstance(result, DataError), f"loaded {result!r}"
        assert f"line {too_long[0] + 2} " in str(result)
        return
    texts = [r[0] for r in rows]
    labels = [r[1] if len(r) == 2 else "" for r in rows]
    empty = sum(1 for t in texts if not t.strip())
    unlabelled = sum(1 for t, lab in zip(texts, labels, strict=True) if t.strip() and not lab)
    kept = [(t.strip(), int(lab)) for t, lab in zip(texts, labels, strict=True) if t.strip() and lab]
    if {c for _, c in kept} != {0, 1}:
        assert isinstance(result, DataError)
        return
    assert not isinstance(result, Exception), f"unexpected error: {result}"
    assert result.texts == [t for t, _ in kept]
    assert result.labels.tolist() == [c for _, c in kept]
    assert result.n_read == len(rows)
    assert result.dropped == {
        reason: n for reason, n in (("empty text", empty), ("missing label", unlabelled)) if n
    }


#: Values a JSON text field may hold besides a string.
JSON_VALUE = st.one_of(
    TEXT,
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


def check_converted_text(loaded: str, value):
    """A non-string value is converted to str, the number it holds unchanged."""
    if isinstance(value, bool):
        assert loaded == str(value)
    elif isinstance(value, (int, float)):
        # pandas reads a numeric column with a null or a float in it as float64,
        # so 3 may come back as "3.0". Its fast JSON float parser can be off by a
        # few dozen units in the last place (precise_float=True would fix that but
        # rejects valid subnormals such as 5e-324, failing the whole file).
        assert math.isclose(float(loaded), value, rel_tol=1e-13, abs_tol=1e-300), (loaded, value)
    else:
        assert loaded == norm(value)


@LOADER_SETTINGS
@given(rows=st.lists(st.tuples(JSON_VALUE, st.integers(0, 1)), min_size=1, max_size=8))
@example(rows=[(123, 1), (None, 0), (1.5, 0), ("ok", 0)])
@example(rows=[(1, 1), (None, 0), (2, 0)])
@example(rows=[(True, 1), (None, 0), (False, 0)])
@example(rows=[(0, 0), (5e-324, 1), (0.24613435374631096, 1)])
def test_jsonl_numbers_and_nulls_in_text_column(rows):
    with fresh_dir() as folder:
        path = folder / "mixed.jsonl"
        path.write_text("".join(json.dumps({"text": v, "label": c}) + "\n" for v, c in rows), encoding="utf-8")
        result = load_or_error(path)
    # null is a missing text: dropped and counted as "empty text", like "".
    kept = [(v, c) for v, c in rows if v is not None and (not isinstance(v, str) or norm(v))]
    n_empty = len(rows) - len(kept)
    if {c for _, c in kept} != {0, 1}:
        assert isinstance(result, DataError)
        return
    assert not isinstance(result, Exception), f"unexpected error: {result}"
    assert_well_formed(result)
    assert len(result.texts) == len(kept)
    for loaded, (value, _) in zip(result.texts, kept, strict=True):
        check_converted_text(loaded, value)
    assert result.labels.tolist() == [c for _, c in kept]
    assert result.dropped == ({"empty text": n_empty} if n_empty else {})
    assert result.n_read == len(rows)


@LOADER_SETTINGS
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**53), 2**53)), min_size=2, max_size=8),
    as_text=st.booleans(),
)
def test_parquet_nulls_and_numbers_in_text_column(values, as_text):
    import pyarrow as pa
    import pyarrow.parquet as pq

    classes = [i % 2 for i in range(len(values))]
    if as_text:
        column = pa.array([None if v is None else f" review {v} " for v in values], type=pa.string())
    else:
        column = pa.array(values, type=pa.int64())
    with fresh_dir() as folder:
        path = folder / "nulls.parquet"
        pq.write_table(pa.table({"text": column, "label": classes}), path)
        result = load_or_error(path)
    kept = [(v, c) for v, c in zip(values, classes, strict=True) if v is not None]
    if {c for _, c in kept} != {0, 1}:
        assert isinstance(result, DataError)
        return
    assert not isinstance(result, Exception), f"unexpected error: {result}"
    assert_well_formed(result)
    if as_text:
        assert result.texts == [f"review {v}" for v, _ in kept]
    else:
        assert [float(t) for t in result.texts] == [float(v) for v, _ in kept]
    assert result.labels.tolist() == [c for _, c in kept]
    n_null = len(values) - len(kept)
    assert result.dropped == ({"empty text": n_null} if n_null else {})


