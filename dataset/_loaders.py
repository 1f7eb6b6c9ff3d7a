"""Read labelled review files into a common :class:`ReviewData` container.

Every supported on-disk format is reduced to two aligned columns (text and
original label) and then goes through one shared cleaning and label
normalisation step, so that dropping rules, counts and error messages are the
same whichever format the user brings.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED_SAMPLE",
    "DataError",
    "FORMATS",
    "ReviewData",
    "bundled_sample_path",
    "detect_format",
    "load_reviews",
    "resolve_data_source",
]

FORMATS = ("yelp-polarity", "csv", "tsv", "jsonl", "parquet", "uci", "fasttext")

BUNDLED_SAMPLE = "bundled:pang_lee_polarity"

#: Environment variable consulted by :func:`resolve_data_source`.
DATA_ENV_VAR = "SENTIBENCH_DATA"

# Candidate column names, in order of preference, matched case-insensitively.
TEXT_COLUMN_NAMES = ("text", "review", "sentence", "content", "body", "comment")
LABEL_COLUMN_NAMES = (
    "label",
    "sentiment",
    "polarity",
    "stars",
    "rating",
    "score",
    "target",
    "class",
)

_NEGATIVE_WORDS = frozenset({"neg", "negative"})
_POSITIVE_WORDS = frozenset({"pos", "positive"})
# Spellings that mean "no label" once a column has been read as strings
# (keep_default_na=False keeps them as text, which is what we want for *texts*).
_MISSING_LABELS = frozenset({"", "nan", "none", "null", "na", "n/a"})
_STAR_VALUES = frozenset({"1", "2", "3", "4", "5"})

_FASTTEXT_PREFIX = "__label__"
# Enough to see the first line of any sane file without reading a large one.
_SNIFF_CHARS = 65536
_MAX_LISTED = 10


class DataError(ValueError):
    """A data file cannot be used, with a one-line message saying how to fix it.

    The message always names the offending file and ends with the remedy (a
    command-line flag to pass, or how to re-save the file), so the CLI can print
    it verbatim instead of a traceback.
    """

    def __init__(self, message):
        # Collapse embedded line breaks (pandas messages often carry them, and
        # column names or values quoted from a file may hold any of the breaks
        # str.splitlines knows) so that the CLI can print exactly one line.
        super().__init__(_LINE_BREAKS.sub(" ", str(message)).strip())


_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+\s*")


@dataclass
class ReviewData:
    """Labelled review texts plus where they came from and what was dropped.

    Parameters
    ----------
    texts : list of str
        Review texts, stripped of surrounding whitespace.
    labels : ndarray of int64
        Binary sentiment, 0 = negative and 1 = positive, aligned with `texts`.
    label_names : dict of {int: str}
        The original label each class came from, e.g. ``{0: "1", 1: "2"}`` for
        Yelp polarity or ``{0: "1-2 stars", 1: "4-5 stars"}`` for star ratings.
    source : str
        Path that was read, or :data:`BUNDLED_SAMPLE`.
    format : str
        One of :data:`FORMATS`.
    n_read : int
        Number of rows read before any row was dropped.
    dropped : dict of {str: int}
        Reason -> number of rows dropped for it; only non-zero reasons.
    """

    texts: list
    labels: np.ndarray
    label_names: dict
    source: str
    format: str
    n_read: int
    dropped: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.ndim != 1 or len(self.texts) != self.labels.shape[0]:
            raise ValueError(
                f"texts and labels must be aligned: {len(self.texts)} texts, "
                f"labels of shape {self.labels.shape}"
            )

    def __len__(self):
        return len(self.texts)

    def subset(self, indices):
        """Return the reviews at `indices`, keeping all metadata.

        Parameters
        ----------
        indices : array-like of int or bool
            Positions to keep (a boolean mask is accepted too).

        Returns
        -------
        ReviewData
            New container; `n_read` and `dropped` still describe the file.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False).ravel()
        return ReviewData(
            texts=[self.texts[i] for i in idx],
            labels=self.labels[idx],
            label_names=dict(self.label_names),
            source=self.source,
            format=self.format,
            n_read=self.n_read,
            dropped=dict(self.dropped),
        )

    def class_counts(self):
        """Number of reviews per class.

        Returns
        -------
        dict of {int: int}
            Always has both keys 0 and 1 (a count may be 0 in a subset).
        """
        counts = np.bincount(self.labels, minlength=2)
        return {0: int(counts[0]), 1: int(counts[1])}


