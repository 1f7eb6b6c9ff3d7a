"""sentibench's error hierarchy: every mistake a user can make is one of these.

The command line catches :class:`SentibenchError` and prints its message as one line
(exit code 2); anything else is a bug and keeps its traceback. The classes also derive
from the built-in exception a library user would expect (``ValueError``), so
``except ValueError`` keeps working in user code.
"""

from __future__ import annotations

import errno
import re
import sys

__all__ = ["DataError", "ResourceError", "SentibenchError", "UsageError", "excerpt", "machine_limit", "one_line"]

#: Longest message an error carries; longer ones are cut in the middle (the remedy is at the end).
MAX_MESSAGE = 1000

# Every line break str.splitlines knows, plus the spaces around it.
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+\s*")


def one_line(message: object) -> str:
    """``message`` as a single line (embedded line breaks collapsed to spaces), at most
    :data:`MAX_MESSAGE` characters: a value quoted from a 200 MB line stays a short excerpt."""
    text = _LINE_BREAKS.sub(" ", str(message)).strip()
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 300] + " [...] " + text[-290:]
    return text


def excerpt(value: object, limit: int = 60, *, quote: bool = True) -> str:
    """A short excerpt of user data for a message: ``'first words…'`` (quoted with repr)."""
    text = str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text) if quote else text


class SentibenchError(Exception):
    """Base of every error caused by input (data, files, command line), not by a bug.

    The message is always one line that names the problem and its fix.
    """

    def __init__(self, message: object = ""):
        # Pandas and other libraries put line breaks in the messages we quote, and
        # values quoted from a file may hold any break str.splitlines knows.
        super().__init__(one_line(message))


class DataError(SentibenchError, ValueError):
    """A data file cannot be used, with a one-line message saying how to fix it.

    The message names the offending file and ends with the remedy (a command-line flag
    to pass, or how to re-save the file), so the CLI can print it verbatim.
    """


class UsageError(SentibenchError, ValueError):
    """A mistake in the command line, a config file or hyperparameter values."""


class ResourceError(SentibenchError):
    """The machine ran out of memory or disk space: not a bug, and not the user's mistake
    either, so one line that says what ran out and what was kept."""


#: OSError numbers that mean a full disk (or quota), a file-size limit, no memory.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def machine_limit(exc: BaseException) -> str | None:
    """What ``exc`` says ran out ("memory", "disk space"), or None when it is something else.

    Memory: ``MemoryError`` (NumPy's allocation errors derive from it), an ``OSError`` with
    ``ENOMEM``, and PyTorch's allocator failures, which are ``RuntimeError``s (``ulimit -v``
    makes the CPU allocator fail) or ``torch.OutOfMemoryError`` (a GPU).
    """
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError):
        if exc.errno in _NO_SPACE:
            return "disk space"
        return "memory" if exc.errno == errno.ENOMEM else None
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom is not None and isinstance(exc, oom):
        return "memory"
    # "DefaultCPUAllocator: can't allocate memory" (torch 2), "...: not enough memory" (older)
    if isinstance(exc, RuntimeError) and "DefaultCPUAllocator" in str(exc) and "memory" in str(exc):
        return "memory"
    return None
