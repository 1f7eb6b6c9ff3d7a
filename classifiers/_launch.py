"""How this process was launched: its rank and the number of processes (torchrun / accelerate)."""

from __future__ import annotations

import os

__all__ = ["process_rank", "world_size"]


def process_rank() -> int:
    """This process's rank under ``accelerate launch``/``torchrun`` (0 when not launched)."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of processes taking part in training (1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))