# ---------------------------------------------------------------------------
# Locating data
# ---------------------------------------------------------------------------


def bundled_sample_path():
    """Path of the 200-sentence movie-review sample shipped inside gensim.

    gensim's wheel carries ``gensim/test/test_data/pang_lee_polarity.cor``
    (fastText format, 100 negative and 100 positive sentences from Pang & Lee),
    which gives an offline demo without shipping review data in this project.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        If gensim or the file is not installed.
    """
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise DataError(
            f"cannot read '{BUNDLED_SAMPLE}': gensim is not installed; "
            "pip install gensim or point --data / SENTIBENCH_DATA at a review file"
        )
    path = Path(spec.origin).parent / "test" / "test_data" / "pang_lee_polarity.cor"
    if not path.is_file():
        raise DataError(
            f"cannot read '{BUNDLED_SAMPLE}': {path} is missing from the gensim "
            "installation; point --data or SENTIBENCH_DATA at a review file"
        )
    return path


def resolve_data_source(data=None, *, environ=None, project_dir=None):
    """Decide which data file to use and say why.

    Parameters
    ----------
    data : str or path-like, optional
        Value of ``--data``; wins when given.
    environ : mapping, optional
        Environment to consult for ``SENTIBENCH_DATA``; defaults to
        :data:`os.environ` (tests pass a dict).
    project_dir : str or path-like, optional
        Directory that holds ``dataset/yelp_reviews.csv``; defaults to the
        parent directory of this package.

    Returns
    -------
    source : str
        Path (or :data:`BUNDLED_SAMPLE` if passed explicitly) for
        :func:`load_reviews`.
    why : str
        Human-readable reason, for logs and reports.
    """
    if data is not None and str(data).strip():
        source, why = str(data), "--data"
    else:
        env = os.environ if environ is None else environ
        from_env = (env.get(DATA_ENV_VAR) or "").strip()
        if from_env:
            source, why = from_env, f"environment variable {DATA_ENV_VAR}"
        else:
            if project_dir is None:
                root = Path(__file__).resolve().parents[1]
            else:
                root = Path(project_dir)
            seed_file = root / "dataset" / "yelp_reviews.csv"
            if seed_file.is_file():
                source = str(seed_file)
                why = "dataset/yelp_reviews.csv (the seed's Yelp polarity file)"
            else:
                source = str(bundled_sample_path())
                why = (
                    "bundled sample: 200 movie-review sentences shipped with gensim "
                    "(offline demo; point --data or SENTIBENCH_DATA at real reviews)"
                )
    logger.info("data source %s (from %s)", source, why)
    return source, why


# ---------------------------------------------------------------------------
# Format detection
# ---------------------------------------------------------------------------


def _canonical_label(value):
    """Canonical spelling of one label: lower-case, and ``"1.0"`` -> ``"1"``."""
    text = str(value).strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    if number.is_integer():
        return str(int(number))
    return format(number, "g")


def _is_label_like(value):
    """Whether a field looks like a label value rather than a column name."""
    canon = _canonical_label(value)
    if canon in _NEGATIVE_WORDS or canon in _POSITIVE_WORDS:
        return True
    try:
        float(canon)
    except ValueError:
        return False
    return canon not in ("nan", "inf", "-inf")


