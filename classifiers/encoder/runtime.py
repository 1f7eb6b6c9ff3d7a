"""Where and in what precision the network runs, and how a batch becomes tensors."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from .batching import collate, to_device

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@functools.cache
def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX); read
    once (predictions ask on every call)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_device(device: str, precision: str) -> tuple[str, str]:
    """The concrete device and precision for the ``"auto"`` settings."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA GPU is available; use device='cpu' or 'auto'")
    if precision == "auto":
        if device == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "bf16" if cpu_supports_bf16() else "fp32"
    if precision == "fp16" and device == "cpu":
        raise ValueError("precision='fp16' needs a GPU; on a CPU use 'bf16' or 'fp32'")
    return device, precision


@dataclass(frozen=True)
class Runtime:
    """Device, autocast precision and padding of one fitted network."""

    device: str
    precision: str
    pad_id: int
    max_length: int
    pad_to_multiple_of: int | None = None

    def autocast(self, enabled: bool = True):
        """Autocast to the training precision; a no-op context when ``enabled`` is false."""
        dtype = _DTYPES.get(self.precision)
        if not enabled:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=dtype, enabled=dtype is not None)

    def attention_kernel(self):
        """For training: the plain (math) attention kernel on a CPU, faster there than the
        fused flash kernel for these short sequences (forward and backward); on a GPU only
        the fused kernels (flash, else memory-efficient, which takes any padding mask),
        never the math one. Inference keeps PyTorch's choice, the flash kernel on a CPU,
        which was the faster one without a backward pass (docs/design.md)."""
        from torch.nn.attention import sdpa_kernel

        return sdpa_kernel(self.training_attention_backends())

    def training_attention_backends(self) -> list:
        from torch.nn.attention import SDPBackend

        if self.device == "cpu":
            return [SDPBackend.MATH]
        return [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]

    def to_device(self, values) -> torch.Tensor:
        """``values`` (indices) as a tensor on the device, copied without waiting on a GPU."""
        return to_device(torch.as_tensor(values), self.device)

    def synchronize(self) -> None:
        """Wait for the GPU's queued work (before reading a clock); nothing on a CPU."""
        if torch.device(self.device).type == "cuda":
            torch.cuda.synchronize(self.device)

    def collate(self, encoded: list[list[int]], batch):
        return collate(encoded, batch, self.pad_id, self.max_length, self.pad_to_multiple_of, self.device)
