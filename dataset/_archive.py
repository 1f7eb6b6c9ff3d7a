"""Checking a downloaded archive and extracting it safely.

Checksums: SHA-256 of a file, and the record ``<archive>.sha256`` (the layout
of ``sha256sum``) that keeps the checksum of the first good download. Safe
extraction: links, special files, absolute paths and ``..`` are refused, and
everything is extracted into a temporary folder first, so that an interrupted
extraction never leaves something that looks finished.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from ._cachefiles import CHUNK, remove, write_error
from ._errors import DataError
from ._io import atomic_write_text

logger = logging.getLogger(__name__)

__all__ = [
    "checksum_file",
    "extract",
    "file_sha256",
    "normalise_sha256",
    "record_sha256",
    "recorded_sha256",
]


# ---------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------


def checksum_file(archive):
    """Where the checksum of `archive` is recorded: ``<archive>.sha256``."""
    return archive.with_name(archive.name + ".sha256")


def file_sha256(path):
    """SHA-256 of the file at `path`, as 64 lower-case hexadecimal digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_sha256(archive):
    """Checksum recorded for `archive`, or None if there is no readable record."""
    try:
        text = checksum_file(archive).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    # Same layout as sha256sum's output: "<hex>  <file name>".
    match = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    return match.group(1).lower() if match else None


def record_sha256(archive, digest):
    """Record `digest` as the checksum of `archive` (atomically)."""
    target = checksum_file(archive)
    try:
        atomic_write_text(target, f"{digest}  {archive.name}\n")
    except OSError as err:
        # The data is usable without the record; only later checks are lost.
        logger.warning("cannot record checksum in %s: %s", target, err.strerror or err)


def normalise_sha256(value, name):
    """`value` as 64 lower-case hexadecimal digits; :class:`DataError` otherwise."""
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise DataError(
            f"invalid sha256 for {name}: {value!r}; pass the 64 hexadecimal digits "
            "of the archive's SHA-256 checksum"
        )
    return text


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------


def _unsafe_member(member):
    """Why a tar member must not be extracted, or None if it is harmless."""
    name = member.name
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or (
        PureWindowsPath(name).drive
    ):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' in path"
    if member.issym() or member.islnk():
        # The published archive has none, and a link could point anywhere.
        return "link"
    if not (member.isfile() or member.isdir()):
        return "special file"
    return None


def _count_rows(path):
    # csv.reader, not a line count: a quoted field could hold a raw newline.
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return sum(1 for _ in csv.reader(fh))


def _corrupt(name, archive, detail, hint):
    remove(archive, checksum_file(archive))
    return DataError(
        f"cannot extract {name} from '{archive}': {detail}; the archive was deleted, "
        f"download it again or {hint}"
    )


def extract(name, spec, archive, root, *, check_rows, hint):
    """Check and extract `archive` so that ``root / spec.folder`` holds every split.

    Parameters
    ----------
    name : str
        Data set name, for messages.
    spec : DatasetSpec
        What the archive must contain.
    archive : pathlib.Path
        The downloaded ``.tgz``; deleted (with its checksum record) when it is
        corrupt, unsafe or incomplete.
    root : pathlib.Path
        Cache folder.
    check_rows : bool
        Compare each split's row count with ``spec.expected_rows``.
    hint : str
        How to place the files by hand, appended to error messages.
    """
    target = root / spec.folder
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder}-", dir=root))
    except OSError as err:
        raise write_error(root, err) from None
    try:
        _extract_checked(name, spec, archive, tmp, hint)
        staged = tmp / spec.folder
        if check_rows:
            _check_rows(name, spec, archive, staged, hint)
        _move_into_place(spec, staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_checked(name, spec, archive, tmp, hint):
    """Every member checked first (no unsafe one, no wanted file missing), then extracted into ``tmp``."""
    wanted = {posixpath.join(spec.folder, f) for f in spec.splits.values()}
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                problem = _unsafe_member(member)
                if problem:
                    raise _corrupt(name, archive, f"refusing unsafe member '{member.name}' ({problem})", hint)
            missing = sorted(wanted - {posixpath.normpath(m.name) for m in members if m.isfile()})
            if missing:
                raise _corrupt(name, archive, f"it lacks {', '.join(missing)}", hint)
            logger.info("extracting %s to %s", archive, tmp.parent / spec.folder)
            # The "data" filter (Python >= 3.11.4) re-checks what _unsafe_member checked;
            # older Pythons rely on the latter, and get the modes it would give (no
            # setuid/setgid/sticky, no group or others' write, owner read/write) here, and
            # lose owners as root would keep them.
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            if not extra:
                for member in members:
                    member.mode = (member.mode & 0o755) | (0o600 if member.isfile() else 0o700)
                    member.uid = member.gid = -1
                    member.uname = member.gname = ""
            tar.extractall(tmp, members=members, **extra)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise _corrupt(name, archive, f"not a valid tar.gz archive ({err})", hint) from None
    except OSError as err:
        raise write_error(tmp, err) from None


def _check_rows(name, spec, archive, staged, hint):
    for split, filename in spec.splits.items():
        expected = spec.expected_rows.get(split)
        if expected is not None and (rows := _count_rows(staged / filename)) != expected:
            raise _corrupt(name, archive, f"{filename} has {rows} rows but {expected} were expected", hint)


def _move_into_place(spec, staged, target):
    try:
        if not target.exists():
            # One rename: the folder appears complete or not at all.
            os.replace(staged, target)
            return
        # A partial folder (e.g. one CSV placed by hand): fill in only what is missing,
        # each file atomically, never overwriting the user's.
        for filename in spec.splits.values():
            if not (target / filename).is_file() or (target / filename).stat().st_size == 0:
                os.replace(staged / filename, target / filename)
    except OSError as err:
        raise write_error(target, err) from None
