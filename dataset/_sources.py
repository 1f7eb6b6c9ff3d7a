"""One entry point for every kind of data source: files, downloaded datasets, Hugging Face."""

from __future__ import annotations

from ._download import resolve_named
from ._files import load_file
from ._hf import HF_PREFIX, load_hf

__all__ = ["load_reviews"]


def load_reviews(source, *, text_column=None, label_column=None, format=None, star_threshold=None, label_map=None,
                 group_column=None):
    """Load labelled reviews from a file, a downloaded dataset or a Hugging Face dataset.

    ``source`` is a path (any format of :data:`FORMATS`), ``"yelp-polarity"`` or
    ``"yelp-polarity:train"`` (after ``python -m benchmark data download yelp-polarity``;
    the test split by default, as in the seed notebook), or ``"hf:NAME[:SPLIT]"`` (the
    ``datasets`` library: a hub name or a ``save_to_disk`` folder). Other arguments are
    those of :func:`dataset._files.load_file`.

    Returns
    -------
    ReviewData
    """
    kwargs = dict(text_column=text_column, label_column=label_column, star_threshold=star_threshold, label_map=label_map,
                  group_column=group_column)
    if isinstance(source, str) and source.startswith(HF_PREFIX):
        return load_hf(source, **kwargs)
    named = resolve_named(source) if isinstance(source, str) else None
    if named is not None:
        return load_file(named, format=format or "yelp-polarity", **kwargs)
    return load_file(source, format=format, **kwargs)
