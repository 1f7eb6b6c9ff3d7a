"""Load labelled review data and split it reproducibly.

The public API is re-exported here; the implementation lives in the private
modules :mod:`dataset._loaders` (file formats, label normalisation, choosing
the data source) and :mod:`dataset._split` (stratified splits).
"""

from ._loaders import (
    BUNDLED_SAMPLE,
    FORMATS,
    DataError,
    ReviewData,
    bundled_sample_path,
    detect_format,
    load_reviews,
    resolve_data_source,
)
from ._split import split_manifest, stratified_sample, stratified_split

__all__ = [
    "BUNDLED_SAMPLE",
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
