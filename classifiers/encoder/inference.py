"""Fast inference of a network ``(input_ids, attention_mask) -> outputs``: the traced
int8/bf16/fp32 CPU paths, ONNX Runtime's onnx-int8/onnx-fp32 (:mod:`.onnx`) and the
bf16/fp16/fp32 GPU paths of :mod:`.gpu`, the choice between them on validation data,
batched prediction and temperature scaling."""

from __future__ import annotations

import contextlib
import copy
import logging
import time
import warnings

import numpy as np
import torch

from dataset import UsageError

from .gpu import GPU_INFERENCE_BATCH, GPU_PATHS, gpu_net, gpu_paths
from .hub import quiet_transformers
from .network import PooledClassifier, example_batch
from .onnx import ONNX_PATHS, onnx_available, onnx_net
from .runtime import cpu_supports_bf16

logger = logging.getLogger(__name__)

#: CPU inference paths: TorchScript-traced torch networks, then ONNX Runtime sessions.
CPU_PATHS = ("int8", "bf16", "fp32", *ONNX_PATHS)
#: ``inference="auto"`` uses int8 or bf16 only when its validation accuracy is at most
#: this far below the fp32 model's (0.3 points).
ACCURACY_TOLERANCE = 0.003
#: Paths whose single-review latency is within this share of the fastest one count as
#: equally fast (the most exact of them is chosen): where one path is really faster than
#: another the gap is 1.5x or more (docs/design.md), while the median of a few dozen calls
#: moves by less than this when other work shares the machine.
LATENCY_MARGIN = 0.25
#: The order that decides between equally fast paths: the most exact first (fp16 keeps 10
#: bits of mantissa, bf16 7; ONNX Runtime's graphs compute as the torch path of their precision).
EXACTNESS_ORDER = ("fp32", "onnx-fp32", "fp16", "bf16", "onnx-int8", "int8")
#: Paths that score one review per forward pass (see :func:`batch_size_of`).
ONE_AT_A_TIME = ("int8", "onnx-int8")


def cpu_paths() -> list[str]:
    """The CPU inference paths this machine runs natively: bf16 only with bf16 instructions,
    the ONNX paths only where ONNX Runtime is installed (the ``[onnx]`` extra)."""
    onnx = onnx_available()
    return [p for p in CPU_PATHS if (p != "bf16" or cpu_supports_bf16()) and (p not in ONNX_PATHS or onnx)]


def device_paths(device: str) -> list[str]:
    """The inference paths ``"auto"`` chooses between on ``device``."""
    return cpu_paths() if device == "cpu" else gpu_paths()


def usable_path(choice: dict | None, device: str, gpu_fallback: str) -> str:
    """The path an inference choice names when it runs on ``device`` here; else fp32 on a
    CPU and ``gpu_fallback`` on a GPU. The choice was made on the machine that trained: a
    model loaded elsewhere keeps it only where it runs (a CPU path needs a CPU, with bf16 for
    bf16; a GPU path a GPU), and on a CPU a GPU's training precision becomes fp32."""
    chosen = (choice or {}).get("chosen")
    if device == "cpu":
        return chosen if chosen in cpu_paths() else "fp32"
    return chosen if chosen in gpu_paths() else gpu_fallback


def refuse_elsewhere(name: str, path: str, device: str, *, also: tuple[str, ...] = ()) -> None:
    """Refuse, in one line, an inference ``path`` (set by the user) that does not run on ``device``."""
    paths = CPU_PATHS if device == "cpu" else GPU_PATHS
    if path not in paths and path not in also:
        listed = ", ".join(paths) + "".join(f" or {a!r}" for a in also)
        raise UsageError(f"{name}: inference={path!r} does not run on {device}; use one of {listed}")


def choice_set_by_user(path: str) -> dict:
    """The inference choice of a classifier whose ``inference`` is set: nothing measured."""
    return {"chosen": path, "reason": f"set by inference={path!r}"}


