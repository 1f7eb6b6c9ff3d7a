"""sentibench benchmark runner: ``python -m benchmark run --all``."""

from importlib import metadata as _metadata

#: Marks this package as sentibench's own (see ``benchmark.startup``).
__sentibench_package__ = True

try:
    __version__ = _metadata.version("sentibench")
except _metadata.PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