def _first_line(text):
    # Split where the readers do (universal newlines, pandas): str.splitlines
    # would also end a line at \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029, which
    # may sit inside a review (\x85 is cp1252's ellipsis read as Latin-1).
    for line in re.split(r"\r\n|\r|\n", text):
        if line.strip():
            return line
    return ""


def _sniff(path):
    """First characters of a file, decoded leniently.

    Decoding errors are replaced here on purpose: detection only needs the
    first line, and the strict read that follows reports bad encodings with a
    proper message.
    """
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return fh.read(_SNIFF_CHARS)


def _formats_hint():
    return f"supported formats: {', '.join(FORMATS)}; pass --format FORMAT"


def _check_file(path, display):
    if not path.exists():
        raise DataError(
            f"cannot read '{display}': no such file; check the path given to "
            "--data or SENTIBENCH_DATA"
        )
    if path.is_dir():
        raise DataError(
            f"cannot read '{display}': it is a directory, not a file; "
            "pass the path of a review file inside it"
        )
    if path.stat().st_size == 0:
        raise DataError(
            f"cannot read '{display}': the file is empty; pass a file with labelled reviews"
        )


def _detect(path, display):
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    try:
        with open(path, "rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
        first = _first_line(_sniff(path))
    except OSError as err:
        raise DataError(
            f"cannot read '{display}': {err.strerror or err}; check that the file is readable"
        ) from None
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        if first.lstrip().startswith("{"):
            return "jsonl"
        raise DataError(
            f"cannot read '{display}': only JSON Lines (one object per line) is "
            "supported; re-save it as .jsonl with one review object per line"
        )
    if suffix == ".csv":
        fields = next(csv.reader([first]), [])
        # Zhang et al.'s polarity CSVs have no header: the first field of the
        # first line is already a 1/2 label, which no header would contain.
        if len(fields) == 2 and fields[0].strip() in ("1", "2"):
            return "yelp-polarity"
        return "csv"
    if first.lstrip().startswith(_FASTTEXT_PREFIX):
        return "fasttext"
    if "\t" in first:
        _, _, last = first.rstrip("\r\n").rpartition("\t")
        if _is_label_like(last):
            return "uci"
        if suffix in (".tsv", ".txt", ".tab"):
            # Tab-separated with a non-label last field: a header row.
            return "tsv"
    where = f"extension '{suffix}'" if suffix else "no extension"
    raise DataError(
        f"cannot read '{display}': unrecognised format ({where}, first line "
        f"{first[:40]!r}); {_formats_hint()}"
    )


def detect_format(path):
    """Guess the format of a review file from its extension and first line.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    DataError
        If the file is missing, empty, a directory, or not recognised.
    """
    path = Path(path).expanduser()
    _check_file(path, str(path))
    fmt = _detect(path, str(path))
    logger.debug("detected format %s for %s", fmt, path)
    return fmt


# ---------------------------------------------------------------------------
# Readers: each returns (texts, labels) as two aligned pandas Series
# ---------------------------------------------------------------------------


def _encoding_error(display, err):
    # err.start is relative to whatever chunk the decoder saw, not the file,
    # so only the offending byte is reported.
    return DataError(
        f"cannot read '{display}': it is not UTF-8 text (invalid byte "
        f"0x{err.object[err.start]:02x}); re-save it as UTF-8"
    )


def _parser_error(display, err):
    msg = str(err)
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if ragged:
        expected, line, saw = ragged.groups()
        return DataError(
            f"cannot read '{display}': line {line} has {saw} fields but {expected} "
            "were expected; quote fields that contain the separator, or pass --format"
        )
    eof = re.search(r"EOF inside string starting at row (\d+)", msg)
    if eof:
        return DataError(
            f"cannot read '{display}': unterminated quoted field starting at row "
            f"{eof.group(1)}; fix or remove the stray quote character"
        )
    return DataError(f"cannot read '{display}': parse error ({msg.strip()}); {_formats_hint()}")


def _list_columns(columns):
    names = [str(c) for c in columns]
    shown = ", ".join(names[:20])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _pick_column(columns, wanted, candidates, kind, display):
    """Resolve the text or label column name against the columns present."""
    if wanted is not None:
        if wanted in columns:
            return wanted
        lowered = {str(c).strip().lower(): c for c in columns}
        if str(wanted).strip().lower() in lowered:
            return lowered[str(wanted).strip().lower()]
        raise DataError(
            f"cannot read '{display}': column '{wanted}' not found (columns present: "
            f"{_list_columns(columns)}); pass --{kind}-column NAME"
        )
    lowered = {}
    for c in columns:
        lowered.setdefault(str(c).strip().lower(), c)
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise DataError(
        f"cannot read '{display}': no {kind} column found (looked for "
        f"{', '.join(candidates)}; columns present: {_list_columns(columns)}); "
        f"pass --{kind}-column NAME"
    )


def _pick_columns(columns, text_column, label_column, display):
    columns = list(columns)
    text_col = _pick_column(columns, text_column, TEXT_COLUMN_NAMES, "text", display)
    label_col = _pick_column(columns, label_column, LABEL_COLUMN_NAMES, "label", display)
    if text_col == label_col:
        raise DataError(
            f"cannot read '{display}': column '{text_col}' cannot be both the text and "
            "the label column; pass different --text-column and --label-column"
        )
    return text_col, label_col


def _read_delimited(path, display, sep, text_column, label_column):
    common = dict(sep=sep, encoding="utf-8", engine="c")
    try:
        # Read only the header first so that a wrong column name fails fast,
        # before a large file is parsed.
        columns = list(pd.read_csv(path, nrows=0, **common).columns)
        # pandas drops one UTF-8 BOM; a second one stays glued to the first
        # column name. Only the first name can carry it, and stripping it must
        # not give two columns the same name.
        first = columns[0] if columns else None
        if isinstance(first, str) and first.lstrip("\ufeff") not in columns:
            columns[0] = first.lstrip("\ufeff")
        text_col, label_col = _pick_columns(columns, text_column, label_column, display)
        frame = pd.read_csv(
            path,
            # header=None: the header row itself sets the number of fields, so a
            # data row with a surplus field (an unquoted separator in a review)
            # is a ParserError naming its line. With header=0 and names, pandas
            # silently takes the surplus leading fields of the first data row as
            # the index and shifts every column. No usecols either: with it pandas
            # silently drops surplus fields.
            header=None,
            dtype=str,
            keep_default_na=False,
            **common,
        )
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"cannot read '{display}': no header row found; pass a file with labelled reviews"
        ) from None
    except pd.errors.ParserError as err:
        raise _parser_error(display, err) from None
    if frame.shape[1] != len(columns):
        raise DataError(
            f"cannot read '{display}': the header row has {len(columns)} fields but the "
            f"data rows have {frame.shape[1]}; quote fields that contain the separator, or pass --format"
        )
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = columns
    return frame[text_col], frame[label_col]


