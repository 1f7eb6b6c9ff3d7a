"""Choosing the text and label columns of a table (header formats, Hugging Face)."""

from __future__ import annotations

from ._errors import DataError, excerpt

__all__ = ["LABEL_COLUMN_NAMES", "TEXT_COLUMN_NAMES", "pick_columns", "pick_group_column"]

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


def _list_columns(columns):
    names = [str(c) for c in columns]
    shown = ", ".join(excerpt(n, 40, quote=False) for n in names[:20])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _named_column(columns, wanted, kind, display, what="column"):
    """The column a ``--KIND-column`` option names: exact, else case-insensitive; a name
    that is not there is a one-line error listing the columns."""
    if wanted in columns:
        return wanted
    lowered = {str(c).strip().lower(): c for c in columns}
    if str(wanted).strip().lower() in lowered:
        return lowered[str(wanted).strip().lower()]
    raise DataError(
        f"cannot read '{display}': {what} '{wanted}' not found (columns present: "
        f"{_list_columns(columns)}); pass --{kind}-column NAME"
    )


def _pick_column(columns, wanted, candidates, kind, display):
    """Resolve the text or label column name against the columns present."""
    if wanted is not None:
        return _named_column(columns, wanted, kind, display)
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


def pick_columns(columns, text_column, label_column, display):
    """Text and label column names: the ones asked for, else the first common names found."""
    columns = list(columns)
    text_col = _pick_column(columns, text_column, TEXT_COLUMN_NAMES, "text", display)
    label_col = _pick_column(columns, label_column, LABEL_COLUMN_NAMES, "label", display)
    if text_col == label_col:
        raise DataError(
            f"cannot read '{display}': column '{text_col}' cannot be both the text and "
            "the label column; pass different --text-column and --label-column"
        )
    return text_col, label_col


def pick_group_column(columns, group_column, display):
    """The column named by ``--group-column`` (exact, else case-insensitive), or ``None`` when
    none was asked for; a column that is not there is a one-line error listing the columns."""
    if group_column is None:
        return None
    return _named_column(list(columns), group_column, "group", display, what="group column")
