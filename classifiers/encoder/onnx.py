"""ONNX Runtime inference paths of an encoder network ``(input_ids, attention_mask) -> outputs``.

``onnx-fp32`` is the network exported to ONNX (opset 17, batch and sequence length dynamic)
with its attention, GELU and layer norms fused by ONNX Runtime's transformer optimizer;
``onnx-int8`` is that graph with its matrix products dynamically quantised to int8 (weights
per output channel). Both run on ONNX Runtime's CPU execution provider.

Loading a graph executes no code: ONNX Runtime runs only its built-in operators (no custom
operator library is ever registered), and a graph that keeps tensors in external files is
refused, so that a saved ``model.onnx`` cannot make sentibench read another file.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from dataset import atomic_write_bytes

from .._persist import ModelFileError
from .hub import quiet_transformers
from .network import example_batch

logger = logging.getLogger(__name__)

#: The ONNX Runtime inference paths (CPU only).
ONNX_PATHS = ("onnx-int8", "onnx-fp32")
#: The file a saved model keeps its fp32 ONNX graph in (beside ``model.safetensors``).
ONNX_FILE = "model.onnx"
OPSET = 17
#: Largest difference from the eager network's outputs a path's graph may show on a check
#: batch: fp32 agrees to float rounding; int8 as bf16 does (its activations are quantised).
TOLERANCE = {"onnx-fp32": 1e-3, "onnx-int8": 5e-2}


def onnx_available() -> bool:
    """Whether ONNX Runtime and onnx are installed (the ``[onnx]`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def _not_onnxruntime(record: logging.LogRecord) -> bool:
    return "onnxruntime" not in record.pathname


@contextlib.contextmanager
def _quiet():
    """The TorchScript exporter's deprecation notice and tracer warnings, and the optimizer's
    and quantiser's INFO and advice lines (some logged on the root logger), for one block."""
    onnxruntime_log, root = logging.getLogger("onnxruntime"), logging.getLogger()
    level = onnxruntime_log.level
    with warnings.catch_warnings(), quiet_transformers():
        warnings.simplefilter("ignore")
        onnxruntime_log.setLevel(logging.WARNING)
        root.addFilter(_not_onnxruntime)
        try:
            yield
        finally:
            root.removeFilter(_not_onnxruntime)
            onnxruntime_log.setLevel(level)


def _hf_config(module: torch.nn.Module):
    """The Hugging Face config of the model inside ``module``."""
    return next(m.config for m in module.modules() if hasattr(m, "config") and hasattr(m.config, "hidden_size"))


def export(module: torch.nn.Module, example: tuple[torch.Tensor, torch.Tensor]) -> bytes:
    """``module`` as an fp32 ONNX graph (``input_ids``, ``attention_mask`` -> ``outputs``).

    Exported from a copy with eager attention: the optimizer recognises that pattern (not
    PyTorch's fused scaled-dot-product attention) and fuses it into one operator.
    """
    net = copy.deepcopy(module).float().cpu().eval()
    for part in net.modules():
        if hasattr(part, "set_attn_implementation") and hasattr(part, "config"):
            part.set_attn_implementation("eager")
    buffer = io.BytesIO()
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "outputs": {0: "batch"}}
    with _quiet(), torch.no_grad():
        torch.onnx.export(net, example, buffer, dynamo=False, opset_version=OPSET, input_names=["input_ids", "attention_mask"],
                          output_names=["outputs"], dynamic_axes=axes)
    return buffer.getvalue()


def read_graph(file: Path) -> bytes:
    """A saved graph's bytes; a :class:`ModelFileError` for one that is not ONNX or keeps
    tensors in external files."""
    import onnx

    data = Path(file).read_bytes()
    try:
        graph = onnx.load_from_string(data)  # bytes: external files are never opened
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends: a damaged file
        raise ModelFileError(f"{file} is not an ONNX graph ({type(exc).__name__})") from None
    external = [t.name for t in graph.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise ModelFileError(f"{file} keeps tensors in external files ({external[0]}, ...); sentibench reads one file only")
    return data


def optimized(graph: bytes, config) -> bytes:
    """``graph`` with ONNX Runtime's BERT fusions (attention, embeddings + layer norm, GELU,
    skip layer norm); ``graph`` itself where the optimizer fails on it."""
    import onnx
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        with _quiet(), tempfile.TemporaryDirectory(prefix="sentibench-onnx-") as tmp:
            model = optimize_model(onnx.load_from_string(graph), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=0)
            # Saved through the optimizer, which declares the com.microsoft operators' domain.
            model.save_model_to_file(str(Path(tmp) / "fused.onnx"))
            return (Path(tmp) / "fused.onnx").read_bytes()
    except Exception as exc:  # noqa: BLE001 - an architecture the optimizer does not know: run unfused
        logger.warning("ONNX Runtime's optimizer failed (%s: %s); running the graph unfused", type(exc).__name__, exc)
        return graph


def quantized(graph: bytes) -> bytes:
    """``graph`` with its MatMuls dynamically quantised to int8 (per output channel)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="sentibench-onnx-") as tmp, _quiet():
        target = Path(tmp) / "int8.onnx"
        quantize_dynamic(onnx.load_from_string(graph), target, weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        return target.read_bytes()


class OnnxNet:
    """An ONNX Runtime session called like the torch networks: ``net(input_ids, attention_mask)``
    -> a float32 tensor. Runs with torch's intra-op thread count (what sentibench's timing sets).
    ``fused`` is the checked fp32 graph it was built from (another path starts from it)."""

    def __init__(self, graph: bytes, path: str, fused: bytes):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = path
        self.fused = fused
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": _int64(input_ids), "attention_mask": _int64(attention_mask)}
        return torch.from_numpy(self.session.run(None, feed)[0])

    def eval(self) -> OnnxNet:
        return self


def _int64(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.int64, copy=False)


def onnx_net(module: torch.nn.Module, path: str, check: tuple[torch.Tensor, torch.Tensor], *,
             saved: Path | None = None, fused: bytes | None = None) -> OnnxNet | None:
    """The ONNX Runtime network of ``path`` for ``module``; ``None`` where its outputs differ
    from the eager module's on the ``check`` batch by more than :data:`TOLERANCE` (logged).

    It starts from ``fused`` (another path's checked fp32 graph, :attr:`OnnxNet.fused`), else
    from ``saved`` (a saved model's ``model.onnx``), else from an export of ``module``; a
    graph that does not compute ``module`` is not used, and the next source is tried.
    """
    with torch.inference_mode():
        expected = module(*check).float()
    sources = [
        lambda: fused,
        lambda: optimized(read_graph(saved), _hf_config(module)) if saved is not None and Path(saved).is_file() else None,
        lambda: optimized(export(module, check), _hf_config(module)),
    ]
    for source in sources:
        graph = source()
        net = _checked(graph, path, check, expected) if graph is not None else None
        if net is not None:
            return net
    logger.warning("%s: the ONNX graph disagrees with the network; not used", path)
    return None


def _checked(fused: bytes, path: str, check, expected: torch.Tensor) -> OnnxNet | None:
    """The session of ``path`` built from the fp32 ``fused`` graph, if it agrees with ``expected``."""
    net = OnnxNet(quantized(fused) if path == "onnx-int8" else fused, path, fused)
    try:
        got = net(*check)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors (e.g. a graph for other inputs)
        logger.warning("%s: the ONNX graph does not run (%s)", path, type(exc).__name__)
        return None
    return net if got.shape == expected.shape and torch.allclose(got, expected, atol=TOLERANCE[path]) else None


def save_graph(module: torch.nn.Module, pad_id: int, folder: Path) -> None:
    """Write ``module``'s fp32 graph as ``folder/model.onnx`` (atomically) where ONNX Runtime
    is installed: for ONNX Runtime users, and where a loaded model's ONNX paths start from."""
    if onnx_available():
        atomic_write_bytes(Path(folder) / ONNX_FILE, export(module, example_batch(2, 16, pad_id)))


def saved_graph(folder: Path) -> Path | None:
    """``folder/model.onnx`` where there is one and ONNX Runtime is installed, checked now (a
    damaged graph is a :class:`ModelFileError` at load time, not at the first prediction)."""
    file = Path(folder) / ONNX_FILE
    if not (file.is_file() and onnx_available()):
        return None
    read_graph(file)
    return file
