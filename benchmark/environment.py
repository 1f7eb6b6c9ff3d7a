"""What a result was measured on: versions, CPU, threads, GPU."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import __version__

_PACKAGES = (
    "numpy", "scipy", "pandas", "scikit-learn", "gensim", "torch",
    "transformers", "tokenizers", "skops", "tabulate", "tqdm", "matplotlib",
)


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty elsewhere)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    """Human-readable CPU name, with the family and model numbers that tell generations
    apart when the name alone does not ("AMD EPYC" is Zen 4 or Zen 5)."""
    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']}, model {info['model']})"
    return name


def cpu_features() -> dict[str, bool]:
    """The matrix instructions that decide BERT's speed on a CPU."""
    flags = set(_cpuinfo().get("flags", "").split())
    return {
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "amx_int8": "amx_int8" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
    }


def describe_cpu() -> str:
    """One line for perf reports: the CPU and its matrix instructions, so figures from
    two machines are never read as one."""
    features = cpu_features()
    matrix = "AMX" if features["amx_bf16"] else "no AMX"
    bf16 = "AVX-512 BF16" if features["avx512_bf16"] else "no AVX-512 BF16"
    return f"CPU {cpu_model()}, {os.cpu_count()} cores, {matrix}, {bf16}"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def own_git_commit(root: Path | None = None) -> str | None:
    """sentibench's commit, only when it runs from its own git checkout.

    A virtual environment inside the user's repository must not record the user's
    commit as sentibench's: the checkout's top folder must be the one holding this
    package (``root``, by default the folder above ``benchmark/``) and a
    ``pyproject.toml`` naming sentibench.
    """
    root = Path(root).resolve() if root is not None else Path(__file__).resolve().parents[1]
    try:
        if 'name = "sentibench"' not in (root / "pyproject.toml").read_text(encoding="utf-8"):
            return None
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.splitlines()  # a checkout path may hold spaces
    except (OSError, subprocess.SubprocessError):
        return None
    if len(top) != 2 or Path(top[0]).resolve() != root:
        return None
    return top[1]


def environment() -> dict:
    """A JSON-serialisable description of the machine and software."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_count": os.cpu_count(),
        "sentibench_version": __version__,
        "git_commit": own_git_commit(),
        "packages": {p: v for p in _PACKAGES if (v := _version(p))},
    }
    torch = sys.modules.get("torch")  # only when a classifier needed it: never imported just for this
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = gpu()
    return info


def gpu() -> dict | None:
    """The GPU torch uses: ``name``, ``memory_gib``, ``count``, compute ``capability``,
    ``cuda`` (torch's CUDA version) and the NVIDIA ``driver``; None without a GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {
        "name": props.name,
        "memory_gib": round(props.total_memory / 2**30, 1),
        "count": torch.cuda.device_count(),
        "capability": f"{props.major}.{props.minor}",
        "cuda": torch.version.cuda,
        "driver": nvidia_driver(),
    }


def describe_gpu(info: dict | None) -> str:
    """One line for reports: ``NVIDIA H200 (139.8 GiB, driver 570.86.15, CUDA 12.8)``."""
    if not info:
        return "none"
    details = [f"{info['memory_gib']} GiB"] + [f"{k} {info[k]}" for k in ("driver", "cuda") if info.get(k)]
    count = f"{info['count']} x " if info.get("count", 1) > 1 else ""
    return f"{count}{info['name']} ({', '.join(details)})"


def nvidia_driver(proc_file: Path = Path("/proc/driver/nvidia/version")) -> str | None:
    """The NVIDIA driver version: from the kernel module's file, else ``nvidia-smi``."""
    try:
        found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", proc_file.read_text())
        if found:
            return found.group(1)
    except OSError:
        pass
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None
