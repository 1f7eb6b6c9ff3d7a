"""``python -m benchmark serve RUN_DIR --measure``: every saved classifier of a run as deployed.

Each saved classifier in turn is served by a real ``sentibench serve`` process on a free
loopback port (the batching and limits given on the command line), load-tested by
:func:`~benchmark.serve.loadtest.loadtest` at each concurrency, and stopped; one at a time,
so that no two servers share the machine. The figures go to ``deployed.json`` in the run
folder (written once, at the end: an interrupted measurement leaves the folder as it was),
and the report gains its "As deployed" section from them.

Its shape::

    format          DEPLOYED_FORMAT
    run_id          the run it belongs to
    cpu, cores      the machine measured on (figures of two machines are never compared)
    data, duration_s, concurrency
                    the reviews sent, the seconds per level, the levels
    classifiers     name -> {batching, levels: [{concurrency, requests, errors, p50_ms, p95_ms,
                    p99_ms, throughput_rps, seconds}]}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dataset import UsageError, atomic_write_json

from ..schema import RunFolderError, load_results

logger = logging.getLogger(__name__)

__all__ = ["DEPLOYED_FILE", "load_deployed", "measure_deployed"]

DEPLOYED_FILE = "deployed.json"
DEPLOYED_FORMAT = 1
#: Seconds a server may take to load its model and answer /health (a bert choosing nothing,
#: building its ONNX Runtime session on a slow machine, takes well under a minute).
STARTUP_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _last_line(log) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _wait_until_up(process, url: str, log, name: str) -> None:
    import httpx

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(f"serving {name} failed: {_last_line(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise UsageError(f"serving {name}: no answer on {url}/health after {STARTUP_TIMEOUT_S} s")


@contextlib.contextmanager
def served(run_dir, name: str, serve_args: list[str]):
    """The base URL of ``sentibench serve RUN_DIR --classifier NAME`` on a free loopback port,
    stopped (SIGTERM, then SIGKILL) when the block ends, however it ends."""
    url_port = _free_port()
    command = [sys.executable, "-m", "benchmark", "-q", "serve", str(run_dir), "--classifier", name,
               "--host", "127.0.0.1", "--port", str(url_port), *serve_args]
    env = {k: v for k, v in os.environ.items() if k != "SENTIBENCH_API_KEY"}  # loopback: no key needed
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            url = f"http://127.0.0.1:{url_port}"
            _wait_until_up(process, url, log, name)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure_deployed(run_dir, names: list[str], serve_args: list[str], texts: list[str], data: str,
                     concurrency: list[int], duration: float) -> dict:
    """Serve and load-test each of ``names`` in turn; write and return ``deployed.json``."""
    from ..environment import cpu_model
    from .loadtest import format_loadtest, loadtest

    run_dir = Path(run_dir)
    record = {"format": DEPLOYED_FORMAT, "run_id": load_results(run_dir).get("run_id"), "cpu": cpu_model(),
              "cores": os.cpu_count(), "data": data, "duration_s": duration,
              "concurrency": list(concurrency), "classifiers": {}}
    for name in names:
        logger.info("as deployed: serving %s and loading it at %s clients", name, ", ".join(map(str, concurrency)))
        with served(run_dir, name, serve_args) as url:
            result = loadtest(url, texts, concurrency, duration)
        record["classifiers"][name] = {"batching": result["batching"], "levels": result["levels"]}
        print(format_loadtest({**result, "classifier": name}, record["cpu"]), flush=True)
    atomic_write_json(run_dir / DEPLOYED_FILE, record)
    return record


_LEVEL_KEYS = ("concurrency", "requests", "errors", "p50_ms", "p95_ms", "p99_ms", "throughput_rps")


def _is_figure(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _check_levels(levels) -> None:
    if not isinstance(levels, list):
        raise TypeError("a classifier without its levels")
    for level in levels:
        if not (isinstance(level, dict) and all(_is_figure(level.get(k, "missing")) for k in _LEVEL_KEYS)):
            raise TypeError("a level whose figures are missing or not numbers")


def _check(record) -> None:
    if not isinstance(record, dict) or record.get("format") != DEPLOYED_FORMAT:
        raise TypeError("not a deployed.json of this sentibench")
    if not isinstance(record.get("classifiers"), dict) or not isinstance(record.get("concurrency"), list):
        raise TypeError("no classifiers or concurrency")
    for entry in record["classifiers"].values():
        _check_levels(entry.get("levels") if isinstance(entry, dict) else None)


def load_deployed(run_dir) -> dict | None:
    """``deployed.json`` of a run folder, checked; ``None`` where there is none."""
    path = Path(run_dir) / DEPLOYED_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        _check(record)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{path} is damaged ({type(exc).__name__}: {exc}); measure again with 'serve --measure'") from None
    return record
