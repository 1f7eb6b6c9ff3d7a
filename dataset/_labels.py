"""Cleaning rows and turning label values into classes: the step every source shares.

Files of every format and Hugging Face data sets are reduced to two aligned columns (text
and original label) and then go through :func:`to_review_data`, so that dropping rules,
counts and error messages are the same whichever way the reviews arrive.

How label values become classes is one :class:`Scheme`, chosen by the first rule that
applies: the user's ``--label-map`` groups, a ``--star-threshold``, a known binary pair
(1/2, 0/1, -1/1, negative/positive), negative/neutral/positive words, numbers (star
ratings: K ordered classes), or any other names (K classes in sorted order).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import numpy as np

from ._errors import DataError, excerpt
from ._types import ReviewData

logger = logging.getLogger(__name__)

__all__ = ["MAX_CLASSES", "MISSING_GROUP", "Scheme", "is_label_like", "label_groups", "to_review_data"]

#: More distinct label values than this is not a classification the tool was asked for
#: (a score, an id, the wrong column): the user groups them with --label-map.
MAX_CLASSES = 20

_NEGATIVE_WORDS = frozenset({"neg", "negative"})
_NEUTRAL_WORDS = frozenset({"neu", "neutral"})
_POSITIVE_WORDS = frozenset({"pos", "positive"})
# Spellings that mean "no label" once a column has been read as strings
# (keep_default_na=False keeps them as text, which is what we want for *texts*).
_MISSING_LABELS = frozenset({"", "nan", "none", "null", "na", "n/a"})
#: Binary pairs read without being asked: (negative values, positive values).
_KNOWN_PAIRS = (({"1"}, {"2"}), ({"0"}, {"1"}), ({"-1"}, {"1"}), (_NEGATIVE_WORDS, _POSITIVE_WORDS))
_STARS = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(?:stars?)?$")

_MAX_LISTED = 10


def dropped_text(dropped: dict) -> str:
    """What was dropped, for people: ``missing label: 3 (label cells blank or reading NaN,
    None, null, NA or N/A; review texts are kept as written), ...`` or ``none``.

    A label cell reading "NaN" is a missing value a spreadsheet or pandas wrote; a review
    reading "NaN" is kept, because any text is something a reviewer may have written.
    """
    def item(reason, n):
        note = " (label cells blank or reading NaN, None, null, NA or N/A; review texts are kept as written)"
        return f"{reason}: {n:,}" + (note if reason == "missing label" else "")

    return ", ".join(item(reason, n) for reason, n in dropped.items()) or "none"


#: The group of a review whose group cell is blank or missing (``--group-column``).
MISSING_GROUP = "(missing)"


@dataclass(frozen=True)
class Scheme:
    """How canonical label values become class positions."""

    mapping: dict  # canonical value -> class position, or None (dropped, counted under drop_reason)
    classes: list  # class names, in class order
    label_names: dict  # class position -> the original values it holds, as shown to people
    drop_reason: str = ""
    ordinal: bool = False
    class_values: list | None = None  # the number of each class (star ratings)


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


def _number(canon: str) -> float | None:
    """The number a canonical label stands for (``"4"``, ``"4.5"``, ``"4 stars"``), else None."""
    match = _STARS.match(canon)
    if match is None:
        return None
    value = float(match.group(1))
    return value if math.isfinite(value) else None


def is_label_like(value):
    """Whether a field looks like a label value rather than a column name."""
    canon = _canonical_label(value)
    if canon in _NEGATIVE_WORDS | _NEUTRAL_WORDS | _POSITIVE_WORDS:
        return True
    try:
        float(canon)
    except ValueError:
        return False
    return canon not in ("nan", "inf", "-inf")


def label_groups(label_map) -> dict[str, list[str]]:
    """A label map as ordered groups ``{class name: [label values]}``.

    Takes the groups themselves (``{"negative": ["1", "2"], "neutral": ["3"], ...}``, the
    order given is the class order) or the older value -> class form
    (``{"1": 0, "2": 0, "5": 1}``: 0 is negative, 1 positive, None dropped).
    """
    items = dict(label_map)
    if all(isinstance(v, (list, tuple)) for v in items.values()):
        return {str(name): [str(v) for v in values] for name, values in items.items()}
    groups: dict[str, list[str]] = {"negative": [], "positive": []}
    for value, target in items.items():
        if target is None:
            continue
        if str(target).strip() not in ("0", "1"):
            raise DataError(f"--label-map sends {value!r} to {target!r}; map each label to 0 (negative), 1 (positive) or nothing")
        groups["negative" if str(target).strip() == "0" else "positive"].append(str(value))
    return groups


def _fmt_number(value):
    return str(int(value)) if float(value).is_integer() else format(value, "g")


def _star_range_name(values):
    lo, hi = min(values), max(values)
    if lo == hi:
        return f"{_fmt_number(lo)} star" + ("" if lo == 1 else "s")
    return f"{_fmt_number(lo)}-{_fmt_number(hi)} stars"


def _quote_values(values):
    return ", ".join(excerpt(v, 40) for v in list(values)[:_MAX_LISTED])


def _as_str(series):
    """Series of str with missing values (None/NaN/NA) as empty strings."""
    series = series.astype(object)
    return series.where(series.notna(), "").astype(str)


# -- schemes: one function per way of reading the labels -----------------------------------


def _grouped(values, display_of, label_map, display) -> Scheme:
    """The user's ``--label-map`` groups, in the order given; values left out are dropped."""
    groups = label_groups(label_map)
    position: dict[str, int] = {}
    for k, members in enumerate(groups.values()):
        for member in members:
            canon = _canonical_label(member)
            if position.get(canon, k) != k:
                raise DataError(f"cannot read '{display}': --label-map puts the label {member!r} in two classes")
            position[canon] = k
    mapping = {v: position.get(v) for v in values}
    names = {k: ", ".join(sorted(display_of[v] for v in values if mapping[v] == k)) for k in range(len(groups))}
    return Scheme(mapping, list(groups), names, "dropped by label map", ordinal=True)


