"""The common container every loader returns: :class:`ReviewData`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ReviewData"]


@dataclass
class ReviewData:
    """Labelled review texts plus where they came from and what was dropped.

    Parameters
    ----------
    texts : list of str
        Review texts, stripped of surrounding whitespace.
    labels : ndarray of int64
        The class of each review, a position in `classes` (0 to K - 1), aligned with `texts`.
    label_names : dict of {int: str}
        The original label values each class came from, e.g. ``{0: "1", 1: "2"}`` for
        Yelp polarity or ``{0: "1-2 stars", 1: "4-5 stars"}`` for star ratings.
    source : str
        Path that was read, or :data:`BUNDLED_SAMPLE`.
    format : str
        One of :data:`FORMATS`.
    n_read : int
        Number of rows read before any row was dropped.
    dropped : dict of {str: int}
        Reason -> number of rows dropped for it; only non-zero reasons.
    classes : list of str, optional
        The name of each class, in class order: ``["negative", "positive"]`` for two
        classes unless given, the original values otherwise (``["1", ..., "5"]`` for stars).
    ordinal : bool, default=False
        Whether the classes are ordered (star ratings, negative/neutral/positive, the
        groups of a label map): ordinal metrics (MAE, QWK) apply.
    class_values : list of float, optional
        The number each class stands for, when the labels are numbers (star ratings).
    groups : list of str, optional
        The group of each review (``--group-column``: product, source, city), aligned with
        `texts`; ``None`` when no group column was read.
    """

    texts: list
    labels: np.ndarray
    label_names: dict
    source: str
    format: str
    n_read: int
    dropped: dict = field(default_factory=dict)
    classes: list | None = None
    ordinal: bool = False
    class_values: list | None = None
    groups: list | None = None

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.ndim != 1 or len(self.texts) != self.labels.shape[0]:
            raise ValueError(
                f"texts and labels must be aligned: {len(self.texts)} texts, "
                f"labels of shape {self.labels.shape}"
            )
        if self.groups is not None and len(self.groups) != len(self.texts):
            raise ValueError(f"texts and groups must be aligned: {len(self.texts)} texts, {len(self.groups)} groups")
        if self.classes is None:
            n = len(self.label_names)
            self.classes = ["negative", "positive"] if n == 2 else [str(self.label_names[k]) for k in range(n)]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

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
            classes=list(self.classes),
            ordinal=self.ordinal,
            class_values=None if self.class_values is None else list(self.class_values),
            groups=None if self.groups is None else [self.groups[i] for i in idx],
        )

    def class_counts(self):
        """Number of reviews per class.

        Returns
        -------
        dict of {int: int}
            One key per class, 0 to K - 1 (a count may be 0 in a subset).
        """
        counts = np.bincount(self.labels, minlength=self.n_classes)
        return {k: int(counts[k]) for k in range(self.n_classes)}