def _read_yelp_polarity(path, display):
    try:
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8",
            engine="c",
            # Zhang et al. escape quotes by doubling them (csv's default).
            doublequote=True,
        )
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"cannot read '{display}': the file is empty; pass a file with reviews"
        ) from None
    except pd.errors.ParserError as err:
        raise _parser_error(display, err) from None
    if frame.shape[1] != 2:
        raise DataError(
            f"cannot read '{display}': Yelp polarity files have 2 columns (label, text) "
            f"but this one has {frame.shape[1]}; pass --format csv with a header row"
        )
    labels = frame[0].str.lstrip("\ufeff")
    # Newlines inside reviews are stored as a literal backslash + "n".
    texts = frame[1].str.replace("\\n", "\n", regex=False)
    return texts, labels


def _read_jsonl(path, display, text_column, label_column):
    try:
        frame = pd.read_json(path, lines=True, dtype=False, encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    except ValueError as err:
        raise _jsonl_error(path, display, err) from None
    if frame.empty:
        raise DataError(
            f"cannot read '{display}': no JSON objects found; pass a file with reviews"
        )
    text_col, label_col = _pick_columns(frame.columns, text_column, label_column, display)
    return frame[text_col], frame[label_col]


def _jsonl_error(path, display, err):
    # pandas does not say where JSON Lines parsing failed; find the line
    # ourselves (error path only, so a Python loop is fine).
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as line_err:
                return DataError(
                    f"cannot read '{display}': line {lineno} is not valid JSON "
                    f"({line_err.msg}); write one JSON object per line"
                )
            if not isinstance(obj, dict):
                return DataError(
                    f"cannot read '{display}': line {lineno} is not a JSON object; "
                    "write one JSON object per line"
                )
    return DataError(
        f"cannot read '{display}': invalid JSON Lines ({err}); write one JSON object per line"
    )


def _read_parquet(path, display, text_column, label_column):
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"cannot read '{display}': reading Parquet needs pyarrow; "
            "pip install pyarrow (or sentibench[parquet])"
        ) from None
    try:
        columns = pq.read_schema(path).names
        text_col, label_col = _pick_columns(columns, text_column, label_column, display)
        table = pq.read_table(path, columns=[text_col, label_col])
    except (pyarrow.ArrowException, OSError) as err:
        raise DataError(
            f"cannot read '{display}': not a readable Parquet file ({err}); "
            f"{_formats_hint()}"
        ) from None
    # Check UTF-8 here, naming the column, instead of failing deep inside pandas:
    # pyarrow does not validate string data when reading, and text stored as
    # binary (writers that omit the UTF-8 annotation) is decoded the same way.
    for i, column_field in enumerate(table.schema):
        try:
            column = table.column(i)
            if pyarrow.types.is_binary(column_field.type) or pyarrow.types.is_large_binary(column_field.type):
                large = pyarrow.types.is_large_binary(column_field.type)
                column = column.cast(pyarrow.large_string() if large else pyarrow.string())
                table = table.set_column(i, column_field.name, column)
            column.validate(full=True)
        except pyarrow.ArrowInvalid as err:
            raise DataError(
                f"cannot read '{display}': column '{column_field.name}' is not valid UTF-8 text "
                f"({err}); re-save it as UTF-8"
            ) from None
    try:
        # Without the "pandas" schema metadata: only two plain columns are needed,
        # and a damaged metadata JSON would fail with KeyError, JSONDecodeError or
        # UnicodeDecodeError inside pyarrow, or rename the columns.
        frame = table.replace_schema_metadata(None).to_pandas()
    except pyarrow.ArrowException as err:
        raise DataError(
            f"cannot read '{display}': not a readable Parquet file ({err}); "
            f"{_formats_hint()}"
        ) from None
    return frame[text_col], frame[label_col]


