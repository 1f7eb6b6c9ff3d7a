"""What the command line settles before it does any work: whose packages these are,
how much to log, and whether progress bars make sense."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

#: sentibench's top-level packages. Unrelated PyPI projects use the same import names.
OWN_PACKAGES = ("benchmark", "classifiers", "dataset")
_MARKER = "__sentibench_package__"
#: Loggers of our own packages; libraries (gensim logs every epoch) only warn.
_OWN_LOGGERS = ("benchmark", "classifiers", "dataset")


def foreign_package_problem() -> str | None:
    """A one-line message when another distribution owns one of our import names.

    PyPI has unrelated ``dataset``, ``benchmark`` and ``classifiers`` packages; installing
    one next to sentibench overwrites or shadows ours. Each of our ``__init__.py`` files
    carries a marker, read here without importing anything (the foreign package may not
    even import), so this runs before sentibench imports its own packages.
    """
    for name in OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        try:
            ours = origin is not None and _MARKER in Path(origin).read_text(encoding="utf-8", errors="replace")
        except OSError:
            ours = False
        if not ours:
            return (
                f"the import name '{name}' resolves to {_owner(name, origin)}, not to sentibench's package; "
                f"install sentibench in a virtual environment of its own (python3 -m venv .venv), "
                f"or pip uninstall the other project and reinstall sentibench"
            )
    return None


def _owner(name: str, origin: str | None) -> str:
    from importlib import metadata

    if origin is None:
        return "nothing (sentibench's package is missing)"
    others = [d for d in metadata.packages_distributions().get(name, []) if d.lower() != "sentibench"]
    versions = []
    for dist in dict.fromkeys(others):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(dist)
    return f"another project ({', '.join(versions)}, {origin})" if versions else f"another package ({origin})"


def show_progress_bars(quiet: bool) -> bool:
    """Bars only for a person watching a terminal: not with ``-q``, not when stderr is
    a file or a pipe (a log must read top to bottom), not with ``TQDM_DISABLE`` set."""
    disabled = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")
    return not quiet and not disabled and sys.stderr.isatty()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the message (a test's capture,
    a redirected file), never to a stream remembered from earlier."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class _TerminalSafeFormatter(logging.Formatter):
    """Log lines carry names and labels from the user's data: each line's control characters
    are written as escapes (``\\x1b``), so that data cannot clear, recolour or retitle the
    terminal. Line breaks (a traceback's) stay."""

    def format(self, record: logging.LogRecord) -> str:
        from dataset import terminal_safe  # not at the top: foreign_package_problem runs before our packages load

        return "\n".join(terminal_safe(line) for line in super().format(record).split("\n"))


def configure_logging(level: str) -> None:
    """One handler on stderr: timestamped lines, our packages at ``level``, libraries at
    WARNING (INFO with ``-v``). Calling it again replaces the handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_TerminalSafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.INFO if level == "DEBUG" else logging.WARNING)  # -v: libraries speak at INFO too
    for name in _OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    # transformers prints its own notes to stderr; keep them to errors.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
