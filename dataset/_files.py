"""Read one labelled review file into a common :class:`ReviewData` container.

Every supported on-disk format is reduced to two aligned columns (text and
original label) by its reader in :data:`dataset._readers.READERS` and then goes
through one shared cleaning and label normalisation step, so that dropping
rules, counts and error messages are the same whichever format the user brings.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import stat
import tempfile
from pathlib import Path

from ._detect import check_file, detect
from ._errors import DataError
from ._labels import to_review_data
from ._locate import SAMPLES, sample_named
from ._readers import FORMATS, HEADERLESS_FORMATS, READERS, formats_hint

logger = logging.getLogger(__name__)

__all__ = ["load_file"]


def load_file(
    source,
    *,
    text_column=None,
    label_column=None,
    format=None,
    star_threshold=None,
    label_map=None,
    group_column=None,
):
    """Load a labelled review file as sentiment data (two classes or more).

    Parameters
    ----------
    source : str or path-like
        File to read, or the name of a bundled sample (``sample:uci``, ``sample:pang-lee``).
    text_column, label_column : str, optional
        Column names for header formats (csv, tsv, jsonl, parquet); found by
        common names when omitted. Ignored by headerless formats.
    format : str, optional
        One of :data:`FORMATS`; detected with :func:`detect_format` if omitted.
    star_threshold : int, optional
        Treat labels as star ratings: below is negative, above is positive and
        equal is dropped (counted as neutral).
    label_map : dict, optional
        Class name -> list of original labels (as strings, case-insensitive), in class
        order; labels left out are dropped. The older form, original label -> 0, 1 or
        None (drop), still works. Overrides all automatic label handling.
    group_column : str, optional
        A column naming each review's group (product, source, city) for per-group
        accuracy; header formats only.

    Returns
    -------
    ReviewData

    Raises
    ------
    DataError
        With a one-line message naming the file and the fix.
    """
    if not str(source).strip():
        # Path("") is the current folder: "it is a directory" would puzzle.
        raise DataError("no data file given (the path is empty); pass the path of a review file")
    sample = sample_named(source)
    path = SAMPLES[sample][0]() if sample else Path(source).expanduser()
    display = sample or str(source)
    check_file(path, display)
    with read_once(path) as path:
        check_file(path, display)  # a pipe's copy: empty is told as for a file
        return _load_checked(path, display, sample, source, text_column=text_column, label_column=label_column, format=format,
                             star_threshold=star_threshold, label_map=label_map, group_column=group_column)


@contextlib.contextmanager
def read_once(path: Path):
    """``path`` itself when it is a regular file; otherwise (a pipe, ``/dev/stdin``,
    ``<(...)``, which can be read only once) a temporary copy of all it gives, read once,
    that detection and the reader can open as often as they need. Removed afterwards."""
    if stat.S_ISREG(path.stat().st_mode):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="sentibench-pipe-") as folder:
        copy = Path(folder) / (path.name or "stdin")
        with open(path, "rb") as source, open(copy, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        yield copy


def _load_checked(path, display, sample, source, *, text_column, label_column, format, star_threshold, label_map, group_column):

    if format is None:
        fmt = detect(path, display)
        logger.debug("detected format %s for %s", fmt, display)
    else:
        fmt = str(format).strip().lower()
        if fmt not in FORMATS:
            raise DataError(
                f"cannot read '{display}': unknown format '{format}'; "
                f"{formats_hint()}"
            )

    if fmt in HEADERLESS_FORMATS and group_column is not None:
        raise DataError(
            f"cannot read '{display}': {fmt} files have no header, so --group-column {group_column} names no column; "
            "use a file with a header row (csv, tsv, jsonl, parquet)"
        )
    if fmt in HEADERLESS_FORMATS and (text_column or label_column):
        logger.warning(
            "%s files have no header; ignoring --text-column/--label-column for %s",
            fmt, display,
        )
    # Every user file must be UTF-8; a bundled sample says its own encoding.
    encoding = SAMPLES[sample][1] if sample else "utf-8-sig"

    try:
        texts, labels, groups = READERS[fmt](
            path, display, text_column=text_column, label_column=label_column, encoding=encoding,
            group_column=group_column,
        )
    except OSError as err:
        # Permissions, a file vanishing mid-read, I/O errors: still one line.
        raise DataError(
            f"cannot read '{display}': {err.strerror or err}; check that the file is readable"
        ) from None

    return to_review_data(
        texts,
        labels,
        display=display,
        source=sample or str(source),
        fmt=fmt,
        label_map=label_map,
        star_threshold=star_threshold,
        groups=groups,
    )
