"""Read Hugging Face ``datasets`` (hub names or ``save_to_disk`` folders).

The data set is reduced to a text and a label column and then handed to the
same column-picking (:mod:`dataset._columns`) and label-normalisation
(:mod:`dataset._labels`) code as every file format, so that column guesses,
dropped-row counts and error messages are identical whichever way the reviews
arrive.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ._columns import pick_columns, pick_group_column
from ._errors import DataError
from ._labels import to_review_data
from ._readers import scalar_cells
from ._types import ReviewData

logger = logging.getLogger(__name__)

__all__ = ["HF_PREFIX", "load_hf"]

#: Prefix that marks a Hugging Face data set in ``--data`` values.
HF_PREFIX = "hf:"
_DEFAULT_SPLIT = "train"

# NAME[:SPLIT], where SPLIT is an identifier optionally followed by a slice
# such as "train[:1000]". The name is matched lazily so that the *last* colon
# that starts a valid split wins: "C:\data\reviews" keeps its drive colon,
# "imdb:train[:100]" keeps the colon inside the slice.
_SPEC = re.compile(r"(?P<name>.+?)(?::(?P<split>[A-Za-z0-9_.-]+(?:\[[^\]]*\])?))?")


def _parse(spec):
    text = str(spec).strip()
    if not text.lower().startswith(HF_PREFIX):
        raise DataError(
            f"cannot read '{spec}': not a Hugging Face data set spec; write it as "
            "hf:NAME or hf:NAME:SPLIT"
        )
    match = _SPEC.fullmatch(text[len(HF_PREFIX):].strip())
    if match is None:
        raise DataError(
            f"cannot read '{spec}': no data set name after 'hf:'; write it as "
            "hf:NAME or hf:NAME:SPLIT (e.g. hf:imdb:test)"
        )
    return match.group("name"), match.group("split")


def _looks_like_path(name):
    # Hub ids are "name" or "owner/name"; anything else is meant as a folder.
    return (
        name.startswith((".", "~", "/", "\\"))
        or "\\" in name
        or name.count("/") > 1
        or bool(re.match(r"[A-Za-z]:", name))
    )


def _import_datasets(spec):
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"cannot read '{spec}': reading Hugging Face data sets needs the datasets "
            "library; pip install 'sentibench[hf]'"
        ) from None
    major = int(datasets.__version__.split(".")[0])
    if major < 4:
        # Before 4.0, a hub data set could come with a loading script: code sentibench must not run.
        raise DataError(
            f"cannot read '{spec}': datasets {datasets.__version__} can run a data set's own loading "
            "code; pip install 'datasets>=4.0'"
        )
    return datasets


def _one_line(err):
    return " ".join(str(err).split()) or type(err).__name__


def _load_local(datasets, spec, folder, split, split_given):
    try:
        loaded = datasets.load_from_disk(str(folder))
    except FileNotFoundError:
        raise DataError(
            f"cannot read '{spec}': {folder} is not a folder written by "
            "Dataset.save_to_disk or DatasetDict.save_to_disk; pass such a folder, "
            "or the data file itself without the hf: prefix"
        ) from None
    except (OSError, ValueError) as err:
        raise DataError(
            f"cannot read '{spec}': cannot load {folder} ({_one_line(err)}); "
            "re-save it with save_to_disk"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise DataError(
                f"cannot read '{spec}': no split '{split}' in {folder} (available: "
                f"{', '.join(loaded)}); write hf:{folder}:SPLIT"
            )
        return loaded[split]
    # A single Dataset carries at most the split it was created from.
    own = str(loaded.split) if loaded.split is not None else None
    if split_given and split != own:
        raise DataError(
            f"cannot read '{spec}': {folder} holds a single data set without a "
            f"'{split}' split" + (f" (its split is '{own}')" if own else "")
            + f"; write hf:{folder} without ':{split}'"
        )
    return loaded


def _load_hub(datasets, spec, name, split):
    try:
        return datasets.load_dataset(name, split=split)
    except ConnectionError as err:
        # Raised for offline mode as well as for an unreachable hub.
        raise DataError(
            f"cannot read '{spec}': cannot reach the Hugging Face Hub and '{name}' is not "
            f"in the local cache ({_one_line(err)}); connect to the internet once, or "
            "pass a folder written by save_to_disk"
        ) from None
    except FileNotFoundError as err:
        # DatasetNotFoundError and friends: the hub answered but has no such
        # data set (or it is gated/private), or a local path does not exist.
        raise DataError(
            f"cannot read '{spec}': data set '{name}' not found ({_one_line(err)}); "
            "check the name on huggingface.co/datasets or pass a save_to_disk folder"
        ) from None
    except ValueError as err:
        unknown = re.search(
            r"Unknown split \"([^\"]*)\"\. Should be one of \[([^\]]*)\]", str(err)
        )
        if unknown:
            available = ", ".join(s.strip().strip("'\"") for s in unknown.group(2).split(","))
            raise DataError(
                f"cannot read '{spec}': no split '{unknown.group(1)}' in '{name}' "
                f"(available: {available}); write hf:{name}:SPLIT"
            ) from None
        raise DataError(
            f"cannot read '{spec}': {_one_line(err)}; check the name and split"
        ) from None
    except Exception as err:
        # The datasets library raises many unrelated types (builder, hub,
        # checksum errors); the CLI still needs one line instead of a traceback.
        raise DataError(
            f"cannot read '{spec}': loading '{name}' failed ({type(err).__name__}: "
            f"{_one_line(err)}); check the name and split"
        ) from err


def _label_values(datasets, feature, values):
    """Class names instead of integers for ClassLabel columns.

    Names such as "neg"/"pos" or "negative"/"positive" are then recognised by
    the shared label normalisation, and `label_names` shows them.
    """
    if not isinstance(feature, datasets.ClassLabel):
        return values
    names = list(feature.names)
    codes = pd.to_numeric(values, errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    # -1 is the datasets convention for "no label" (e.g. GLUE test sets); it and
    # any out-of-range code become "", which is counted as a missing label.
    codes = np.where((codes >= 0) & (codes < len(names)), codes, len(names))
    lookup = np.array([str(n) for n in names] + [""], dtype=object)
    return pd.Series(lookup[codes], index=values.index, dtype=object)


def load_hf(
    spec: str,
    *,
    text_column=None,
    label_column=None,
    star_threshold=None,
    label_map=None,
    group_column=None,
) -> ReviewData:
    """Load a Hugging Face data set as sentiment data (its ClassLabel order is the class order).

    Parameters
    ----------
    spec : str
        ``"hf:NAME"`` or ``"hf:NAME:SPLIT"`` (default split ``"train"``).
        NAME is a folder written by ``Dataset.save_to_disk`` or
        ``DatasetDict.save_to_disk``, or a hub id such as ``"imdb"`` or
        ``"owner/name"`` (read from the user's cache, downloaded if needed).
        For hub ids SPLIT may carry a slice, e.g. ``"train[:1000]"``.
    text_column, label_column : str, optional
        Column names; found by the same common names as for files when omitted.
    star_threshold : int, optional
        Treat labels as star ratings: below is negative, above is positive and
        equal is dropped.
    label_map : dict, optional
        Original label (ClassLabel name or value, as string) -> 0, 1 or None.
    group_column : str, optional
        A column naming each review's group, for per-group accuracy.

    Returns
    -------
    ReviewData
        With ``source=spec`` and ``format="hf"``.

    Raises
    ------
    DataError
        If the library is missing, the data set or split cannot be found, or a
        column is missing; one line naming `spec` and the fix.
    """
    display = str(spec).strip()
    name, split = _parse(display)
    split_given = split is not None
    split = split or _DEFAULT_SPLIT
    datasets = _import_datasets(display)

    folder = Path(name).expanduser()
    if folder.is_dir():
        data = _load_local(datasets, display, folder, split, split_given)
    elif folder.exists():
        raise DataError(
            f"cannot read '{display}': {folder} is a file, not a save_to_disk folder; "
            "pass the file without the hf: prefix"
        )
    elif _looks_like_path(name):
        # Checked before the hub so that a mistyped folder fails at once
        # instead of after network retries.
        raise DataError(
            f"cannot read '{display}': no such folder {name}; pass a folder written by "
            "save_to_disk, or a hub id such as hf:imdb"
        )
    else:
        data = _load_hub(datasets, display, name, split)

    text_col, label_col = pick_columns(data.column_names, text_column, label_column, display)
    group_col = pick_group_column(data.column_names, group_column, display)
    wanted = list(dict.fromkeys(c for c in (text_col, label_col, group_col) if c is not None))
    # Only these columns are converted: others may be large (images, audio).
    frame = data.select_columns(wanted).to_pandas()
    for column in wanted:  # a list in a cell would become "['great' 'x']"
        scalar_cells(frame[column], display, "row")
    feature = data.features[label_col]
    labels = _label_values(datasets, feature, frame[label_col])
    order = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
    logger.debug(
        "read %d rows from %s (text column %r, label column %r)",
        len(frame), display, text_col, label_col,
    )
    return to_review_data(
        frame[text_col],
        labels,
        display=display,
        source=display,
        fmt="hf",
        label_map=label_map,
        star_threshold=star_threshold,
        order=order,
        groups=None if group_col is None else _label_values(datasets, data.features[group_col], frame[group_col]),
    )
