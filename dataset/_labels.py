"""Cleaning rows and normalising labels: the step every source shares.

Files of every format and Hugging Face data sets are reduced to two aligned
columns (text and original label) and then go through :func:`finish`, so that
dropping rules, counts and error messages are the same whichever way the
reviews arrive.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ._errors import DataError, excerpt
from ._types import ReviewData

logger = logging.getLogger(__name__)

__all__ = ["finish", "is_label_like"]

_NEGATIVE_WORDS = frozenset({"neg", "negative"})
_POSITIVE_WORDS = frozenset({"pos", "positive"})
# Spellings that mean "no label" once a column has been read as strings
# (keep_default_na=False keeps them as text, which is what we want for *texts*).
_MISSING_LABELS = frozenset({"", "nan", "none", "null", "na", "n/a"})
_STAR_VALUES = frozenset({"1", "2", "3", "4", "5"})

_MAX_LISTED = 10


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


def is_label_like(value):
    """Whether a field looks like a label value rather than a column name."""
    canon = _canonical_label(value)
    if canon in _NEGATIVE_WORDS or canon in _POSITIVE_WORDS:
        return True
    try:
        float(canon)
    except ValueError:
        return False
    return canon not in ("nan", "inf", "-inf")


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
    shown = [excerpt(v, 40) for v in list(values)[:_MAX_LISTED]]
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
            if target is not None and str(target).strip() not in ("0", "1"):
                raise DataError(
                    f"cannot read '{display}': --label-map sends {key!r} to {target!r}; "
                    "map each label to 0 (negative), 1 (positive) or nothing (drop)"
                )
            wanted[_canonical_label(key)] = None if target is None else int(str(target).strip())
        # Values the map leaves out are dropped (and counted), like neutral star ratings.
        mapping = {v: wanted.get(v) for v in values}
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
        + "); pass --label-map negative=VALUE[,VALUE...] positive=VALUE[,VALUE...] "
        "(values left out are dropped)"
    )


def finish(texts, labels, *, display, source, fmt, label_map, star_threshold):
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