def _thresholded(values, display_of, star_threshold, display) -> Scheme:
    """Star ratings split at ``--star-threshold``: below negative, above positive, equal dropped."""
    numbers = {v: _number(v) for v in values}
    bad = [display_of[v] for v in values if numbers[v] is None]
    if bad:
        raise DataError(
            f"cannot read '{display}': --star-threshold needs numeric ratings but labels include "
            f"{_quote_values(bad)}; drop --star-threshold or pass --label-map"
        )
    t = float(star_threshold)
    mapping = {v: (0 if x < t else 1 if x > t else None) for v, x in numbers.items()}
    names = {cls: _star_range_name([numbers[v] for v in values if mapping[v] == cls])
             if any(mapping[v] == cls for v in values) else "" for cls in (0, 1)}
    return Scheme(mapping, ["negative", "positive"], names, f"neutral star rating ({_fmt_number(t)})")


def _known_pair(present: set, values, display_of) -> Scheme | None:
    for neg, pos in _KNOWN_PAIRS:
        if present <= (neg | pos) and present & neg and present & pos:
            mapping = {v: 0 if v in neg else 1 for v in values}
            names = {cls: "/".join(sorted(display_of[v] for v in values if mapping[v] == cls)) for cls in (0, 1)}
            return Scheme(mapping, ["negative", "positive"], names)
    return None


def _sentiment_words(present: set, values, display_of) -> Scheme | None:
    """negative/neutral/positive (or neg/neu/pos): ordered classes, those present only."""
    order = [("negative", _NEGATIVE_WORDS), ("neutral", _NEUTRAL_WORDS), ("positive", _POSITIVE_WORDS)]
    if not (present & _NEUTRAL_WORDS) or not present <= _NEGATIVE_WORDS | _NEUTRAL_WORDS | _POSITIVE_WORDS:
        return None
    kept = [(name, words) for name, words in order if present & words]
    mapping = {v: next(k for k, (_, words) in enumerate(kept) if v in words) for v in values}
    names = {k: "/".join(sorted(display_of[v] for v in values if mapping[v] == k)) for k in range(len(kept))}
    return Scheme(mapping, [name for name, _ in kept], names, ordinal=True)


