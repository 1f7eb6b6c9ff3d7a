"""Epoch checkpoints: one dict with everything training needs to continue."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import pickle
from pathlib import Path

import numpy as np
import torch

from dataset import atomic_write_bytes

from .._persist import ModelFileError

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
#: Written into a checkpoint folder that training created, so that only such a folder
#: is removed afterwards (never a folder the user already had).
_OWNED_MARKER = ".created-by-sentibench"


def checkpoint_path(checkpoint_dir) -> Path | None:
    return Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None


def fingerprint(params: dict, texts, y, validation, sample_weight=None) -> str:
    """Hash of the hyperparameters that shape training and of the data, so a checkpoint
    is only resumed by the same training run."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for part in (texts, validation[0] if validation else []):
        for text in part:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(np.asarray(y, dtype=np.int64).tobytes())
    if validation:
        digest.update(np.asarray(validation[1], dtype=np.int64).tobytes())
    if sample_weight is not None:
        digest.update(np.asarray(sample_weight, dtype=np.float64).tobytes())
    return digest.hexdigest()


def prepare_folder(path: Path | None) -> None:
    """Create the checkpoint folder, marking it as ours when it did not exist."""
    if path is not None and not path.parent.exists():
        path.parent.mkdir(parents=True)
        (path.parent / _OWNED_MARKER).touch()


def save_checkpoint(path: Path, state: dict) -> None:
    """``torch.save`` to memory, then an atomic write: a kill leaves the old file or the new."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path | None, fingerprint: str, device) -> dict | None:
    """The saved state when ``path`` holds a checkpoint of this very training run.

    Loaded with ``weights_only=True``: tensors and plain Python values only, no code.
    """
    if path is None or not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ModelFileError(
            f"checkpoint {path} is damaged ({type(exc).__name__}: {detail}); delete it to restart training from the first epoch"
        ) from None
    if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint or not isinstance(saved.get("state"), dict):
        logger.warning("ignoring checkpoint %s: it belongs to other data or hyperparameters", path)
        return None
    return saved


def record_in_checkpoint(path: Path | None, fingerprint: str, **entries) -> None:
    """Add ``entries`` to the training state saved in the checkpoint of this very training
    run (``fingerprint``), so that a fit that resumes it reuses them (the inference path
    chosen after training, say) instead of deciding again."""
    saved = load_checkpoint(path, fingerprint, "cpu")
    if saved is None:
        return
    saved["state"].update(entries)
    save_checkpoint(path, saved)


def remove_checkpoint(path: Path | None) -> None:
    """Delete the checkpoint file training wrote, and the folder if training created it
    and it is then empty. Nothing else in a ``checkpoint_dir`` is touched."""
    if path is None:
        return
    path.unlink(missing_ok=True)
    marker = path.parent / _OWNED_MARKER
    if marker.is_file():
        marker.unlink()
        try:
            path.parent.rmdir()
        except OSError:
            marker.touch()  # other files appeared in it: keep the folder, still ours