def _open_text(path, encoding):
    # newline=None turns Windows line endings into "\n"; utf-8-sig drops a BOM.
    return open(path, encoding=encoding, newline=None)


def _read_fasttext(path, display, encoding):
    texts, labels = [], []
    try:
        with _open_text(path, encoding) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                if line.startswith(_FASTTEXT_PREFIX):
                    parts = line.split(None, 1)
                    labels.append(parts[0][len(_FASTTEXT_PREFIX):])
                    texts.append(parts[1] if len(parts) > 1 else "")
                else:
                    # Counted later as "missing label" rather than silently lost.
                    labels.append("")
                    texts.append(line)
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    return pd.Series(texts, dtype=object), pd.Series(labels, dtype=object)


def _read_uci(path, display, encoding):
    texts, labels = [], []
    first = True
    try:
        with _open_text(path, encoding) as fh:
            for line in fh:
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                # rpartition: the label is the last field, and review text may
                # itself contain tabs or unbalanced quotes (so no csv module).
                text, sep, label = line.rpartition("\t")
                if not sep:
                    text, label = line, ""
                if first:
                    first = False
                    if sep and not _is_label_like(label):
                        logger.debug("skipping header line of %s: %r", display, line)
                        continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    return pd.Series(texts, dtype=object), pd.Series(labels, dtype=object)


