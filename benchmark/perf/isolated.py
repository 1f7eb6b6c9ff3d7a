"""Each recipe of ``perf bert`` measured in its own fresh process, one after the other.

Measured one after another in one process, a recipe inherits what the recipes before it
left behind: allocator and oneDNN primitive caches, warmed kernels, thread-pool state, the
memory of the models they trained. Its figure then depends on its place in the list. In a
process of its own (``spawn``: a new interpreter, nothing inherited), every recipe starts
as a user's first fit in a fresh Python does, one-off costs included for all alike, and the
order of the recipes cannot change who wins. Only one process runs at a time.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

#: What ``perf bert`` says about the conditions of its figures.
CONDITIONS = ("each recipe in its own fresh process, one at a time (one-off costs of a first fit "
              "included for all alike; the order of the recipes changes nothing)")


def measure_recipe(train: Callable, recipe: str, model_path: str, x, y, batch, kwargs: dict, latency_calls: int,
                   device: str) -> dict:
    """Train ``recipe`` and measure its serving in this process: the row of the perf table,
    with the process it ran in and the torch threads it started with."""
    import torch

    from .bert import _serving

    process = {"pid": os.getpid(), "torch_threads_at_start": torch.get_num_threads()}
    out = train(model_path, x, y, batch, **kwargs)
    return {"batch_size": batch, "train_samples_per_s": out["train_samples_per_s"],
            **_serving(recipe, out, x, latency_calls, device), "process": process}


def in_own_process(function: Callable, *args):
    """``function(*args)`` in a new interpreter (``spawn``), waited for; its exception is raised here."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()
