"""Recipes for the isolation test of ``perf bert``: one leaves state behind, one reports it.
(Importable in a ``spawn`` child, and light: no torch model.)"""

from __future__ import annotations


def _served(samples_per_s: float) -> dict:
    return {"train_samples_per_s": samples_per_s, "predict_one": lambda texts: [[0.5, 0.5]] * len(texts),
            "predict_many": lambda texts: [[0.5, 0.5]] * len(texts)}


def polluter(model_path, x, y, batch, **kwargs) -> dict:
    """A recipe that leaves its process with one torch thread (as a library call might)."""
    import torch

    torch.set_num_threads(1)
    return _served(1.0)


def probe(model_path, x, y, batch, **kwargs) -> dict:
    return _served(2.0)