@contextlib.contextmanager
def warnings_silenced():
    with warnings.catch_warnings():
        # torch.ao.quantization's deprecation notice (see quantized_traced) and the
        # quantized-tensor UserWarning it triggers: known, and handled there.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        # Tracing notes data-dependent branches in transformers' mask code; the trace
        # is checked against eager mode on another batch shape instead.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def quantized_traced(module: PooledClassifier, pad_id: int) -> torch.nn.Module:
    """Dynamic int8 copy of ``module``'s Linear layers, traced with TorchScript.

    Weights are quantised per output channel (closer to fp32 than per tensor); the
    2-way classifier layer stays fp32 (no speed to gain, only error). Tracing removes
    the Python overhead that dominates single-review latency; the trace is checked
    against the eager module on another batch shape and dropped if they disagree.
    """
    # torch.ao.quantization warns that it is deprecated (its removal was announced for
    # torch 2.10; it still ships and works in 2.13). Its replacement is torchao's eager
    # quantize_ API (Int8DynamicActivationInt8WeightConfig); move there, and add torchao
    # to the bert extra, when a torch release drops torch.ao.quantization.
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings_silenced(), quiet_transformers():
        model = copy.deepcopy(module).eval()
        targets = {
            name: per_channel_dynamic_qconfig
            for name, layer in model.named_modules()
            if isinstance(layer, torch.nn.Linear) and not name.endswith("classifier")
        }
        quantized = quantize_dynamic(model, targets)
    return traced(quantized, pad_id, atol=1e-3)


def traced(module: torch.nn.Module, pad_id: int, *, atol: float) -> torch.nn.Module:
    """``module`` traced with TorchScript (no Python overhead per call), or ``module``
    itself when the trace disagrees with eager mode on another batch shape."""
    with warnings_silenced(), quiet_transformers(), torch.inference_mode():
        module = module.eval()
        trace = torch.jit.trace(module, example_batch(2, 16, pad_id), check_trace=False)
        check = example_batch(3, 24, pad_id)
        if torch.allclose(trace(*check).float(), module(*check).float(), atol=atol):
            return trace
    logger.warning("TorchScript trace disagrees with eager mode; using the eager module")
    return module


def inference_net(module: PooledClassifier, path: str, pad_id: int, *, onnx_file=None, fused=None) -> torch.nn.Module:
    """The CPU network of one inference ``path``: ``"int8"`` (dynamic int8 Linear layers),
    ``"bf16"`` (a bf16 copy of the weights) or ``"fp32"``, each traced; ``"onnx-int8"`` and
    ``"onnx-fp32"`` an ONNX Runtime session (from the saved ``onnx_file`` where there is
    one, or the ``fused`` graph another ONNX path was built from), or the traced fp32 network
    where its graph disagrees with ``module``."""
    if path in ONNX_PATHS:
        if not onnx_available():
            raise UsageError(f"inference={path!r} needs ONNX Runtime: pip install 'sentibench[onnx]'")
        net = onnx_net(module, path, example_batch(3, 24, pad_id), saved=onnx_file, fused=fused)
        return net if net is not None else traced(module, pad_id, atol=1e-3)
    if path == "int8":
        return quantized_traced(module, pad_id)
    if path == "bf16":
        return traced(copy.deepcopy(module).to(torch.bfloat16), pad_id, atol=5e-2)
    return traced(module, pad_id, atol=1e-3)


def single_review_latency_ms(net, encoded, runtime, *, calls: int = 30, warmup: int = 3) -> float:
    """Median milliseconds of one-review predictions, cycling through ``encoded``."""
    times = []
    for i in range(warmup + calls):
        one = [encoded[i % len(encoded)]]
        start = time.perf_counter()
        predict_logits(net, one, runtime, autocast=False, batch_size=1)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def batch_size_of(path: str, device: str = "cpu") -> int:
    """Reviews per forward pass: int8 and onnx-int8 run one review at a time, because
    dynamic quantisation scales activations by the whole batch, so a review's score would
    otherwise depend on its neighbours; the other CPU paths batch 64 reviews of similar
    length, a GPU 256."""
    if device != "cpu":
        return GPU_INFERENCE_BATCH
    return 1 if path in ONE_AT_A_TIME else 64


