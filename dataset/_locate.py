"""Locating data: the ``--data`` / ``SENTIBENCH_DATA`` choice and the bundled sample."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from ._errors import DataError

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED_SAMPLE",
    "PANG_LEE",
    "DATA_ENV_VAR",
    "bundled_sample_path",
    "is_bundled",
    "resolve_data_source",
]

BUNDLED_SAMPLE = "bundled:pang_lee_polarity"
#: The name under which ``--data`` asks for it.
PANG_LEE = "sample:pang-lee"

#: Environment variable consulted by :func:`resolve_data_source`.
DATA_ENV_VAR = "SENTIBENCH_DATA"
#: The checkout whose ``dataset/yelp_reviews.csv`` (written by ``download``) is the default data.
PROJECT_DIR = Path(__file__).resolve().parents[1]


def bundled_sample_path():
    """Path of the 200-sentence movie-review sample shipped inside gensim.

    gensim's wheel carries ``gensim/test/test_data/pang_lee_polarity.cor``
    (fastText format, 100 negative and 100 positive sentences from Pang & Lee),
    which gives an offline demo without shipping review data in this project.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        If gensim or the file is not installed.
    """
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise DataError(
            f"cannot read '{BUNDLED_SAMPLE}': gensim is not installed; "
            "pip install gensim or point --data / SENTIBENCH_DATA at a review file"
        )
    path = Path(spec.origin).parent / "test" / "test_data" / "pang_lee_polarity.cor"
    if not path.is_file():
        raise DataError(
            f"cannot read '{BUNDLED_SAMPLE}': {path} is missing from the gensim "
            "installation; point --data or SENTIBENCH_DATA at a review file"
        )
    return path


def resolve_data_source(data=None, *, environ=None, project_dir=None):
    """Decide which data file to use and say why.

    Parameters
    ----------
    data : str or path-like, optional
        Value of ``--data``; wins when given.
    environ : mapping, optional
        Environment to consult for ``SENTIBENCH_DATA``; defaults to
        :data:`os.environ` (tests pass a dict).
    project_dir : str or path-like, optional
        Directory that holds ``dataset/yelp_reviews.csv``; defaults to the
        parent directory of this package.

    Returns
    -------
    source : str
        Path (or :data:`BUNDLED_SAMPLE` if passed explicitly) for
        :func:`load_reviews`.
    why : str
        Human-readable reason, for logs and reports.
    """
    if data is not None and str(data).strip():
        source, why = str(data), "--data"
    else:
        env = os.environ if environ is None else environ
        from_env = (env.get(DATA_ENV_VAR) or "").strip()
        if from_env:
            source, why = from_env, f"environment variable {DATA_ENV_VAR}"
        else:
            root = PROJECT_DIR if project_dir is None else Path(project_dir)
            seed_file = root / "dataset" / "yelp_reviews.csv"
            if seed_file.is_file():
                source = str(seed_file)
                why = "dataset/yelp_reviews.csv (the seed's Yelp polarity file)"
            else:
                source = str(bundled_sample_path())
                why = (
                    "bundled sample: 200 movie-review sentences shipped with gensim "
                    "(offline demo; point --data or SENTIBENCH_DATA at real reviews)"
                )
    logger.info("data source %s (from %s)", source, why)
    return source, why


def is_bundled(path):
    """Whether `path` is the bundled sample file, under whatever name it was given."""
    try:
        bundled = bundled_sample_path()
    except DataError:
        return False
    try:
        return path.exists() and os.path.samefile(path, bundled)
    except OSError:
        return False
