"""Load labelled review data and split it reproducibly.

The public API is re-exported here; the implementation lives in private modules:

* :mod:`dataset._errors`: :class:`SentibenchError` and :class:`DataError`;
* :mod:`dataset._types`: the :class:`ReviewData` container;
* :mod:`dataset._locate`: choosing the data source, the bundled sample;
* :mod:`dataset._detect`: guessing a file's format;
* :mod:`dataset._readers`: one reader per file format (:data:`FORMATS`);
* :mod:`dataset._columns`: choosing the text and label columns;
* :mod:`dataset._labels`: dropping unusable rows, normalising labels;
* :mod:`dataset._files`: reading one file with all of the above;
* :mod:`dataset._download`: the Yelp polarity archive, with
  :mod:`dataset._fetch` (HTTP download with resume), :mod:`dataset._archive`
  (checksums, safe extraction) and :mod:`dataset._cachefiles` (cache files);
* :mod:`dataset._hf`: Hugging Face datasets;
* :mod:`dataset._sources`: one ``load_reviews`` for files, downloaded and
  Hugging Face datasets;
* :mod:`dataset._split`: stratified splits;
* :mod:`dataset._io`: atomic file writes, used by every package;
* :mod:`dataset._text`: user text inside Markdown, never as markup.
"""

from ._detect import detect_format
from ._download import DATASETS, cache_dir, download, resolve_named
from ._errors import DataError, ResourceError, SentibenchError, UsageError, machine_limit
from ._hf import load_hf
from ._io import atomic_write_bytes, atomic_write_json, atomic_write_text, json_text, refuse_constant, temp_folder_beside
from ._labels import MAX_CLASSES, dropped_text, label_groups
from ._locate import (
    BUNDLED_SAMPLE,
    DEFAULT_SAMPLE,
    PANG_LEE,
    SAMPLES,
    UCI_SAMPLE,
    bundled_sample_path,
    resolve_data_source,
    source_name,
    uci_sample_path,
)
from ._readers import FORMATS
from ._sources import load_reviews
from ._split import Split, data_digest, split_manifest, stratified_sample, stratified_split
from ._text import md_literal, md_text, terminal_safe
from ._types import ReviewData

#: Marks this package as sentibench's own (see ``benchmark.startup``).
__sentibench_package__ = True

__all__ = [
    "dropped_text",
    "BUNDLED_SAMPLE",
    "DEFAULT_SAMPLE",
    "PANG_LEE",
    "SAMPLES",
    "UCI_SAMPLE",
    "MAX_CLASSES",
    "DATASETS",
    "cache_dir",
    "data_digest",
    "download",
    "load_hf",
    "resolve_named",
    "FORMATS",
    "DataError",
    "ResourceError",
    "ReviewData",
    "SentibenchError",
    "Split",
    "UsageError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "json_text",
    "refuse_constant",
    "bundled_sample_path",
    "uci_sample_path",
    "detect_format",
    "label_groups",
    "machine_limit",
    "load_reviews",
    "md_literal",
    "md_text",
    "temp_folder_beside",
    "terminal_safe",
    "resolve_data_source",
    "source_name",
    "split_manifest",
    "stratified_sample",
    "stratified_split",
]
