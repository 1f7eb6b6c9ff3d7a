"""Values of the command line's list options: ``--seeds``, ``--sizes``, ``--per-class``,
``--llm-price-per-mtok``."""

from __future__ import annotations

import argparse


def seed_list(text: str) -> list[int]:
    """``--seeds 1,2,3``: at least two different seeds NumPy accepts."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects comma-separated integers such as 1,2,3; got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"needs at least two different seeds, got {text!r}")
    if min(seeds) < 0 or max(seeds) > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be integers from 0 to 4294967295, got {text!r}")
    return seeds


def size_list(text: str) -> list[int]:
    """``--sizes 250,500,1000``: training-set sizes, sorted, each once."""
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects comma-separated integers such as 250,500,1000; got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("is empty; give training-set sizes such as 250,500,1000")
    return sizes


def price_pair(text: str) -> tuple[float, float]:
    """``--llm-price-per-mtok 0.15,0.60``: prices per million tokens in and out."""
    try:
        prices = tuple(float(part) for part in text.split(","))
    except ValueError:
        prices = ()
    if len(prices) != 2 or not all(0 <= p < float("inf") for p in prices):
        raise argparse.ArgumentTypeError(f"expects two prices per million tokens, IN,OUT (e.g. 0.15,0.60); got {text!r}")
    return prices
