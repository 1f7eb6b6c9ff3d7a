"""Tests for ``dataset._download`` (with ``_fetch`` and ``_archive``): cache, resume, checksums, safe extraction.

Everything is served by a loopback HTTP server with a tiny archive in the
layout of Zhang et al.'s ``yelp_review_polarity_csv.tgz``; nothing touches the
internet.
"""

import dataclasses
import hashlib
import io
import random
import re
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dataset import DataError, load_reviews
from dataset._download import DATASETS, cache_dir, download, resolve_named

from .._helpers import one_line_error, unused_port

FOLDER = "yelp_review_polarity_csv"

# Yelp polarity layout: no header, "label","text", quotes doubled, newlines
# escaped as a backslash + "n" (written raw here on purpose).
TEST_CSV = (
    '"1","Cold soup and the waiter said ""no refunds"".\\nNever again."\n'
    '"2","Best tacos in town!\\n\\nFriendly staff."\n'
    '"1","Rude, slow, overpriced."\n'
)
TRAIN_CSV = (
    '"2","Lovely brunch, ""bottomless"" coffee."\n'
    '"1","Waited an hour.\\nFood was cold."\n'
    '"2","Great value, will return."\n'
    '"1","Dirty tables."\n'
)


def _tgz(members):
    """gzip-compressed tar bytes from {name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _yelp_members(**extra):
    # Incompressible padding makes the archive span several reads, so a cut
    # connection really leaves a partial file behind.
    padding = random.Random(0).randbytes(8192)
    members = {
        f"{FOLDER}/readme.txt": b"tiny stand-in for the Yelp polarity archive\n" + padding,
        f"{FOLDER}/train.csv": TRAIN_CSV.encode(),
        f"{FOLDER}/test.csv": TEST_CSV.encode(),
    }
    members.update(extra)
    return members


ARCHIVE = _tgz(_yelp_members())
#: The real data set's entry, with its published checksum and row counts.
PUBLISHED = DATASETS["yelp-polarity"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Server:
    """Loopback HTTP server for one archive, with Range support and faults."""

    def __init__(self):
        self.files = {"/yelp.tgz": ARCHIVE}
        self.requests = []  # (path, Range header or None)
        self.cut_after = None  # bytes sent before cutting the connection...
        self.cut_times = 0  # ...on this many of the next requests
        self.ignore_range = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and not server.ignore_range:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"
                    )
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.cut_times > 0:
                    server.cut_times -= 1
                    self.wfile.write(payload[: server.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        self.running = True

    def url(self, path="/yelp.tgz"):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self):
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.running = False


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path, monkeypatch, server):
    """Empty cache folder; the Yelp URL points at the loopback server, and the tiny archive
    stands in for the published one (its checksum and row counts are the pinned ones)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SENTIBENCH_CACHE", str(folder))
    monkeypatch.setenv("SENTIBENCH_YELP_URL", server.url())
    monkeypatch.setitem(DATASETS, "yelp-polarity",
                        dataclasses.replace(PUBLISHED, sha256=_sha(ARCHIVE), expected_rows={"train": 4, "test": 3}))
    return folder




# ---------------------------------------------------------------------------
# Download, extract, resolve
# ---------------------------------------------------------------------------


def test_download_extracts_and_resolves_test_split(cache, server):
    folder = download(verbose=True)

    assert folder == cache / FOLDER
    assert (cache / "yelp_review_polarity_csv.tgz").read_bytes() == ARCHIVE
    assert not (cache / "yelp_review_polarity_csv.tgz.part").exists()
    # No temporary extraction folder is left behind.
    assert sorted(p.name for p in cache.iterdir()) == [
        FOLDER, "yelp_review_polarity_csv.tgz", "yelp_review_polarity_csv.tgz.sha256",
    ]
    data = load_reviews(resolve_named("yelp-polarity"))
    assert data.format == "yelp-polarity"
    assert data.labels.tolist() == [0, 1, 0]
    assert data.texts[0] == 'Cold soup and the waiter said "no refunds".\nNever again.'
    assert data.texts[1] == "Best tacos in town!\n\nFriendly staff."


def test_train_split_is_resolved_by_name(cache, server):
    download(verbose=False)
    path = resolve_named("yelp-polarity:train")
    assert path == str(cache / FOLDER / "train.csv")
    data = load_reviews(path)
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.texts[0] == 'Lovely brunch, "bottomless" coffee.'


