"""Files in the download cache: sizes, removal, and the error for an unwritable cache.

Shared by :mod:`dataset._fetch`, :mod:`dataset._archive` and
:mod:`dataset._download`.
"""

from __future__ import annotations

import logging

from ._errors import DataError

logger = logging.getLogger(__name__)

__all__ = ["CACHE_ENV_VAR", "CHUNK", "file_size", "remove", "write_error"]

#: Environment variable that moves the download cache.
CACHE_ENV_VAR = "SENTIBENCH_CACHE"

#: Bytes per read, when downloading and when hashing.
CHUNK = 1 << 20


def file_size(path):
    """Size of `path` in bytes; 0 when it does not exist."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def remove(*paths):
    """Delete `paths`, ignoring missing ones and only logging other failures."""
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            logger.warning("cannot remove %s: %s", path, err.strerror or err)


def write_error(path, err):
    """One-line :class:`DataError` for an `OSError` while writing `path`."""
    return DataError(
        f"cannot write '{path}': {err.strerror or err}; free disk space or set "
        f"{CACHE_ENV_VAR} to a writable folder"
    )
