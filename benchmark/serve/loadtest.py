"""``python -m benchmark loadtest URL``: latency and throughput of a server as deployed.

A closed-loop load generator: at each concurrency, that many clients send one real review per
request to ``URL/predict``, each sending its next request once it has the answer, for
``duration`` seconds, after one untimed request each (connections opened, caches warm). It
reports per concurrency the requests answered, the errors, p50/p95/p99 latency and throughput.

It is httpx on asyncio rather than locust: locust runs on gevent, which monkey-patches the
sockets and threads of the process that imports it (and so everything else sentibench runs
beside it); httpx is already sentibench's HTTP client (the llm classifier), and one asyncio
loop drives 64 clients with little CPU. The generator shares the machine with the server it
measures: on a machine of few cores, run the server with ``--workers 1``, and read the figures
as what one machine serving itself would see.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from dataset import UsageError, terminal_safe

__all__ = ["loadtest", "format_loadtest"]


async def _client(http, url: str, texts: list[str], start: int, stride: int, stop_at: float, into: dict,
                  most: int | None = None) -> None:
    """One client: requests one after another until ``stop_at`` (or ``most`` of them)."""
    i = start
    while time.perf_counter() < stop_at and (most is None or (i - start) // stride < most):
        text = texts[i % len(texts)]
        i += stride
        began = time.perf_counter()
        try:
            ok = (await http.post(url, json={"texts": [text]})).status_code == 200
        except Exception:  # noqa: BLE001 - a refused, reset or timed-out request is an error of the server's
            ok = False
        into["latencies" if ok else "errors"].append(time.perf_counter() - began)


async def _level(url: str, texts: list[str], concurrency: int, duration: float, headers: dict) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as http:
        warm = {"latencies": [], "errors": []}
        await asyncio.gather(*(_client(http, url, texts, k, concurrency, float("inf"), warm, most=1)
                               for k in range(concurrency)))  # one untimed request each
        got: dict = {"latencies": [], "errors": []}
        began = time.perf_counter()
        await asyncio.gather(*(_client(http, url, texts, k, concurrency, began + duration, got) for k in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies_ms = np.asarray(got["latencies"]) * 1000
    quantile = (lambda q: round(float(np.percentile(latencies_ms, q)), 3)) if len(latencies_ms) else (lambda q: None)
    return {"concurrency": concurrency, "requests": len(latencies_ms), "errors": len(got["errors"]),
            "p50_ms": quantile(50), "p95_ms": quantile(95), "p99_ms": quantile(99),
            "throughput_rps": round(len(latencies_ms) / elapsed, 2), "seconds": round(elapsed, 3)}


def _check_server(base: str, headers: dict) -> dict:
    import httpx

    try:
        health = httpx.get(f"{base}/health", timeout=10, headers=headers)
    except httpx.HTTPError as exc:
        raise UsageError(f"no server answers at {base}: {' '.join(str(exc).split())[:200]}") from None
    if health.status_code != 200:
        raise UsageError(f"{base}/health answered HTTP {health.status_code}; is it a 'sentibench serve'?")
    return health.json()


def loadtest(url: str, texts: list[str], concurrency: list[int], duration: float, api_key: str | None = None) -> dict:
    """Each concurrency in turn against ``url`` (the server's base address): see the module."""
    if not texts:
        raise UsageError("no review texts to send")
    base = url.rstrip("/").removesuffix("/predict")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    health = _check_server(base, headers)
    levels = [asyncio.run(_level(f"{base}/predict", texts, c, duration, headers)) for c in concurrency]
    return {"url": base, "classifier": health.get("classifier"), "batching": health.get("batching"),
            "duration_s": duration, "levels": levels}


def format_loadtest(result: dict, cpu: str) -> str:
    from tabulate import tabulate

    def cell(value):
        return "" if value is None else value

    rows = [[lv["concurrency"], lv["requests"], lv["errors"], cell(lv["p50_ms"]), cell(lv["p95_ms"]), cell(lv["p99_ms"]),
             lv["throughput_rps"]] for lv in result["levels"]]
    # the classifier and its policy are the server's words: printed, never obeyed
    head = terminal_safe(f"{result['url']}: {result['classifier']}, batching {result['batching']}; load generated on {cpu}")
    table = tabulate(rows, headers=["clients", "answered", "errors", "p50 ms", "p95 ms", "p99 ms", "requests/s"],
                     tablefmt="github", disable_numparse=True)
    return head + "\n" + table
