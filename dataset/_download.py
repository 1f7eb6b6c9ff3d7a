"""Download public review data sets into a local cache folder.

Only Zhang et al. (2015) Yelp Review Polarity is known for now. The archive is
streamed to ``<archive>.part`` (resumed with an HTTP ``Range`` request when a
download was interrupted), renamed only once complete, checked, and extracted
through a temporary folder, so that neither an interrupted download nor an
interrupted extraction ever leaves something that looks finished.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import logging
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm.auto import tqdm

from ._errors import DataError

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_ENV_VAR",
    "DATASETS",
    "DatasetSpec",
    "cache_dir",
    "download",
    "resolve_named",
]

#: Environment variable that moves the download cache.
CACHE_ENV_VAR = "SENTIBENCH_CACHE"
#: Cache folder used when :data:`CACHE_ENV_VAR` is unset or empty.
DEFAULT_CACHE_DIR = "~/.cache/sentibench"

#: Command shown to users whose data set is not downloaded yet.
DOWNLOAD_COMMAND = "python -m benchmark data download {name}"

# Seconds without any byte from the server before giving up (per socket
# operation, not for the whole download).
_TIMEOUT = 30
_CHUNK = 1 << 20
# Attempts within one call; a retry is only made when the previous attempt
# received bytes, so an unreachable server fails at once instead of three times.
_MAX_ATTEMPTS = 3
_USER_AGENT = "sentibench (https://pypi.org/project/sentibench/)"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set is published and what its archive must contain.

    Parameters
    ----------
    url : str
        Default download address of the ``.tgz`` archive.
    archive : str
        File name of the archive in the cache folder.
    folder : str
        Top-level folder inside the archive; extracted to ``<cache>/<folder>``.
    splits : dict of {str: str}
        Split name -> CSV file name inside `folder`.
    sha256 : str, optional
        Published checksum of the archive at `url`. When None, integrity is
        checked by opening the archive instead, and the checksum of the first
        good download is recorded in ``<archive>.sha256`` for later uses.
    expected_rows : dict of {str: int}
        Split name -> number of CSV rows, checked after extracting a download
        from the default `url` (a custom URL may serve a subset).
    url_env : str, optional
        Environment variable that overrides `url`.
    """

    url: str
    archive: str
    folder: str
    splits: dict
    sha256: str | None = None
    expected_rows: dict = field(default_factory=dict)
    url_env: str | None = None


#: Data sets that :func:`download` knows, by name.
DATASETS = {
    "yelp-polarity": DatasetSpec(
        url="https://s3.amazonaws.com/fast-ai-nlp/yelp_review_polarity_csv.tgz",
        archive="yelp_review_polarity_csv.tgz",
        folder="yelp_review_polarity_csv",
        splits={"train": "train.csv", "test": "test.csv"},
        # The published checksum cannot be confirmed from here; the first good
        # download's checksum is recorded next to the archive instead.
        sha256=None,
        expected_rows={"train": 560000, "test": 38000},
        url_env="SENTIBENCH_YELP_URL",
    ),
}

# The seed notebook evaluates on the test split, so a bare name means that.
_DEFAULT_SPLIT = "test"


def cache_dir(cache=None) -> Path:
    """Folder that holds downloaded archives and extracted data sets.

    Parameters
    ----------
    cache : str or path-like, optional
        Explicit folder; wins when given.

    Returns
    -------
    pathlib.Path
        `cache`, else ``$SENTIBENCH_CACHE``, else ``~/.cache/sentibench``,
        with ``~`` expanded. Read at call time, so a changed environment
        (tests, notebooks) is honoured.
    """
    if cache is not None and str(cache).strip():
        return Path(cache).expanduser()
    return Path(os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE_DIR).expanduser()


def _get_spec(name):
    spec = DATASETS.get(str(name).strip().lower())
    if spec is None:
        raise DataError(
            f"unknown dataset '{name}'; known datasets: {', '.join(sorted(DATASETS))}"
        )
    return spec


