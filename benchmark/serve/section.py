"""The report's "As deployed" section, from ``deployed.json`` (``serve RUN_DIR --measure``)."""

from __future__ import annotations

from tabulate import tabulate

from dataset import md_literal

__all__ = ["deployed_lines"]


def _figure(value, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _accuracy(results: dict, name: str) -> str:
    entry = ((results["classifiers"].get(name) or {}).get("ci") or {}).get("accuracy") or {}
    return "" if entry.get("value") is None else f"{entry['value']:.4f}"


def deployed_lines(deployed: dict | None, results: dict) -> list[str]:
    """The section's Markdown lines; none without a measurement."""
    if not deployed or not deployed["classifiers"]:
        return []
    levels = deployed["concurrency"]
    headers = ["classifier", "test accuracy", "batching",
               *(f"p50 / p99 ms, {c} client{'s' if c != 1 else ''}" for c in levels),
               *(f"requests/s, {c}" for c in levels), "errors"]
    rows = []
    for name, entry in deployed["classifiers"].items():
        by_level = {lv["concurrency"]: lv for lv in entry["levels"]}
        cells = [by_level.get(c, {}) for c in levels]
        batching = entry.get("batching") or {}
        rows.append([
            md_literal(name), _accuracy(results, name),
            md_literal(f"{batching.get('max_batch', '?')} reviews, {batching.get('max_wait_ms', '?')} ms"),
            *(f"{_figure(cell.get('p50_ms'))} / {_figure(cell.get('p99_ms'))}" for cell in cells),
            *(_figure(cell.get("throughput_rps")) for cell in cells),
            str(sum(int(lv.get("errors") or 0) for lv in entry["levels"])),
        ])
    return [
        "## As deployed",
        "",
        f"Each saved classifier behind `sentibench serve` (one process, on loopback), one after another, loaded by "
        f"`sentibench loadtest`'s closed loop: at each level that many clients send one review per request for "
        f"{deployed['duration_s']:g} s, reviews from {md_literal(str(deployed['data']))}. Measured on "
        f"{md_literal(str(deployed['cpu']))} ({deployed.get('cores', '?')} cores); the load generator shares the "
        "machine with the server, so on few cores the highest level also measures the generator. Batching: the most "
        "reviews scored in one call and how long a request waits for others. `serve RUN --measure` measures again.",
        "",
        tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True),
        "",
    ]
