"""sentibench classifiers: one interface, several models.

Classes are imported on first use, so ``import classifiers`` (or running only the
classical models) never loads torch or transformers.

>>> from classifiers import REGISTRY, BowSvmClassifier
>>> sorted(REGISTRY)
['bert', 'bow', 'embed', 'llm', 'setfit', 'static', 'vader', 'w2v', 'zeroshot']
"""

from __future__ import annotations

from ._card import CardContext
from ._launch import process_rank, world_size
from ._persist import params_from_json, params_to_json
from ._registry import REGISTRY, MissingExtraError
from ._text import TOKEN_PATTERN, tokenize
from .base import ModelFileError, SentimentClassifier, can_save_to

#: Marks this package as sentibench's own (see ``benchmark.startup``).
__sentibench_package__ = True

#: Public classes -> the module that defines them (imported on first access).
_LAZY = {
    "BowSvmClassifier": ".bow_svm",
    "Word2VecSvmClassifier": ".w2v_svm",
    "BertClassifier": ".bert",
    "EmbeddingLogRegClassifier": ".embed",
    "VaderClassifier": ".vader",
    "ZeroShotClassifier": ".zeroshot",
    "StaticEmbeddingClassifier": ".static",
    "SetFitClassifier": ".setfit",
    "LLMClassifier": ".llm",
}


def __getattr__(name: str):
    if name in _LAZY:
        return REGISTRY.load_class(_LAZY[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REGISTRY",
    "CardContext",
    "BertClassifier",
    "BowSvmClassifier",
    "EmbeddingLogRegClassifier",
    "MissingExtraError",
    "ModelFileError",
    "SentimentClassifier",
    "TOKEN_PATTERN",
    "VaderClassifier",
    "Word2VecSvmClassifier",
    "ZeroShotClassifier",
    "StaticEmbeddingClassifier",
    "SetFitClassifier",
    "LLMClassifier",
    "can_save_to",
    "params_from_json",
    "params_to_json",
    "process_rank",
    "tokenize",
    "world_size",
]