def _ratings(values, display_of, display) -> Scheme | None:
    """Numbers (star ratings, scales): one ordered class per value."""
    numbers = {v: _number(v) for v in values}
    if any(x is None for x in numbers.values()):
        return None
    ordered = sorted(set(numbers.values()))
    _check_class_count(len(ordered), display, "numeric label values", "--star-threshold 3 or --label-map")
    position = {x: k for k, x in enumerate(ordered)}
    mapping = {v: position[numbers[v]] for v in values}
    names = {k: ", ".join(sorted(display_of[v] for v in values if mapping[v] == k)) for k in range(len(ordered))}
    return Scheme(mapping, [_fmt_number(x) for x in ordered], names, ordinal=True, class_values=ordered)


def _named(values, display_of, display, order) -> Scheme:
    """Any other labels: one class per name, in ``order`` (a data set's own class order) or sorted."""
    names_in_order = [v for v in order if v in values] if order else sorted(values)
    names_in_order += sorted(v for v in values if v not in names_in_order)
    _check_class_count(len(names_in_order), display, "distinct label values", "--label-map")
    mapping = {v: k for k, v in enumerate(names_in_order)}
    return Scheme(mapping, [display_of[v] for v in names_in_order], {k: display_of[v] for k, v in enumerate(names_in_order)})


def _check_class_count(n: int, display: str, what: str, fix: str) -> None:
    if n > MAX_CLASSES:
        raise DataError(
            f"cannot read '{display}': {n} {what} is more classes than a review classifier is meant for "
            f"(at most {MAX_CLASSES}); check --label-column, or group them with {fix}"
        )


def choose_scheme(values, display_of, counts, *, display, label_map, star_threshold, order=None) -> Scheme:
    """The :class:`Scheme` of the canonical label ``values`` present (see the module docstring)."""
    if label_map is not None and star_threshold is not None:
        raise DataError(f"cannot read '{display}': --star-threshold and --label-map both say how to read the labels; give one")
    if label_map is not None:
        return _grouped(values, display_of, label_map, display)
    if star_threshold is not None:
        return _thresholded(values, display_of, star_threshold, display)
    present = set(values)
    if len(present) == 1:
        only = next(iter(present))
        raise DataError(
            f"cannot read '{display}': only one label value ({display_of[only]!r}) in {counts[only]} usable rows; "
            "a sentiment benchmark needs at least two classes: check --label-column"
        )
    return (_known_pair(present, values, display_of) or _sentiment_words(present, values, display_of)
            or _ratings(values, display_of, display) or _named(values, display_of, display, order))


# -- rows --------------------------------------------------------------------------------


def _usable_texts(texts, dropped: dict):
    texts = _as_str(texts).str.strip()
    # Quoted CSV fields keep Windows line endings verbatim; unify them.
    texts = texts.str.replace("\r\n", "\n", regex=False)
    # Copy: pandas may hand out a read-only view, and `keep` is updated in place.
    keep = (texts != "").to_numpy(dtype=bool, copy=True)
    dropped["empty text"] = int((~keep).sum())
    return texts, keep


def _usable_labels(labels, keep, dropped: dict):
    """Canonical labels, rows with a label, and per canonical value its shown spelling and count."""
    raw = _as_str(labels).str.strip()
    counts_raw = raw[keep].value_counts(sort=False)
    canon_of = {value: _canonical_label(value) for value in counts_raw.index}
    canon = raw.map(canon_of)
    missing = canon.isin(_MISSING_LABELS).to_numpy() | canon.isna().to_numpy()
    dropped["missing label"] = int((keep & missing).sum())
    display_of, counts = {}, {}
    for value, n in counts_raw.items():
        c = canon_of[value]
        if c not in _MISSING_LABELS:
            display_of.setdefault(c, value)
            counts[c] = counts.get(c, 0) + int(n)
    return canon, keep & ~missing, display_of, counts


def _no_rows_left(display: str, n_read: int, dropped: dict, fix: str) -> DataError:
    summary = ", ".join(f"{n} {reason}" for reason, n in dropped.items() if n)
    return DataError(
        f"cannot read '{display}': no usable rows left (read {n_read}" + (f"; dropped {summary}" if summary else "") + f"); {fix}"
    )


