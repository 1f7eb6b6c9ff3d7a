"""sentibench classifiers: one interface, several models.

>>> from classifiers import REGISTRY, BowSvmClassifier
>>> sorted(REGISTRY)
['bert', 'bow', 'w2v']
"""

from ._launch import process_rank, world_size
from .base import ModelFileError, SentimentClassifier
from .bert import BertClassifier
from .bow_svm import BowSvmClassifier
from .w2v_svm import Word2VecSvmClassifier

#: Short names used by the command line and results files -> classifier classes.
REGISTRY: dict[str, type[SentimentClassifier]] = {
    "bow": BowSvmClassifier,
    "w2v": Word2VecSvmClassifier,
    "bert": BertClassifier,
}

__all__ = [
    "REGISTRY",
    "BertClassifier",
    "BowSvmClassifier",
    "ModelFileError",
    "SentimentClassifier",
    "Word2VecSvmClassifier",
    "process_rank",
    "world_size",
]
