"""``python -m benchmark serve RUN_DIR``: a saved classifier behind HTTP (needs ``sentibench[serve]``)."""

from .batching import BatchPolicy, MicroBatcher

__all__ = ["BatchPolicy", "MicroBatcher"]
