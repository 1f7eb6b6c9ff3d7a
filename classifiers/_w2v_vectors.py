"""Word vectors for :class:`~classifiers.w2v_svm.Word2VecSvmClassifier`: pretrained files
(plain word2vec formats; gensim's pickles only when the user allows them), an unlabelled
corpus to train on, and the stable word hash that keeps training reproducible."""

from __future__ import annotations

import zlib
from pathlib import Path

from dataset import DataError

from ._persist import ModelFileError
from ._text import tokenize


def _stable_hash(text: str) -> int:
    # gensim seeds each word's initial vector with hashfxn(word + seed); Python's own
    # str hash changes per process unless PYTHONHASHSEED is set, crc32 does not.
    return zlib.crc32(text.encode("utf-8"))


def _read_corpus(path) -> list[list[str]]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"corpus file {path} not found; pass a text file with one review per line")
    with path.open(encoding="utf-8", errors="replace") as fh:
        return [tokens for tokens in (tokenize(line) for line in fh) if tokens]


#: Suffixes of gensim's own save format, a pickle: loading one can run code.
PICKLE_SUFFIXES = (".kv", ".model", ".pkl", ".pickle")


def is_pickle_vectors(path) -> bool:
    """Whether ``path`` names word vectors in gensim's pickle-based native format."""
    return Path(str(path)).suffix.lower() in PICKLE_SUFFIXES


def load_vectors(path, *, allow_pickle: bool = False):
    """Load pretrained word vectors.

    Word2vec text (``.txt``, ``.vec``, optionally ``.gz``) and binary (``.bin``) files are
    plain numbers. gensim's native ``KeyedVectors`` files (``.kv``, ``.model``) are
    pickles, which can run code when loaded: they are refused unless ``allow_pickle``
    (the command line sets it for a file the user names there, never for a file named
    in a config file or a run folder). In code, load such a file yourself if you trust
    it (``KeyedVectors.load(path)``) and pass the object as ``vectors``.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if is_pickle_vectors(path) and not allow_pickle:
        raise ModelFileError(
            f"refusing to load {path}: gensim's {path.suffix} format is a pickle, which can run code; "
            "convert it to word2vec format (.bin/.txt), name it on the command line "
            "(--set w2v.vectors=PATH), or load it yourself and pass the KeyedVectors object"
        )
    if not path.is_file():
        raise DataError(f"word vectors file {path} not found")
    if is_pickle_vectors(path):
        return KeyedVectors.load(str(path))
    binary = ".bin" in path.suffixes
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, OSError) as exc:  # OSError: BadGzipFile, unreadable
        raise DataError(f"{path} is not a readable word2vec {'binary' if binary else 'text'} file "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None