# ---------------------------------------------------------------------------
# Cleaning and label normalisation
# ---------------------------------------------------------------------------


def _as_str(series):
    """Series of str with missing values (None/NaN/NA) as empty strings."""
    series = series.astype(object)
    return series.where(series.notna(), "").astype(str)


def _fmt_number(value):
    return str(int(value)) if float(value).is_integer() else format(value, "g")


def _star_range_name(values):
    lo, hi = min(values), max(values)
    if lo == hi:
        return f"{_fmt_number(lo)} star" + ("" if lo == 1 else "s")
    return f"{_fmt_number(lo)}-{_fmt_number(hi)} stars"


def _quote_values(values):
    shown = [repr(str(v)) for v in list(values)[:_MAX_LISTED]]
    return ", ".join(shown)


def _map_labels(canon, display_of, counts, *, display, label_map, star_threshold):
    """Decide how canonical label values map to 0/1.

    Returns
    -------
    mapping : dict
        canonical value -> 0, 1 or None (drop).
    label_names : dict of {int: str}
    drop_reason : str
        Reason under which values mapped to None are counted.
    """
    values = sorted(canon, key=lambda v: -counts[v])

    if label_map is not None:
        wanted = {}
        for key, target in dict(label_map).items():
            if target is not None and not (str(target).strip() in ("0", "1")):
                raise DataError(
                    f"cannot read '{display}': --label-map sends {key!r} to {target!r}; "
                    "map each label to 0 (negative), 1 (positive) or nothing (drop)"
                )
            wanted[_canonical_label(key)] = None if target is None else int(str(target).strip())
        unmapped = [v for v in values if v not in wanted]
        if unmapped:
            raise DataError(
                f"cannot read '{display}': label values not covered by --label-map: "
                f"{_quote_values(display_of[v] for v in unmapped)}; add them to --label-map"
            )
        mapping = {v: wanted[v] for v in values}
        names = {
            cls: ", ".join(sorted(display_of[v] for v in values if mapping[v] == cls))
            for cls in (0, 1)
        }
        return mapping, names, "dropped by label map"

    numeric = {}
    for v in values:
        try:
            numeric[v] = float(v)
        except ValueError:
            pass
    all_numeric = len(numeric) == len(values) and all(math.isfinite(x) for x in numeric.values())

    if star_threshold is not None:
        if not all_numeric:
            bad = [display_of[v] for v in values if v not in numeric]
            raise DataError(
                f"cannot read '{display}': --star-threshold needs numeric ratings but "
                f"labels include {_quote_values(bad)}; drop --star-threshold or pass --label-map"
            )
        t = float(star_threshold)
        mapping = {v: (0 if x < t else 1 if x > t else None) for v, x in numeric.items()}
        names = {
            cls: _star_range_name([numeric[v] for v in values if mapping[v] == cls])
            if any(mapping[v] == cls for v in values)
            else ""
            for cls in (0, 1)
        }
        return mapping, names, f"neutral star rating ({_fmt_number(t)})"

    present = set(values)
    if len(present) == 1:
        only = values[0]
        raise DataError(
            f"cannot read '{display}': only one label value ({display_of[only]!r}) in "
            f"{counts[only]} usable rows; a sentiment benchmark needs negative and positive "
            "reviews: check --label-column"
        )
    pairs = (({"1"}, {"2"}), ({"0"}, {"1"}), ({"-1"}, {"1"}), (_NEGATIVE_WORDS, _POSITIVE_WORDS))
    for neg, pos in pairs:
        if present <= (neg | pos) and present & neg and present & pos:
            mapping = {v: 0 if v in neg else 1 for v in values}
            names = {
                cls: "/".join(sorted(display_of[v] for v in values if mapping[v] == cls))
                for cls in (0, 1)
            }
            return mapping, names, ""
    if present <= _STAR_VALUES:
        raise DataError(
            f"cannot read '{display}': labels look like star ratings "
            f"({', '.join(sorted(present))}); pass --star-threshold 3 "
            "(below = negative, above = positive, equal = dropped)"
        )
    if len(values) > 2:
        problem = f"{len(values)} distinct label values"
    else:
        problem = "labels are not a known binary pair"
    raise DataError(
        f"cannot read '{display}': {problem}"
        + f" ({_quote_values(display_of[v] for v in values)}"
        + (", ..." if len(values) > _MAX_LISTED else "")
        + "); pass --label-map to map each value to 0 (negative) or 1 (positive)"
    )