def to_review_data(texts, labels, *, display, source, fmt, label_map, star_threshold, order=None, groups=None) -> ReviewData:
    """Drop unusable rows, turn labels into classes and build a :class:`ReviewData`.

    ``order``: a data set's own class order (Hugging Face ``ClassLabel`` names), used for
    labels that are neither a known pair, sentiment words nor numbers. ``groups``: each
    row's group (``--group-column``), kept for the rows kept; a missing one is :data:`MISSING_GROUP`.
    """
    n_read = int(len(texts))
    dropped: dict[str, int] = {}
    texts, keep = _usable_texts(texts, dropped)
    canon, keep, display_of, counts = _usable_labels(labels, keep, dropped)
    if not keep.any():
        raise _no_rows_left(display, n_read, dropped, "check --text-column / --label-column and --format")
    scheme = choose_scheme(sorted(counts, key=lambda v: -counts[v]), display_of, counts, display=display,
                           label_map=label_map, star_threshold=star_threshold,
                           order=[_canonical_label(o) for o in order] if order else None)
    # Map unique values, then broadcast: a dict lookup per row is vectorised by pandas and
    # avoids float/None coercion surprises of Series.map with NaN.
    codes = canon.map({v: (-1 if m is None else m) for v, m in scheme.mapping.items()}).fillna(-1).to_numpy(dtype=np.int64)
    if scheme.drop_reason:
        dropped[scheme.drop_reason] = int((keep & (codes < 0)).sum())
    keep &= codes >= 0
    y = codes[keep]
    if y.size == 0:
        raise _no_rows_left(display, n_read, dropped, "check --star-threshold / --label-map")
    class_counts = np.bincount(y, minlength=len(scheme.classes))
    if (class_counts > 0).sum() < 2:
        present = int(np.argmax(class_counts))
        raise DataError(
            f"cannot read '{display}': only one class found (all {y.size} usable rows are {scheme.classes[present]}, "
            f"label {scheme.label_names.get(present) or '?'}); a sentiment benchmark needs at least two classes: "
            "check --label-column, --label-map or --star-threshold"
        )
    scheme = _without_empty_classes(scheme, class_counts)
    if len(scheme.classes) < len(class_counts):
        y = np.searchsorted(np.flatnonzero(class_counts), y)
    result = ReviewData(
        texts=texts[keep].tolist(), labels=y, label_names=scheme.label_names, source=source, format=fmt, n_read=n_read,
        dropped={reason: n for reason, n in dropped.items() if n}, classes=scheme.classes, ordinal=scheme.ordinal,
        class_values=scheme.class_values, groups=None if groups is None else _group_names(groups)[keep].tolist(),
    )
    logger.info("loaded %d reviews (%s) from %s as %s; read %d rows; dropped: %s", len(result),
                ", ".join(f"{c}: {n}" for c, n in zip(result.classes, np.bincount(y, minlength=result.n_classes), strict=True)),
                source, fmt, n_read, dropped_text(result.dropped))
    return result


def _group_names(groups) -> np.ndarray:
    """Each row's group as text (numbers as the labels are: ``"2.0"`` -> ``"2"``); a blank or
    missing cell is a group of its own, :data:`MISSING_GROUP`."""
    names = _as_str(groups).str.strip().map(_group_name)
    return names.where(names != "", MISSING_GROUP).to_numpy(dtype=object)


def _group_name(value: str) -> str:
    try:
        return _canonical_label(value) if math.isfinite(float(value)) else value
    except ValueError:
        return value


def _without_empty_classes(scheme: Scheme, class_counts: np.ndarray) -> Scheme:
    """The scheme without classes no review is left in (a label-map group that matched
    nothing): a class without examples cannot be learned or scored."""
    kept = [k for k in range(len(scheme.classes)) if class_counts[k] > 0]
    if len(kept) == len(scheme.classes):
        return scheme
    empty = [scheme.classes[k] for k in range(len(scheme.classes)) if k not in kept]
    logger.warning("no review has the class(es) %s; the classes are %s", ", ".join(empty),
                   ", ".join(scheme.classes[k] for k in kept))
    new = {k: i for i, k in enumerate(kept)}
    return Scheme(
        {v: (None if m is None else new.get(m)) for v, m in scheme.mapping.items()}, [scheme.classes[k] for k in kept],
        {i: scheme.label_names[k] for i, k in enumerate(kept)}, scheme.drop_reason, scheme.ordinal,
        None if scheme.class_values is None else [scheme.class_values[k] for k in kept],
    )