def test_second_download_does_not_touch_the_network(cache, server):
    first = download(verbose=False)
    server.stop()
    n_requests = len(server.requests)
    assert download(verbose=False) == first
    assert len(server.requests) == n_requests


def test_checksum_is_recorded_and_checked_before_reextracting(cache, server):
    download(verbose=False)
    archive = cache / "yelp_review_polarity_csv.tgz"
    recorded = (cache / "yelp_review_polarity_csv.tgz.sha256").read_text().split()[0]
    assert recorded == hashlib.sha256(ARCHIVE).hexdigest()

    # Extracted folder gone, archive intact: re-extract without downloading.
    for path in (cache / FOLDER).iterdir():
        path.unlink()
    (cache / FOLDER).rmdir()
    n_requests = len(server.requests)
    download(verbose=False)
    assert len(server.requests) == n_requests
    assert (cache / FOLDER / "test.csv").read_text() == TEST_CSV

    # Archive damaged on disk: it no longer matches the record, so it is
    # downloaded again rather than trusted.
    for path in (cache / FOLDER).iterdir():
        path.unlink()
    (cache / FOLDER).rmdir()
    archive.write_bytes(ARCHIVE[:-10] + b"0123456789")
    download(verbose=False)
    assert len(server.requests) == n_requests + 1
    assert archive.read_bytes() == ARCHIVE


def test_url_argument_overrides_environment(cache, server, monkeypatch):
    server.files["/other.tgz"] = ARCHIVE
    monkeypatch.setenv("SENTIBENCH_YELP_URL", f"http://127.0.0.1:{unused_port()}/x.tgz")
    download(url=server.url("/other.tgz"), verbose=False)
    assert server.requests == [("/other.tgz", None)]