def _source_url(spec, url):
    if url is not None and str(url).strip():
        return str(url).strip()
    if spec.url_env:
        from_env = (os.environ.get(spec.url_env) or "").strip()
        if from_env:
            return from_env
    return spec.url


def _is_extracted(spec, folder):
    return all(
        (folder / filename).is_file() and (folder / filename).stat().st_size > 0
        for filename in spec.splits.values()
    )


def _place_hint(spec, root):
    files = "/".join(spec.splits.values())
    return f"place {files} in {root / spec.folder}{os.sep}"


def _checksum_file(archive):
    return archive.with_name(archive.name + ".sha256")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_sha256(archive):
    try:
        text = _checksum_file(archive).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    # Same layout as sha256sum's output: "<hex>  <file name>".
    match = re.match(r"\s*([0-9a-fA-F]{64})\b", text)
    return match.group(1).lower() if match else None


def _record_sha256(archive, digest):
    target = _checksum_file(archive)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(f"{digest}  {archive.name}\n", encoding="ascii")
        os.replace(tmp, target)
    except OSError as err:
        # The data is usable without the record; only later checks are lost.
        logger.warning("cannot record checksum in %s: %s", target, err.strerror or err)


def _remove(*paths):
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            logger.warning("cannot remove %s: %s", path, err.strerror or err)


def _normalise_sha256(value, name):
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise DataError(
            f"invalid sha256 for {name}: {value!r}; pass the 64 hexadecimal digits "
            "of the archive's SHA-256 checksum"
        )
    return text


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


def _reason(err):
    """Short human-readable cause of a network error (no newlines)."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror
        return str(reason)
    if isinstance(err, TimeoutError):
        return f"no response within {_TIMEOUT} s"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _content_range(value):
    """(start, total) from a ``Content-Range`` header; None where unknown."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return start, total


