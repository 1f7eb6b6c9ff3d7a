"""Writing files so that a crash or ``kill -9`` leaves the old file or the new one, and JSON
that any strict reader accepts."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "json_text", "refuse_constant", "temp_folder_beside"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_folder_beside(path) -> Path:
    """A new empty folder ``.NAME.XXXXXXXX.tmp`` beside ``path``, with the permissions
    ``mkdir`` would give it (``mkdtemp`` makes it 0700): a folder built there and renamed
    onto ``path`` when complete is as readable as any other the user makes."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


def atomic_write_text(path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj) -> None:
    """``obj`` as indented JSON, atomically. NumPy scalars and arrays and paths are written
    as plain JSON values; NaN and infinity are refused (see :func:`json_text`)."""
    atomic_write_text(path, json_text(obj, indent=2, what=Path(path).name) + "\n")


def json_text(obj, *, indent: int | None = None, ensure_ascii: bool = True, what: str = "JSON output") -> str:
    """``obj`` as standard JSON: every file and ``--json`` output sentibench writes goes through here.

    ``NaN`` and ``Infinity`` are not JSON (a strict reader refuses the file), so they are
    never written: an undefined number is ``None`` (null) where it is made, and one that
    slips through is a bug, raised as a ``ValueError`` that names where it is.
    """
    try:
        return json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii, allow_nan=False, default=_json_default)
    except ValueError as exc:
        where = _non_finite(obj)
        if where is None:
            raise
        raise ValueError(f"{what}: {where[0] or 'the value'} is {where[1]}, which JSON cannot hold") from exc


def refuse_constant(name: str):
    """``parse_constant`` for ``json.loads``: ``NaN``, ``Infinity`` and ``-Infinity`` are
    refused (a ``ValueError``) instead of read as floats."""
    raise ValueError(f"{name} is not a JSON number")


def _non_finite(obj, where: str = ""):
    """``(path, value)`` of the first NaN or infinite float in ``obj``, or None."""
    import numpy as np

    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return where, float(obj)
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f" and not np.isfinite(obj).all():
        return where, float(obj[~np.isfinite(obj)].flat[0])
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = _non_finite(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
