"""Guessing the format of a review file from its extension and first line."""

from __future__ import annotations

import csv
import logging
import re
import stat
from pathlib import Path

from ._errors import DataError
from ._labels import is_label_like
from ._readers import FASTTEXT_PREFIX, formats_hint

logger = logging.getLogger(__name__)

__all__ = ["check_file", "detect", "detect_format"]

# Enough to see the first line of any sane file without reading a large one.
_SNIFF_CHARS = 65536


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


def check_file(path, display):
    """Raise :class:`DataError` unless `path` is a non-empty file (`display` names it)."""
    try:
        path.stat()
    except FileNotFoundError:
        pass  # said below, with the remedy
    except OSError as exc:  # a name too long, a loop of links, no permission on a folder
        raise DataError(f"cannot read '{display}': {exc.strerror or type(exc).__name__}") from None
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
    # Only a regular file's size means anything: a FIFO or a device reports 0.
    if stat.S_ISREG(path.stat().st_mode) and path.stat().st_size == 0:
        raise DataError(
            f"cannot read '{display}': the file is empty; pass a file with labelled reviews"
        )


def _require_regular(path, display):
    """Raise :class:`DataError` unless `path` is a regular file (`display` names it)."""
    if not stat.S_ISREG(path.stat().st_mode):
        # Detection reads the start of the file and the reader reads it again; a pipe
        # can be read only once.
        raise DataError(
            f"cannot read '{display}': it is a pipe or device, not a regular file, and its format "
            f"cannot be detected without consuming it; pass --format FORMAT, or save it to a file"
        )


def _has_parquet_magic(path):
    """Whether the file starts with Parquet's magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _by_suffix(suffix, first, display):
    """Format that the extension names (None where it names none), checked against `first`."""
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
    return None


def _by_first_line(suffix, first):
    """Format that the first line shows (None where it shows none)."""
    if first.lstrip().startswith(FASTTEXT_PREFIX):
        return "fasttext"
    if "\t" in first:
        _, _, last = first.rstrip("\r\n").rpartition("\t")
        if is_label_like(last):
            return "uci"
        if suffix in (".tsv", ".txt", ".tab"):
            # Tab-separated with a non-label last field: a header row.
            return "tsv"
    return None


def detect(path, display):
    """Format of the checked file `path`, as :func:`detect_format`; `display` names it."""
    _require_regular(path, display)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    try:
        if _has_parquet_magic(path):
            return "parquet"
        first = _first_line(_sniff(path))
    except OSError as err:
        raise DataError(
            f"cannot read '{display}': {err.strerror or err}; check that the file is readable"
        ) from None
    fmt = _by_suffix(suffix, first, display) or _by_first_line(suffix, first)
    if fmt is not None:
        return fmt
    where = f"extension '{suffix}'" if suffix else "no extension"
    raise DataError(
        f"cannot read '{display}': unrecognised format ({where}, first line "
        f"{first[:40]!r}); {formats_hint()}"
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
    check_file(path, str(path))
    fmt = detect(path, str(path))
    logger.debug("detected format %s for %s", fmt, path)
    return fmt