def _finish(texts, labels, *, display, source, fmt, label_map, star_threshold):
    """Drop unusable rows, normalise labels and build a :class:`ReviewData`."""
    n_read = int(len(texts))
    dropped = {}

    texts = _as_str(texts).str.strip()
    # Quoted CSV fields keep Windows line endings verbatim; unify them.
    texts = texts.str.replace("\r\n", "\n", regex=False)
    # Copy: pandas may hand out a read-only view, and `keep` is updated in place.
    keep = (texts != "").to_numpy(dtype=bool, copy=True)
    dropped["empty text"] = int((~keep).sum())

    raw = _as_str(labels).str.strip()
    counts_raw = raw[keep].value_counts(sort=False)
    canon_of = {value: _canonical_label(value) for value in counts_raw.index}
    canon = raw.map(canon_of)
    missing = canon.isin(_MISSING_LABELS).to_numpy() | canon.isna().to_numpy()
    dropped["missing label"] = int((keep & missing).sum())
    keep &= ~missing

    display_of, counts = {}, {}
    for value, n in counts_raw.items():
        c = canon_of[value]
        if c in _MISSING_LABELS:
            continue
        display_of.setdefault(c, value)
        counts[c] = counts.get(c, 0) + int(n)

    if not keep.any():
        summary = ", ".join(f"{n} {reason}" for reason, n in dropped.items() if n)
        raise DataError(
            f"cannot read '{display}': no usable rows left (read {n_read}"
            + (f"; dropped {summary}" if summary else "")
            + "); check --text-column / --label-column and --format"
        )

    mapping, label_names, drop_reason = _map_labels(
        set(counts), display_of, counts, display=display, label_map=label_map,
        star_threshold=star_threshold,
    )
    # Map unique values, then broadcast: a dict lookup per row is vectorised by
    # pandas and avoids float/None coercion surprises of Series.map with NaN.
    code_of = {v: (-1 if m is None else m) for v, m in mapping.items()}
    codes = canon.map(code_of).fillna(-1).to_numpy(dtype=np.int64)
    unlabelled = keep & (codes < 0)
    if drop_reason:
        dropped[drop_reason] = int(unlabelled.sum())
    keep &= codes >= 0

    y = codes[keep]
    class_counts = np.bincount(y, minlength=2) if y.size else np.zeros(2, dtype=int)
    if y.size == 0:
        summary = ", ".join(f"{n} {reason}" for reason, n in dropped.items() if n)
        raise DataError(
            f"cannot read '{display}': no usable rows left (read {n_read}; dropped {summary}); "
            "check --star-threshold / --label-map"
        )
    if class_counts.min() == 0:
        present_cls = int(np.argmax(class_counts))
        kind = "positive" if present_cls == 1 else "negative"
        raise DataError(
            f"cannot read '{display}': only one class found (all {y.size} usable rows are "
            f"{kind}, label {label_names.get(present_cls) or '?'}); a sentiment benchmark needs "
            "negative and positive reviews: check --label-column, --label-map or --star-threshold"
        )

    result = ReviewData(
        texts=texts[keep].tolist(),
        labels=y,
        label_names={0: label_names[0], 1: label_names[1]},
        source=source,
        format=fmt,
        n_read=n_read,
        dropped={reason: n for reason, n in dropped.items() if n},
    )
    logger.info(
        "loaded %d reviews (%d negative, %d positive) from %s as %s; read %d rows, dropped %s",
        len(result), class_counts[0], class_counts[1], source, fmt, n_read,
        result.dropped or "none",
    )
    return result


