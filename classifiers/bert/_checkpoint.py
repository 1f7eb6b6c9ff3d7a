"""Epoch checkpoints: one dict with everything training needs to continue."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from dataset import atomic_write_bytes

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"


def checkpoint_path(checkpoint_dir) -> Path | None:
    return Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None


def fingerprint(params: dict, texts, y, validation) -> str:
    """Hash of the hyperparameters that shape training and of the data, so a checkpoint
    is only resumed by the same training run."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for part in (texts, validation[0] if validation else []):
        for text in part:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(np.asarray(y, dtype=np.int64).tobytes())
    if validation:
        digest.update(np.asarray(validation[1], dtype=np.int64).tobytes())
    return digest.hexdigest()


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` to memory, then an atomic write: a kill leaves the old file or the new."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path | None, fingerprint: str, device) -> dict | None:
    """The saved state when ``path`` holds a checkpoint of this very training run."""
    if path is None or not path.is_file():
        return None
    saved = torch.load(path, map_location=device, weights_only=True)
    if saved.get("fingerprint") != fingerprint or "state" not in saved:
        logger.warning("ignoring checkpoint %s: it belongs to other data or hyperparameters", path)
        return None
    return saved


def remove_checkpoints(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)