def test_cache_dir_follows_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.setenv("SENTIBENCH_CACHE", "~/somewhere")
    assert "~" not in str(cache_dir())
    monkeypatch.delenv("SENTIBENCH_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "sentibench")
    assert cache_dir(tmp_path / "b") == tmp_path / "b"


# ---------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------


def test_interrupted_download_is_resumed_with_range_request(cache, server):
    server.cut_after, server.cut_times = 1000, 1
    download(verbose=False)

    assert [r for _, r in server.requests] == [None, "bytes=1000-"]
    assert (cache / "yelp_review_polarity_csv.tgz").read_bytes() == ARCHIVE
    assert resolve_named("yelp-polarity")


def test_partial_file_from_an_earlier_run_is_resumed(cache, server):
    # Every attempt of the first run is cut: it fails but keeps the .part.
    server.cut_after, server.cut_times = 700, 3
    with pytest.raises(DataError) as excinfo:
        download(verbose=False)
    one_line_error(excinfo, "cannot download yelp-polarity from")
    part = cache / "yelp_review_polarity_csv.tgz.part"
    assert part.read_bytes() == ARCHIVE[:2100]
    assert not (cache / "yelp_review_polarity_csv.tgz").exists()
    assert not (cache / FOLDER).exists()

    download(verbose=False)
    assert server.requests[-1][1] == "bytes=2100-"
    assert (cache / "yelp_review_polarity_csv.tgz").read_bytes() == ARCHIVE
    assert not part.exists()


def test_server_ignoring_range_restarts_from_scratch(cache, server):
    cache.mkdir()
    (cache / "yelp_review_polarity_csv.tgz.part").write_bytes(b"stale bytes")
    server.ignore_range = True
    download(verbose=False)
    assert server.requests[0][1] == "bytes=11-"
    assert (cache / "yelp_review_polarity_csv.tgz").read_bytes() == ARCHIVE


def test_complete_partial_file_is_finished_without_body(cache, server):
    cache.mkdir()
    (cache / "yelp_review_polarity_csv.tgz.part").write_bytes(ARCHIVE)
    download(verbose=False)  # server answers 416 with the full size
    assert (cache / "yelp_review_polarity_csv.tgz").read_bytes() == ARCHIVE


# ---------------------------------------------------------------------------
# Integrity and errors
# ---------------------------------------------------------------------------


def test_wrong_sha256_deletes_download(cache, server):
    with pytest.raises(DataError) as excinfo:
        download(sha256="0" * 64, verbose=False)
    one_line_error(excinfo, "sha256", hashlib.sha256(ARCHIVE).hexdigest())
    assert not cache.exists() or not any(p.name.startswith("yelp_") for p in cache.iterdir())


def test_matching_sha256_is_accepted(cache, server):
    folder = download(sha256=hashlib.sha256(ARCHIVE).hexdigest().upper(), verbose=False)
    assert (folder / "test.csv").is_file()


def test_sha256_is_compared_with_record_for_cached_data(cache, server):
    download(verbose=False)
    server.stop()
    assert download(sha256=hashlib.sha256(ARCHIVE).hexdigest(), verbose=False).is_dir()
    with pytest.raises(DataError) as excinfo:
        download(sha256="f" * 64, verbose=False)
    one_line_error(excinfo, "came from an archive with sha256", "to download again")


def test_malformed_sha256_is_rejected_before_downloading(cache, server):
    with pytest.raises(DataError) as excinfo:
        download(sha256="abc", verbose=False)
    one_line_error(excinfo, "invalid sha256", "64 hexadecimal digits")
    assert server.requests == []


def test_unreachable_url_gives_one_line_error(cache):
    url = f"http://127.0.0.1:{unused_port()}/x.tgz"
    with pytest.raises(DataError) as excinfo:
        download(url=url, verbose=False)
    message = one_line_error(excinfo, "cannot download yelp-polarity from", url)
    assert "check your connection" in message
    assert str(cache / FOLDER) in message


def test_http_error_status_is_reported(cache, server):
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/missing.tgz"), verbose=False)
    one_line_error(excinfo, "cannot download", "HTTP 404")


def test_archive_with_parent_member_is_refused(cache, server, tmp_path):
    server.files["/evil.tgz"] = evil = _tgz(_yelp_members(**{"../evil": b"pwned\n"}))
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/evil.tgz"), sha256=_sha(evil), verbose=False)
    one_line_error(excinfo, "unsafe member '../evil'")
    assert not (tmp_path / "evil").exists()
    assert not (cache / FOLDER).exists()
    assert not (cache / "yelp_review_polarity_csv.tgz").exists()
    assert [p.name for p in cache.iterdir()] == []


def test_archive_with_absolute_member_is_refused(cache, server, tmp_path):
    target = tmp_path / "absolute-evil"
    server.files["/abs.tgz"] = evil = _tgz(_yelp_members(**{str(target): b"pwned\n"}))
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/abs.tgz"), sha256=_sha(evil), verbose=False)
    one_line_error(excinfo, "unsafe member", "absolute path")
    assert not target.exists()


def test_archive_missing_a_split_is_refused(cache, server):
    server.files["/short.tgz"] = short = _tgz({f"{FOLDER}/train.csv": TRAIN_CSV.encode()})
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/short.tgz"), sha256=_sha(short), verbose=False)
    one_line_error(excinfo, f"{FOLDER}/test.csv")
    assert not (cache / FOLDER).exists()


def test_not_an_archive_is_refused(cache, server):
    server.files["/page.tgz"] = page = b"<html>captive portal</html>"
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/page.tgz"), sha256=_sha(page), verbose=False)
    one_line_error(excinfo, "not a valid tar.gz archive")
    assert not (cache / "yelp_review_polarity_csv.tgz").exists()


def test_row_counts_are_checked_for_the_default_url(cache, server, monkeypatch):
    # Pretend the loopback URL is the published one; the pinned checksum applies, so
    # pin the fake archive's.
    fake = dataclasses.replace(PUBLISHED, url=server.url(), sha256=hashlib.sha256(ARCHIVE).hexdigest())
    monkeypatch.setitem(
        DATASETS, "yelp-polarity", dataclasses.replace(fake, expected_rows={"train": 4, "test": 5})
    )
    monkeypatch.delenv("SENTIBENCH_YELP_URL")
    with pytest.raises(DataError) as excinfo:
        download(verbose=False)
    one_line_error(excinfo, "test.csv has 3 rows but 5 were expected")
    assert not (cache / FOLDER).exists()

    monkeypatch.setitem(
        DATASETS, "yelp-polarity", dataclasses.replace(fake, expected_rows={"train": 4, "test": 3})
    )
    assert (download(verbose=False) / "test.csv").is_file()


def test_default_url_download_not_matching_published_sha256_is_deleted(cache, server, monkeypatch):
    # TensorFlow Datasets' url_checksums/yelp_polarity_reviews.txt.
    published = "528f22e286cad085948acbc3bea7e58188416546b0e364d0ae4ca0ce666abe35"
    assert PUBLISHED.sha256 == published
    # The loopback URL stands in for the published one; the pin stays.
    monkeypatch.setitem(DATASETS, "yelp-polarity", dataclasses.replace(PUBLISHED, url=server.url()))
    monkeypatch.delenv("SENTIBENCH_YELP_URL")
    with pytest.raises(DataError) as excinfo:
        download(verbose=False)
    one_line_error(excinfo, hashlib.sha256(ARCHIVE).hexdigest(), f"but {published} was expected", "it was deleted")
    assert [p.name for p in cache.iterdir()] == []


@pytest.mark.parametrize("via", ["url", "environment"])
def test_a_mirror_is_held_to_the_published_sha256(cache, server, monkeypatch, via):
    """A --url (or SENTIBENCH_YELP_URL) mirror serving another archive is refused without
    --sha256: the published checksum applies whatever the address."""
    server.files["/mirror.tgz"] = tampered = _tgz(_yelp_members(**{f"{FOLDER}/extra.txt": b"not the published archive\n"}))
    if via == "environment":
        monkeypatch.setenv("SENTIBENCH_YELP_URL", server.url("/mirror.tgz"))
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/mirror.tgz") if via == "url" else None, verbose=False)
    one_line_error(excinfo, _sha(tampered), f"but {_sha(ARCHIVE)} was expected", "it was deleted",
                   "a mirror must serve the published archive", "--sha256")
    assert [p.name for p in cache.iterdir()] == []
    # Its own checksum names it as another archive (a subset: no published row counts).
    assert (download(url=server.url("/mirror.tgz"), sha256=_sha(tampered), verbose=False) / "extra.txt").is_file()


def test_a_mirror_of_the_published_archive_has_its_rows_counted(cache, server, monkeypatch):
    monkeypatch.setitem(DATASETS, "yelp-polarity", dataclasses.replace(DATASETS["yelp-polarity"], expected_rows={"test": 5}))
    server.files["/mirror.tgz"] = ARCHIVE
    with pytest.raises(DataError) as excinfo:
        download(url=server.url("/mirror.tgz"), verbose=False)
    one_line_error(excinfo, "test.csv has 3 rows but 5 were expected")


def test_partial_folder_is_completed_without_overwriting(cache, server):
    (cache / FOLDER).mkdir(parents=True)
    mine = '"2","My own test row."\n"1","Another."\n'
    (cache / FOLDER / "test.csv").write_text(mine)
    download(verbose=False)
    assert (cache / FOLDER / "test.csv").read_text() == mine
    assert (cache / FOLDER / "train.csv").read_text() == TRAIN_CSV


def test_unknown_dataset_name_lists_known_ones(cache):
    with pytest.raises(DataError) as excinfo:
        download("imdb", verbose=False)
    one_line_error(excinfo, "unknown dataset 'imdb'", "yelp-polarity")


# ---------------------------------------------------------------------------
# resolve_named
# ---------------------------------------------------------------------------


def test_not_downloaded_names_the_download_command(cache):
    with pytest.raises(DataError) as excinfo:
        resolve_named("yelp-polarity:train")
    one_line_error(excinfo, "python -m benchmark data download yelp-polarity")


def test_unknown_split_lists_splits(cache):
    with pytest.raises(DataError) as excinfo:
        resolve_named("yelp-polarity:dev")
    one_line_error(excinfo, "unknown split 'dev'", "train, test")


@pytest.mark.parametrize("source", ["reviews.csv", "data/yelp.csv", "C:\\data\\x.csv", "hf:imdb"])
def test_other_sources_are_not_names(cache, source):
    assert resolve_named(source) is None



@pytest.mark.parametrize("with_data_filter", [True, False])
def test_extracted_files_lose_setuid_and_others_write_bits(cache, server, monkeypatch, with_data_filter):
    """Python < 3.11.4 has no "data" filter: the mode bits it drops are dropped by hand."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in _yelp_members().items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o6777
            tar.addfile(info, io.BytesIO(data))
    server.files["/yelp.tgz"] = buffer.getvalue()
    if not with_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    folder = download(verbose=False, sha256=hashlib.sha256(buffer.getvalue()).hexdigest())
    mode = (folder / "train.csv").stat().st_mode
    assert not mode & 0o6000 and not mode & 0o022, oct(mode)
