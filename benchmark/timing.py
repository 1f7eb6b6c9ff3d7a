"""Honest timings: ``time.perf_counter``, warm-up calls dropped, medians over many calls."""

from __future__ import annotations

import math
import resource
import sys
import time
from contextlib import contextmanager

import numpy as np
from tqdm.auto import tqdm


@contextmanager
def stopwatch():
    """Measure wall-clock seconds of a block: ``with stopwatch() as t: ...; t()``."""
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end if end is not None else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def format_ms(ms: float) -> str:
    """Milliseconds for tables and sentences: two decimals, or two significant digits
    below 0.1 ms, so a classical model's microseconds do not all read as 0.01."""
    if not ms or not math.isfinite(ms) or ms >= 0.1:
        return f"{ms:.2f}"
    return f"{ms:.{1 - math.floor(math.log10(abs(ms)))}f}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux, bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure_latency(predict_one, texts, *, n_calls=100, warmup=5, desc="latency", verbose=True) -> dict:
    """Single-review latency of ``predict_one([text])``.

    ``warmup`` calls are made and discarded first (lazy initialisation, caches), then
    ``n_calls`` timed calls cycle through ``texts`` so that different review lengths
    are sampled.

    Returns
    -------
    dict
        ``latency_p50_ms``, ``latency_p95_ms``, ``latency_mean_ms``, ``latency_calls``.
    """
    if not texts:
        raise ValueError("need at least one text to time")
    for i in range(warmup):
        predict_one([texts[i % len(texts)]])
    samples = np.empty(n_calls)
    for i in tqdm(range(n_calls), desc=desc, leave=False, disable=not verbose):
        text = [texts[i % len(texts)]]
        start = time.perf_counter()
        predict_one(text)
        samples[i] = time.perf_counter() - start
    ms = samples * 1000
    return {
        "latency_p50_ms": float(np.percentile(ms, 50)),
        "latency_p95_ms": float(np.percentile(ms, 95)),
        "latency_mean_ms": float(ms.mean()),
        "latency_calls": int(n_calls),
    }


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak resident memory (MiB) of this process during a ``with`` block.

    A background thread samples ``/proc/self/statm`` every ``interval`` seconds (Linux);
    elsewhere the process-wide peak (``getrusage``) is reported instead, which can only
    grow from block to block.
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak_mb: float | None = None

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _rss_bytes() or 0)

    def __enter__(self):
        import threading

        self._peak = _rss_bytes() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        current = _rss_bytes()
        if current is None:
            self.peak_mb = peak_rss_mb()
        else:
            self.peak_mb = max(self._peak, current) / (1024 * 1024)
        return False


class PeakGpuMemory:
    """Peak GPU memory (MiB) torch allocated during a ``with`` block; ``peak_mb`` stays
    None where no GPU is in use (torch not imported, or no CUDA)."""

    def __init__(self):
        self.peak_mb: float | None = None

    def _torch(self):
        import sys

        torch = sys.modules.get("torch")  # never imported just to find that there is no GPU
        return torch if torch is not None and torch.cuda.is_available() else None

    def __enter__(self):
        torch = self._torch()
        if torch is not None:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc):
        torch = self._torch()
        if torch is not None:
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / (1024 * 1024)
        return False


def folder_size_mb(path) -> float:
    """Total size of the files under ``path`` in MiB."""
    from pathlib import Path

    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / (1024 * 1024)
