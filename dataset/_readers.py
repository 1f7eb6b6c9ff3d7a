"""Readers, one per file format, and the registry :data:`READERS` that picks them.

Every reader has the signature
``reader(path, display, *, text_column, label_column, encoding, group_column=None)`` and
returns ``(texts, labels, groups)``: aligned pandas Series of the raw values, ``groups``
being ``None`` unless a group column was asked for (``--group-column``); cleaning and
label normalisation happen afterwards in :func:`dataset._labels.to_review_data`. Readers
of headerless formats ignore the column arguments (:func:`dataset._files.load_file`
refuses a group column for them), and readers of formats that must be UTF-8 ignore
`encoding`. `display` is the name used in error messages.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from ._columns import pick_columns, pick_group_column
from ._errors import DataError
from ._labels import is_label_like

logger = logging.getLogger(__name__)

__all__ = ["FASTTEXT_PREFIX", "FORMATS", "HEADERLESS_FORMATS", "READERS", "formats_hint"]

#: ``reader(path, display, *, text_column, label_column, encoding, group_column=None) -> (texts, labels, groups)``
Reader = Callable[..., tuple[pd.Series, pd.Series, pd.Series | None]]

FASTTEXT_PREFIX = "__label__"


def formats_hint():
    return f"supported formats: {', '.join(FORMATS)}; pass --format FORMAT"


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
    return DataError(f"cannot read '{display}': parse error ({msg.strip()}); {formats_hint()}")


def _read_delimited(path, display, sep, text_column, label_column, group_column=None):
    common = dict(sep=sep, encoding="utf-8", engine="c")
    try:
        # Read only the header first so that a wrong column name fails fast,
        # before a large file is parsed.
        columns = list(pd.read_csv(path, nrows=0, **common).columns)
        _check_header(pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False, **common), sep, display)
        # pandas drops one UTF-8 BOM; a second one stays glued to the first
        # column name. Only the first name can carry it, and stripping it must
        # not give two columns the same name.
        first = columns[0] if columns else None
        if isinstance(first, str) and first.lstrip("\ufeff") not in columns:
            columns[0] = first.lstrip("\ufeff")
        text_col, label_col = pick_columns(columns, text_column, label_column, display)
        group_col = pick_group_column(columns, group_column, display)
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
    return frame[text_col], frame[label_col], None if group_col is None else frame[group_col]


_OTHER_DELIMITER = {",": ("\t", "tab", "tsv"), "\t": (",", "comma", "csv")}


def _check_header(first_row: pd.DataFrame, sep: str, display: str) -> None:
    """Refuse a header that names a column twice (which one holds the labels?) or that
    is one field holding the other delimiter (a TSV read as CSV, or the reverse)."""
    names = [str(v).lstrip("\ufeff").strip() for v in first_row.iloc[0]] if len(first_row) else []
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise DataError(
            f"cannot read '{display}': the header row names {', '.join(repr(n) for n in repeated)} more than once "
            f"({','.join(names)[:200]}); rename the columns so that each name is used once"
        )
    other, word, fmt = _OTHER_DELIMITER[sep]
    if len(names) == 1 and other in names[0]:
        raise DataError(
            f"cannot read '{display}': its header row has one field that looks {word}-separated ({names[0][:80]!r}); "
            f"pass --format {fmt}"
        )


def _read_csv(path, display, *, text_column, label_column, encoding, group_column=None):
    return _read_delimited(path, display, ",", text_column, label_column, group_column)


def _read_tsv(path, display, *, text_column, label_column, encoding, group_column=None):
    return _read_delimited(path, display, "\t", text_column, label_column, group_column)


def _read_yelp_polarity(path, display, *, text_column, label_column, encoding, group_column=None):
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
    return texts, labels, None


def _read_jsonl(path, display, *, text_column, label_column, encoding, group_column=None):
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
    text_col, label_col = pick_columns(frame.columns, text_column, label_column, display)
    group_col = pick_group_column(frame.columns, group_column, display)
    return (scalar_cells(frame[text_col], display, "object"), scalar_cells(frame[label_col], display, "object"),
            None if group_col is None else scalar_cells(frame[group_col], display, "object"))


def scalar_cells(column, display, unit):
    """``column`` when every cell is a plain value; a list or an object in a cell (JSON
    Lines, Parquet) would otherwise become a string such as ``"['great', 'x']"``."""
    nested = column.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray)))
    if nested.any():
        row = int(np.flatnonzero(nested.to_numpy())[0])
        what = "an object" if isinstance(column.iloc[row], dict) else "a list"
        raise DataError(
            f"cannot read '{display}': column '{column.name}' holds {what} at {unit} {row + 1}, not a single "
            "text or label; flatten the column to one value per row"
        )
    return column


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


def _read_parquet(path, display, *, text_column, label_column, encoding, group_column=None):
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
        text_col, label_col = pick_columns(columns, text_column, label_column, display)
        group_col = pick_group_column(columns, group_column, display)
        table = pq.read_table(path, columns=list(dict.fromkeys(c for c in (text_col, label_col, group_col) if c is not None)))
    except (pyarrow.ArrowException, OSError) as err:
        raise DataError(
            f"cannot read '{display}': not a readable Parquet file ({err}); "
            f"{formats_hint()}"
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
            f"{formats_hint()}"
        ) from None
    return (scalar_cells(frame[text_col], display, "row"), scalar_cells(frame[label_col], display, "row"),
            None if group_col is None else scalar_cells(frame[group_col], display, "row"))


def _open_text(path, encoding):
    # newline=None turns Windows line endings into "\n"; utf-8-sig drops a BOM.
    return open(path, encoding=encoding, newline=None)


def _read_fasttext(path, display, *, text_column, label_column, encoding, group_column=None):
    texts, labels = [], []
    try:
        with _open_text(path, encoding) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                if line.startswith(FASTTEXT_PREFIX):
                    parts = line.split(None, 1)
                    labels.append(parts[0][len(FASTTEXT_PREFIX):])
                    texts.append(parts[1] if len(parts) > 1 else "")
                else:
                    # Counted later as "missing label" rather than silently lost.
                    labels.append("")
                    texts.append(line)
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    return pd.Series(texts, dtype=object), pd.Series(labels, dtype=object), None


def _read_uci(path, display, *, text_column, label_column, encoding, group_column=None):
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
                    if sep and not is_label_like(label):
                        logger.debug("skipping header line of %s: %r", display, line)
                        continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError as err:
        raise _encoding_error(display, err) from None
    return pd.Series(texts, dtype=object), pd.Series(labels, dtype=object), None


#: Format name -> reader, in the order formats are listed to users.
READERS: dict[str, Reader] = {
    "yelp-polarity": _read_yelp_polarity,
    "csv": _read_csv,
    "tsv": _read_tsv,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "uci": _read_uci,
    "fasttext": _read_fasttext,
}

FORMATS = tuple(READERS)

#: Formats without a header row: --text-column / --label-column do not apply.
HEADERLESS_FORMATS = ("yelp-polarity", "uci", "fasttext")