def _size(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _write_error(path, err):
    return DataError(
        f"cannot write '{path}': {err.strerror or err}; free disk space or set "
        f"{CACHE_ENV_VAR} to a writable folder"
    )


def _fetch_once(name, url, part, verbose):
    """One HTTP request that appends to (or restarts) `part` until the body ends.

    Raises the underlying network exception on failure; `part` keeps what was
    received so that the next attempt can resume it.
    """
    offset = _size(part)
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not offset:
            raise
        # "Range not satisfiable": the .part already holds the whole file, or
        # it is longer than the file now served; only the first can be kept.
        _, total = _content_range(err.headers.get("Content-Range"))
        err.close()
        if total == offset:
            logger.info("%s is already complete (%d bytes)", part, offset)
            return
        logger.warning("cannot resume %s (server refused the range); starting over", part)
        _remove(part)
        return _fetch_once(name, url, part, verbose)

    with response:
        status = response.status or 200
        if offset and status == 206:
            start, _ = _content_range(response.headers.get("Content-Range"))
            if start != offset:
                # A server that resumes elsewhere than asked would corrupt the
                # file if appended; restart without a range instead.
                logger.warning(
                    "server resumed %s at byte %s instead of %d; starting over", url, start, offset
                )
                response.close()
                _remove(part)
                return _fetch_once(name, url, part, verbose)
            mode = "ab"
            logger.info("resuming %s download at %d bytes", name, offset)
        else:
            if offset:
                logger.info("server ignored the range request for %s; starting over", url)
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        received = 0
        try:
            fh = open(part, mode)
        except OSError as err:
            raise _write_error(part, err) from None
        with fh, tqdm(
            total=None if length is None else offset + length,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"downloading {name}",
            disable=not verbose,
            leave=False,
        ) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                try:
                    fh.write(chunk)
                except OSError as err:
                    raise _write_error(part, err) from None
                received += len(chunk)
                bar.update(len(chunk))
    if length is not None and received < length:
        # http.client usually raises IncompleteRead itself; this covers
        # servers that close cleanly before sending the announced length.
        raise http.client.IncompleteRead(b"", length - received)


def _fetch(name, url, part, verbose, place_hint):
    """Download `url` into `part`, resuming after interruptions."""
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        before = _size(part)
        try:
            _fetch_once(name, url, part, verbose)
            return
        except DataError:
            raise
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
            # ValueError: urllib's "unknown url type" for a malformed URL.
            progressed = _size(part) > before
            if progressed and attempt < _MAX_ATTEMPTS and not isinstance(
                err, urllib.error.HTTPError
            ):
                logger.warning(
                    "download of %s interrupted after %d bytes (%s); resuming",
                    name, _size(part), _reason(err),
                )
                continue
            raise DataError(
                f"cannot download {name} from {url}: {_reason(err)}; check your "
                f"connection, or {place_hint}"
            ) from None


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
    _remove(archive, _checksum_file(archive))
    return DataError(
        f"cannot extract {name} from '{archive}': {detail}; the archive was deleted, "
        f"download it again or {hint}"
    )


def _extract(name, spec, archive, root, *, check_rows, hint):
    """Check and extract `archive` so that ``root / spec.folder`` holds every split."""
    wanted = {posixpath.join(spec.folder, f) for f in spec.splits.values()}
    target = root / spec.folder
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder}-", dir=root))
    except OSError as err:
        raise _write_error(root, err) from None
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    problem = _unsafe_member(member)
                    if problem:
                        detail = f"refusing unsafe member '{member.name}' ({problem})"
                        raise _corrupt(name, archive, detail, hint)
                present = {posixpath.normpath(m.name) for m in members if m.isfile()}
                missing = sorted(wanted - present)
                if missing:
                    raise _corrupt(name, archive, f"it lacks {', '.join(missing)}", hint)
                logger.info("extracting %s to %s", archive, target)
                # The "data" filter (Python >= 3.11.4) re-checks what
                # _unsafe_member checked; older Pythons rely on the latter.
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, members=members, **extra)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise _corrupt(name, archive, f"not a valid tar.gz archive ({err})", hint) from None
        except OSError as err:
            raise _write_error(tmp, err) from None

        staged = tmp / spec.folder
        if check_rows:
            for split, filename in spec.splits.items():
                expected = spec.expected_rows.get(split)
                if expected is None:
                    continue
                rows = _count_rows(staged / filename)
                if rows != expected:
                    raise _corrupt(
                        name, archive,
                        f"{filename} has {rows} rows but {expected} were expected", hint,
                    )
        if not target.exists():
            # One rename: the folder appears complete or not at all.
            os.replace(staged, target)
        else:
            # A partial folder (e.g. one CSV placed by hand): fill in only what
            # is missing, each file atomically, never overwriting the user's.
            for filename in spec.splits.values():
                if not (target / filename).is_file() or (target / filename).stat().st_size == 0:
                    os.replace(staged / filename, target / filename)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def download(
    name: str = "yelp-polarity",
    *,
    cache=None,
    url: str | None = None,
    sha256: str | None = None,
    verbose: bool = True,
) -> Path:
    """Download and extract a known data set into the cache, once.

    Parameters
    ----------
    name : str, default="yelp-polarity"
        Key of :data:`DATASETS`.
    cache : str or path-like, optional
        Cache folder; see :func:`cache_dir`.
    url : str, optional
        Download address; defaults to the data set's environment variable
        (``SENTIBENCH_YELP_URL`` for Yelp) and then to its published URL.
    sha256 : str, optional
        Expected SHA-256 of the archive. A download that does not match is
        deleted. Without it, the published checksum (if known) is used for the
        default URL, and otherwise the archive is checked by opening it.
    verbose : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    pathlib.Path
        The extracted folder, holding one CSV per split in the Yelp polarity
        format (see :func:`dataset.load_reviews`).

    Raises
    ------
    DataError
        Unknown `name`, network failure, checksum mismatch, a corrupt or unsafe
        archive, or an unwritable cache; always one line with the fix.

    Notes
    -----
    Already extracted data returns at once without touching the network; a
    given `sha256` is then compared with the checksum recorded when the
    archive was downloaded (if there is one), since the archive itself may
    have been deleted to save space. An interrupted download is kept as
    ``<archive>.part`` and resumed with an HTTP ``Range`` request, both
    within this call and by a later call.
    """
    spec = _get_spec(name)
    name = str(name).strip().lower()
    root = cache_dir(cache)
    source = _source_url(spec, url)
    target = root / spec.folder
    archive = root / spec.archive
    hint = _place_hint(spec, root)
    wanted_sha = _normalise_sha256(sha256, name) if sha256 is not None else None

    if _is_extracted(spec, target):
        recorded = _recorded_sha256(archive)
        if wanted_sha and recorded and recorded != wanted_sha:
            raise DataError(
                f"the cached {name} in {target} came from an archive with sha256 {recorded}, "
                f"not {wanted_sha}; delete {target} and {archive} to download again"
            )
        logger.info("%s is already downloaded in %s", name, target)
        return target

    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _write_error(root, err) from None

    custom = source != spec.url
    # The published checksum describes the published file only.
    expected = wanted_sha or (None if custom else spec.sha256)

    if archive.is_file():
        known = expected or _recorded_sha256(archive)
        if known:
            actual = _sha256(archive)
            if actual != known:
                logger.warning(
                    "%s has sha256 %s, expected %s; downloading it again", archive, actual, known
                )
                _remove(archive, _checksum_file(archive))

    if not archive.is_file():
        part = archive.with_name(archive.name + ".part")
        logger.info("downloading %s from %s to %s", name, source, archive)
        _fetch(name, source, part, verbose, hint)
        actual = _sha256(part)
        if expected and actual != expected:
            _remove(part)
            raise DataError(
                f"download of {name} from {source} has sha256 {actual} but {expected} was "
                "expected; it was deleted: check the URL and the checksum, then download again"
            )
        os.replace(part, archive)
        # A stale record from an earlier archive must not judge this one.
        _remove(_checksum_file(archive))

    _extract(name, spec, archive, root, check_rows=not custom, hint=hint)
    if _recorded_sha256(archive) is None:
        _record_sha256(archive, _sha256(archive))
    logger.info("%s is ready in %s", name, target)
    return target


