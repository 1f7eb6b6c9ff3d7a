"""One process or several: the few places where data-parallel training differs.

The training loop talks to one of these two objects and never branches on the number
of processes (as ``run_glue_no_trainer.py`` leaves it all to Accelerate). A single
process never imports Accelerate.
"""

from __future__ import annotations

import numpy as np
import torch

from .._launch import world_size
from ..encoder.batching import distributed_length_grouped_batches, length_grouped_batches


class OneProcess:
    """Training in this process alone."""

    rank = 0
    num_processes = 1
    is_main = True
    #: Epoch checkpoints (``checkpoint_dir``) serve single-process runs.
    keeps_checkpoints = True
    device = None

    def prepare(self, net):
        return net

    def batches(self, lengths, batch_size: int, rng: np.random.Generator, seed: int, epoch: int):
        return length_grouped_batches(lengths, batch_size, rng)

    def total(self, values: list[float], device) -> list[float]:
        """Sums over all processes of ``values``."""
        return values

    def predict_all(self, predict, encoded) -> torch.Tensor:
        """``predict(encoded)`` for every item; with several processes each scores a share."""
        return predict(encoded)

    def per_process(self, record: dict) -> dict:
        """Extra history entries that only mean something with several processes."""
        return {}


class SeveralProcesses:
    """DDP through Accelerate under ``torchrun`` or ``accelerate launch``."""

    keeps_checkpoints = False

    def __init__(self, accelerator):
        self.accelerator = accelerator
        self.rank = accelerator.process_index
        self.num_processes = accelerator.num_processes
        self.is_main = accelerator.is_main_process
        self.device = str(accelerator.device)

    def prepare(self, net):
        # DDP: gradients are all-reduced in backward; the returned module is the wrapper.
        return self.accelerator.prepare_model(net)

    def batches(self, lengths, batch_size, rng, seed, epoch):
        return distributed_length_grouped_batches(lengths, batch_size, seed, epoch, self.rank, self.num_processes)

    def total(self, values, device):
        totals = self.accelerator.reduce(torch.tensor(values, dtype=torch.float64, device=device), "sum")
        return totals.tolist()

    def per_process(self, record):
        return {"samples_per_s_per_process": record["samples_per_s"] / self.num_processes}

    def predict_all(self, predict, encoded):
        from accelerate.utils import gather_object

        mine = np.arange(self.rank, len(encoded), self.num_processes)
        gathered = gather_object([(mine, predict([encoded[i] for i in mine]))])
        logits = torch.empty((len(encoded), max(values.shape[1] for _, values in gathered)))
        for idx, values in gathered:
            if len(idx):
                logits[torch.as_tensor(idx)] = values
        return logits


def processes():
    """:class:`SeveralProcesses` when launched with more than one process, else :class:`OneProcess`."""
    if world_size() <= 1:
        return OneProcess()
    from accelerate import Accelerator

    return SeveralProcesses(Accelerator(cpu=not torch.cuda.is_available()))
