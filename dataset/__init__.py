"""Load labelled review data and split it reproducibly.

The public API is re-exported here; the implementation lives in the private
modules :mod:`dataset._loaders` (file formats, label normalisation, choosing
the data source), :mod:`dataset._download` (the Yelp polarity archive),
:mod:`dataset._hf` (Hugging Face datasets), :mod:`dataset._sources` (one
``load_reviews`` for all of them) and :mod:`dataset._split` (stratified splits).
"""

from ._download import DATASETS, cache_dir, download, resolve_named
from ._hf import load_hf
from ._loaders import (
    BUNDLED_SAMPLE,
    FORMATS,
    DataError,
    ReviewData,
    bundled_sample_path,
    detect_format,
    resolve_data_source,
)
from ._sources import load_reviews
from ._split import split_manifest, stratified_sample, stratified_split

__all__ = [
    "BUNDLED_SAMPLE",
    "DATASETS",
    "cache_dir",
    "download",
    "load_hf",
    "resolve_named",
    "FORMATS",
    "DataError",
    "ReviewData",
    "bundled_sample_path",
    "detect_format",
    "load_reviews",
    "resolve_data_source",
    "split_manifest",
    "stratified_sample",
    "stratified_split",
]