def resolve_named(source: str, *, cache=None) -> str | None:
    """Path of a downloaded data set's CSV, for names like ``"yelp-polarity:train"``.

    Parameters
    ----------
    source : str
        ``NAME`` (the test split, as in the seed notebook) or ``NAME:SPLIT``,
        where NAME is a key of :data:`DATASETS`. Anything else is left alone.
    cache : str or path-like, optional
        Cache folder; see :func:`cache_dir`.

    Returns
    -------
    str or None
        Path of the cached CSV, or None when `source` is not a known data set
        name (the caller then treats it as a file path).

    Raises
    ------
    DataError
        If the split is unknown or the data set is not downloaded yet.
    """
    name, sep, split = str(source).strip().partition(":")
    key = name.strip().lower()
    if key not in DATASETS:
        return None
    spec = DATASETS[key]
    split = split.strip().lower() if sep else _DEFAULT_SPLIT
    if split not in spec.splits:
        raise DataError(
            f"unknown split '{split}' for {key}; choose one of: "
            f"{', '.join(spec.splits)} (e.g. {key}:{next(iter(spec.splits))})"
        )
    path = cache_dir(cache) / spec.folder / spec.splits[split]
    if not path.is_file():
        raise DataError(
            f"{key} is not downloaded (no {path}); run: {DOWNLOAD_COMMAND.format(name=key)}"
        )
    return str(path)
