"""HTTP download into ``<archive>.part``, resumed with a ``Range`` request.

Retries within one call only after an attempt that received bytes; a ``.part``
left by an interrupted call is resumed by the next one. Every failure becomes a
one-line :class:`DataError`.
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
import urllib.request

from tqdm.auto import tqdm

from ._cachefiles import CHUNK, file_size, remove, write_error
from ._errors import DataError

logger = logging.getLogger(__name__)

__all__ = ["fetch"]

# Seconds without any byte from the server before giving up (per socket
# operation, not for the whole download).
_TIMEOUT = 30
# Attempts within one call; a retry is only made when the previous attempt
# received bytes, so an unreachable server fails at once instead of three times.
_MAX_ATTEMPTS = 3
_USER_AGENT = "sentibench (https://pypi.org/project/sentibench/)"


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


def _open(url, offset):
    """The response to a GET of `url`, from byte `offset` on where it is not 0."""
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=_TIMEOUT)


def _resume_mode(name, url, response, offset):
    """(offset, file mode) at which to write `response` into the .part; None to start over."""
    status = response.status or 200
    if offset and status == 206:
        start, _ = _content_range(response.headers.get("Content-Range"))
        if start != offset:
            # A server that resumes elsewhere than asked would corrupt the
            # file if appended; restart without a range instead.
            logger.warning(
                "server resumed %s at byte %s instead of %d; starting over", url, start, offset
            )
            return None
        logger.info("resuming %s download at %d bytes", name, offset)
        return offset, "ab"
    if offset:
        logger.info("server ignored the range request for %s; starting over", url)
    return 0, "wb"


def _content_length(response):
    """The announced body length of `response`; None where missing or malformed."""
    length = response.headers.get("Content-Length")
    return int(length) if length and length.strip().isdigit() else None


def _write_body(name, part, response, mode, offset, length, verbose):
    """Copy the body of `response` into `part` (opened with `mode`); the number of bytes copied."""
    received = 0
    try:
        fh = open(part, mode)
    except OSError as err:
        raise write_error(part, err) from None
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
            chunk = response.read(CHUNK)
            if not chunk:
                break
            try:
                fh.write(chunk)
            except OSError as err:
                raise write_error(part, err) from None
            received += len(chunk)
            bar.update(len(chunk))
    return received


def _fetch_once(name, url, part, verbose):
    """One HTTP request that appends to (or restarts) `part` until the body ends.

    Raises the underlying network exception on failure; `part` keeps what was
    received so that the next attempt can resume it.
    """
    offset = file_size(part)
    try:
        response = _open(url, offset)
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
        remove(part)
        return _fetch_once(name, url, part, verbose)

    with response:
        resumed = _resume_mode(name, url, response, offset)
        if resumed is None:
            response.close()
            remove(part)
            return _fetch_once(name, url, part, verbose)
        offset, mode = resumed
        length = _content_length(response)
        received = _write_body(name, part, response, mode, offset, length, verbose)
    if length is not None and received < length:
        # http.client usually raises IncompleteRead itself; this covers
        # servers that close cleanly before sending the announced length.
        raise http.client.IncompleteRead(b"", length - received)


def fetch(name, url, part, verbose, place_hint):
    """Download `url` into `part`, resuming after interruptions.

    Parameters
    ----------
    name : str
        Data set name, for messages and the progress bar.
    url : str
        Address of the archive.
    part : pathlib.Path
        Partial file; appended to when it exists and the server honours ranges.
    verbose : bool
        Show a progress bar.
    place_hint : str
        How to place the files by hand, appended to the error message.

    Raises
    ------
    DataError
        On a network failure (after the retries), an HTTP error status, a
        malformed URL or an unwritable `part`; one line.
    """
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        before = file_size(part)
        try:
            _fetch_once(name, url, part, verbose)
            return
        except DataError:
            raise
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
            # ValueError: urllib's "unknown url type" for a malformed URL.
            progressed = file_size(part) > before
            if progressed and attempt < _MAX_ATTEMPTS and not isinstance(
                err, urllib.error.HTTPError
            ):
                logger.warning(
                    "download of %s interrupted after %d bytes (%s); resuming",
                    name, file_size(part), _reason(err),
                )
                continue
            raise DataError(
                f"cannot download {name} from {url}: {_reason(err)}; check your "
                f"connection, or {place_hint}"
            ) from None
