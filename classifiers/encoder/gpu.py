"""What changes on a GPU: the batch size and learning rate of ``batch_size="auto"``,
whether to ``torch.compile`` the training step, and the GPU inference paths.

The policies are plain functions of their inputs (device, sizes), so they are tested on
machines without a GPU; each returns the choice with its reason, which the classifier
records in ``fit_info_`` and ``results.json``. The figures they rest on were measured on
one H200 (issue #23, docs/design.md); the batch policy's time to accuracy is not yet
measured on a GPU, and its reason says so.
"""

from __future__ import annotations

import copy
import math

import torch

#: The seed recipe's batch: the CPU default, and the reference of learning-rate scaling.
SEED_BATCH = 16
#: ``batch_size="auto"`` on a GPU. At batch 16 an H200 trained bert-base at 382 samples/s
#: (3.2% of its bf16 peak), at 64 at 1,448: the per-step launch and sync cost dominates
#: small batches. 256 was faster still per sample, but leaves few steps per epoch on
#: review-sized data.
GPU_BATCH = 64
#: ``compile="auto"`` compiles when training sees at least this many samples: on the H200,
#: compiling bert-base's step took 82 s and raised batch-64 training from 1,406 to 3,019
#: samples/s, which repays the compile after 82 / (1/1406 - 1/3019) ~ 216,000 samples.
COMPILE_MIN_SAMPLES = 200_000
#: Sequence lengths are padded to a multiple of this under ``torch.compile``, so that a
#: few shapes (32, 64, 96, 128 at max_length 128) are compiled rather than one per length.
COMPILE_PAD_MULTIPLE = 32
#: GPU inference paths: a copy of the weights in bf16 or fp16, or the fp32 model.
GPU_PATHS = ("bf16", "fp16", "fp32")
#: Reviews per forward pass on a GPU (length-sorted batches).
GPU_INFERENCE_BATCH = 256


def choose_batch(batch_size, learning_rate: float, device: str) -> dict:
    """The batch size and learning rate training uses, and why.

    ``batch_size="auto"`` is the seed recipe's 16 on a CPU and :data:`GPU_BATCH` on a GPU,
    where the learning rate grows with the square root of the batch (Hoffer et al., 2017;
    Malladi et al., 2022, for Adam), from the rate given for batch 16. A batch size set by
    the user is kept, with the learning rate as given.
    """
    if batch_size != "auto":
        return {"batch_size": int(batch_size), "learning_rate": learning_rate, "reason": f"set by batch_size={batch_size}"}
    if device == "cpu":
        return {"batch_size": SEED_BATCH, "learning_rate": learning_rate,
                "reason": f"batch_size='auto' on a CPU: the seed recipe's batch {SEED_BATCH}"}
    factor = math.sqrt(GPU_BATCH / SEED_BATCH)
    return {
        "batch_size": GPU_BATCH, "learning_rate": learning_rate * factor,
        "reason": (f"batch_size='auto' on a GPU: batch {GPU_BATCH} (batch {SEED_BATCH} leaves most of the GPU idle: "
                   f"382 against 1,448 samples/s for bert-base on an H200), learning rate x{factor:g} "
                   f"(square root of the batch ratio); its time to accuracy against batch {SEED_BATCH} is not yet "
                   "measured (docs/design.md)"),
    }


def choose_compile(compile, device: str, samples: int) -> dict:
    """Whether to ``torch.compile`` the training step, and why.

    ``compile="auto"`` compiles on a GPU when training sees at least
    :data:`COMPILE_MIN_SAMPLES` samples (epochs x reviews), and never on a CPU, where it
    was not measured to pay; ``True`` or ``False`` set by the user are kept.
    """
    if compile != "auto":
        return {"compile": bool(compile), "reason": f"set by compile={compile}"}
    if device == "cpu":
        return {"compile": False, "reason": "compile='auto' on a CPU: eager (compiling is not measured to pay there)"}
    if samples >= COMPILE_MIN_SAMPLES:
        return {"compile": True, "reason": f"compile='auto' on a GPU: {samples:,} training samples repay the compile "
                                           f"(from {COMPILE_MIN_SAMPLES:,} on)"}
    return {"compile": False, "reason": f"compile='auto' on a GPU: {samples:,} training samples are too few to repay "
                                        f"the compile (it pays from about {COMPILE_MIN_SAMPLES:,})"}


def gpu_paths(bf16: bool | None = None) -> list[str]:
    """The GPU inference paths: bf16 (where the GPU has it), fp16, fp32."""
    if bf16 is None:
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return [p for p in GPU_PATHS if p != "bf16" or bf16]


def gpu_net(module: torch.nn.Module, path: str) -> torch.nn.Module:
    """The network of one GPU inference path: a bf16 or fp16 copy of ``module``'s weights
    (half the memory traffic of autocast over fp32 weights), or ``module`` itself (fp32)."""
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if path == "fp32":
        return module.eval()
    return copy.deepcopy(module).to(dtypes[path]).eval()