def _is_bundled(path):
    try:
        bundled = bundled_sample_path()
    except DataError:
        return False
    try:
        return path.exists() and os.path.samefile(path, bundled)
    except OSError:
        return False


def load_reviews(
    source,
    *,
    text_column=None,
    label_column=None,
    format=None,
    star_threshold=None,
    label_map=None,
):
    """Load a labelled review file as binary sentiment data.

    Parameters
    ----------
    source : str or path-like
        File to read, or :data:`BUNDLED_SAMPLE` for the demo sample.
    text_column, label_column : str, optional
        Column names for header formats (csv, tsv, jsonl, parquet); found by
        common names when omitted. Ignored by headerless formats.
    format : str, optional
        One of :data:`FORMATS`; detected with :func:`detect_format` if omitted.
    star_threshold : int, optional
        Treat labels as star ratings: below is negative, above is positive and
        equal is dropped (counted as neutral).
    label_map : dict, optional
        Original label (as string, case-insensitive) -> 0, 1 or None (drop).
        Overrides all automatic label handling.

    Returns
    -------
    ReviewData

    Raises
    ------
    DataError
        With a one-line message naming the file and the fix.
    """
    bundled = str(source) == BUNDLED_SAMPLE
    path = bundled_sample_path() if bundled else Path(source).expanduser()
    bundled = bundled or _is_bundled(path)
    display = BUNDLED_SAMPLE if bundled else str(source)
    _check_file(path, display)

    if format is None:
        fmt = _detect(path, display)
        logger.debug("detected format %s for %s", fmt, display)
    else:
        fmt = str(format).strip().lower()
        if fmt not in FORMATS:
            raise DataError(
                f"cannot read '{display}': unknown format '{format}'; "
                f"{_formats_hint()}"
            )

    if fmt in ("yelp-polarity", "uci", "fasttext") and (text_column or label_column):
        logger.warning(
            "%s files have no header; ignoring --text-column/--label-column for %s",
            fmt, display,
        )
    # gensim's sample predates UTF-8 (it has cp1252 dashes and accents); every
    # user file must be UTF-8.
    encoding = "cp1252" if bundled else "utf-8-sig"

    try:
        if fmt == "yelp-polarity":
            texts, labels = _read_yelp_polarity(path, display)
        elif fmt in ("csv", "tsv"):
            sep = "," if fmt == "csv" else "\t"
            texts, labels = _read_delimited(path, display, sep, text_column, label_column)
        elif fmt == "jsonl":
            texts, labels = _read_jsonl(path, display, text_column, label_column)
        elif fmt == "parquet":
            texts, labels = _read_parquet(path, display, text_column, label_column)
        elif fmt == "uci":
            texts, labels = _read_uci(path, display, encoding)
        else:
            texts, labels = _read_fasttext(path, display, encoding)
    except OSError as err:
        # Permissions, a file vanishing mid-read, I/O errors: still one line.
        raise DataError(
            f"cannot read '{display}': {err.strerror or err}; check that the file is readable"
        ) from None

    return _finish(
        texts,
        labels,
        display=display,
        source=BUNDLED_SAMPLE if bundled else str(source),
        fmt=fmt,
        label_map=label_map,
        star_threshold=star_threshold,
    )