class InferenceNets:
    """The inference networks of one fitted model, each built on first use: traced copies
    on a CPU, bf16/fp16 copies of the weights on a GPU (``gpu=True``)."""

    def __init__(self, module: PooledClassifier, pad_id: int, *, gpu: bool = False, onnx_file=None):
        self.module = module.eval()
        self.pad_id = pad_id
        self.gpu = gpu
        self.onnx_file = onnx_file  # a saved model's fp32 graph, the ONNX paths' starting point
        self._nets: dict[str, torch.nn.Module] = {}

    def get(self, path: str) -> torch.nn.Module:
        """``"train"`` is the module itself (autocast by the caller); the others are copies."""
        if path not in self._nets:
            if path == "train":
                self._nets[path] = self.module
            elif self.gpu:
                self._nets[path] = gpu_net(self.module, path)
            else:
                fused = next((n.fused for n in self._nets.values() if hasattr(n, "fused")), None)
                self._nets[path] = inference_net(self.module, path, self.pad_id, onnx_file=self.onnx_file, fused=fused)
        return self._nets[path]

    def choose(self, encoded, labels, runtime, paths, *, name: str, predict=None, latency_calls: int = 30) -> dict:
        """Measure ``paths`` (which must include fp32) on validation data and pick one with
        :func:`choose_path`; returns the record kept as ``inference_choice_``.

        ``predict`` turns a path's outputs into 0/1 predictions (default: the argmax of
        logits; an encoder's embeddings go through the classifier on top).
        """
        predict = predict or (lambda out: out.argmax(-1).numpy())
        candidates = {}
        for path in paths:
            net = self.get(path)
            outputs = predict_logits(net, encoded, runtime, autocast=False,
                                     batch_size=batch_size_of(path, runtime.device))
            candidates[path] = {
                "val_accuracy": float((np.asarray(predict(outputs)) == labels).mean()),
                "latency_p50_ms": single_review_latency_ms(net, encoded, runtime, calls=latency_calls),
            }
        chosen, reason = choose_path(candidates)
        logger.info(
            "%s: predicting with %s (%s); %s", name, chosen, reason,
            ", ".join(f"{p}: val acc {c['val_accuracy']:.4f}, {c['latency_p50_ms']:.2f} ms" for p, c in candidates.items()),
        )
        return {"chosen": chosen, "reason": reason, "tolerance": ACCURACY_TOLERANCE, "latency_margin": LATENCY_MARGIN,
                "candidates": candidates}


def choose_path(candidates: dict[str, dict], tolerance: float = ACCURACY_TOLERANCE,
                margin: float = LATENCY_MARGIN) -> tuple[str, str]:
    """The fastest path whose validation accuracy is within ``tolerance`` of fp32's, where
    paths within ``margin`` of the fastest latency count as equally fast.

    A choice by timing alone follows the machine's noise: two fits of the same run (an
    uninterrupted one and a resumed one) chose fp32 and int8, and reported different test
    accuracies. Equally fast paths are decided by a fixed order instead, the most exact
    first (fp32, then fp16, bf16, int8): a lossy path earns its place only by being
    measurably faster. Then only a real difference in speed changes the choice.

    Parameters
    ----------
    candidates : dict
        path -> ``{"val_accuracy": float, "latency_p50_ms": float}``; must hold ``"fp32"``.
    tolerance : float
        Accuracy a lossy path may lose against fp32.
    margin : float
        Relative latency difference below which two paths count as equally fast.

    Returns
    -------
    (path, reason)
    """
    reference = candidates["fp32"]["val_accuracy"]
    good = {p: c for p, c in candidates.items() if c["val_accuracy"] >= reference - tolerance - 1e-12}
    fastest = min(c["latency_p50_ms"] for c in good.values())
    tied = [p for p in good if candidates[p]["latency_p50_ms"] <= fastest * (1 + margin)]
    chosen = min(tied, key=lambda p: EXACTNESS_ORDER.index(p) if p in EXACTNESS_ORDER else len(EXACTNESS_ORDER))
    dropped = sorted(set(candidates) - set(good))
    reason = (
        f"fastest path within {tolerance * 100:.1f} points of fp32's validation accuracy ({reference:.4f})"
        + (f", the most exact of {' and '.join(sorted(tied))} (within {margin:.0%} of the fastest latency)" if len(tied) > 1 else "")
        + (f"; {', '.join(dropped)} lost more" if dropped else "")
    )
    return chosen, reason


def predict_logits(net, encoded, runtime, *, autocast: bool = True, batch_size: int = 64) -> torch.Tensor:
    """Outputs (float32, CPU) of ``net`` (in eval mode) in input order; batches sorted by
    length. Logits of shape (n, 2) for a classifier, embeddings for an encoder."""
    if not len(encoded):
        return torch.empty((0, 2), dtype=torch.float32)
    order = np.argsort([len(s) for s in encoded], kind="stable")
    with torch.inference_mode(), runtime.autocast(enabled=autocast):
        # Kept on the device and copied back once: no wait for the host between batches.
        chunks = [net(*runtime.collate(encoded, order[i : i + batch_size])).float()
                  for i in range(0, len(order), batch_size)]
        values = torch.cat(chunks).cpu()
    out = torch.empty_like(values)
    out[torch.as_tensor(order)] = values
    return out


def fit_temperature(logits: torch.Tensor, labels) -> float:
    """The temperature ``T`` that minimises the log-loss of ``softmax(logits / T)`` on
    held-out data (Guo et al., 2017, "On Calibration of Modern Neural Networks").
    Dividing by one positive number never changes which class is predicted."""
    from scipy.optimize import minimize_scalar

    logits = logits.double()
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long)

    def loss(log_t: float) -> float:
        return float(torch.nn.functional.cross_entropy(logits / np.exp(log_t), target))

    best = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(best.x))
