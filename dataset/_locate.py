"""Locating data: the ``--data`` / ``SENTIBENCH_DATA`` choice and the bundled samples.

Two samples ship with sentibench and are named, not found by path: ``sample:uci`` (the
default: UCI Sentiment Labelled Sentences, 3,000 sentences from Yelp, Amazon and IMDb,
CC BY 4.0, inside this package) and ``sample:pang-lee`` (200 movie-review sentences shipped
inside gensim's wheel, a quick demo).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from ._errors import DataError

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED_SAMPLE",
    "DATA_ENV_VAR",
    "DEFAULT_SAMPLE",
    "PANG_LEE",
    "SAMPLES",
    "UCI_SAMPLE",
    "bundled_sample_path",
    "resolve_data_source",
    "sample_named",
    "uci_sample_path",
    "source_name",
]

#: The 200-sentence movie-review sample inside gensim.
PANG_LEE = "sample:pang-lee"
#: Its older name, still accepted.
BUNDLED_SAMPLE = "bundled:pang_lee_polarity"
#: The default data: UCI Sentiment Labelled Sentences, inside this package.
UCI_SAMPLE = "sample:uci"
DEFAULT_SAMPLE = UCI_SAMPLE

#: Environment variable consulted by :func:`resolve_data_source`.
DATA_ENV_VAR = "SENTIBENCH_DATA"
#: The checkout whose ``dataset/yelp_reviews.csv`` (written by ``download``) is the default data.
PROJECT_DIR = Path(__file__).resolve().parents[1]


def source_name(source: str) -> str:
    """A data source as a model card names it: a file by its name alone (its folder is the
    trainer's machine's business, and a card travels with the model), any other source
    (``hf:NAME[:SPLIT]``, the bundled sample) as it is."""
    source = str(source)
    if source.startswith(("hf:", "bundled:", "sample:")):
        return source
    return Path(source).name or source


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
            f"cannot read '{PANG_LEE}': gensim is not installed; "
            "pip install gensim or point --data / SENTIBENCH_DATA at a review file"
        )
    path = Path(spec.origin).parent / "test" / "test_data" / "pang_lee_polarity.cor"
    if not path.is_file():
        raise DataError(
            f"cannot read '{PANG_LEE}': {path} is missing from the gensim "
            "installation; point --data or SENTIBENCH_DATA at a review file"
        )
    return path


def uci_sample_path() -> Path:
    """Path of the UCI Sentiment Labelled Sentences CSV inside this package (data/README.md)."""
    return Path(__file__).resolve().parent / "data" / "uci_sentiment_sentences.csv"


#: Name -> (path function, encoding, what it is).
SAMPLES = {
    UCI_SAMPLE: (uci_sample_path, "utf-8",
                 "UCI Sentiment Labelled Sentences: 3,000 review sentences from Yelp, Amazon and IMDb (CC BY 4.0)"),
    # gensim's sample predates UTF-8 (it has cp1252 dashes and accents).
    PANG_LEE: (bundled_sample_path, "cp1252", "200 movie-review sentences shipped with gensim (a quick demo)"),
}


def sample_named(source) -> str | None:
    """The name of the bundled sample ``source`` names or is (by name or path), else None."""
    text = str(source)
    if text == BUNDLED_SAMPLE:
        return PANG_LEE
    if text in SAMPLES:
        return text
    path = Path(text).expanduser()
    for name, (where, _, _) in SAMPLES.items():
        try:
            if path.exists() and os.path.samefile(path, where()):
                return name
        except (OSError, DataError):
            continue
    return None


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
        Path or sample name (:data:`SAMPLES`) for :func:`load_reviews`.
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
                source = DEFAULT_SAMPLE
                why = f"bundled sample {DEFAULT_SAMPLE}: {SAMPLES[DEFAULT_SAMPLE][2]}"
    logger.info("data source %s (from %s)", source, why)
    return source, why
