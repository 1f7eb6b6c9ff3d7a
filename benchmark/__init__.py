"""sentibench benchmark runner: ``python -m benchmark run --all``; in Python, ``from benchmark import compare``
(and ``learning_curve``)."""

from importlib import metadata as _metadata

#: Marks this package as sentibench's own (see ``benchmark.startup``).
__sentibench_package__ = True

try:
    __version__ = _metadata.version("sentibench")
except _metadata.PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"

#: Imported on first use (``from benchmark import compare``): importing the package stays cheap.
_LAZY = {"compare": "notebook", "Comparison": "comparison", "learning_curve": "notebook_studies",
         "LearningCurve": "notebook_studies"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
