"""The network as ``(input_ids, attention_mask) -> logits``, and fast CPU inference."""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings

import numpy as np
import torch

from ._hub import quiet_transformers

logger = logging.getLogger(__name__)

POOLINGS = ("cls", "mean")


class PooledClassifier(torch.nn.Module):
    """A ``*ForSequenceClassification`` model as ``(input_ids, attention_mask) -> logits``.

    ``pooling="cls"`` is the model's own head (the [CLS] pooler); ``"mean"`` averages
    the last hidden states over real tokens and feeds the model's dropout and
    classifier layers (BERT-style models). One module serves training, evaluation and
    tracing.
    """

    def __init__(self, net, pooling: str):
        super().__init__()
        if pooling == "mean" and not (hasattr(net, "classifier") and hasattr(net, "dropout")):
            raise ValueError(f"pooling='mean' supports BERT-style models only; use pooling='cls' for {type(net).__name__}")
        self.net = net
        self.pooling = pooling

    def forward(self, input_ids, attention_mask):
        if self.pooling == "cls":
            return self.net(input_ids=input_ids, attention_mask=attention_mask).logits
        hidden = self.net.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.net.classifier(self.net.dropout(pooled))


@contextlib.contextmanager
def warnings_silenced():
    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; it still works here.
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
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings_silenced(), quiet_transformers():
        model = copy.deepcopy(module).eval()
        targets = {
            name: per_channel_dynamic_qconfig
            for name, layer in model.named_modules()
            if isinstance(layer, torch.nn.Linear) and not name.endswith("classifier")
        }
        quantized = quantize_dynamic(model, targets)
        example = _example_batch(2, 16, pad_id)
        check = _example_batch(3, 24, pad_id)
        with torch.inference_mode():
            traced = torch.jit.trace(quantized, example, check_trace=False)
            if torch.allclose(traced(*check), quantized(*check), atol=1e-3):
                return traced
    logger.warning("TorchScript trace of the int8 model disagrees with eager mode; using eager int8")
    return quantized


def _example_batch(batch: int, length: int, pad_id: int):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    ids[1:, length // 2 :] = pad_id  # padded rows, so the mask path is traced too
    mask[1:, length // 2 :] = 0
    return ids, mask


def predict_logits(net, encoded, runtime, *, autocast: bool = True, batch_size: int = 64) -> torch.Tensor:
    """Logits (float32, CPU) of ``net`` (in eval mode) in input order; batches sorted by length."""
    order = np.argsort([len(s) for s in encoded], kind="stable")
    out = torch.empty((len(encoded), 2), dtype=torch.float32)
    with torch.inference_mode(), runtime.attention_kernel(), runtime.autocast(enabled=autocast):
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            logits = net(*runtime.collate(encoded, batch))
            out[torch.as_tensor(batch)] = logits.float().cpu()
    return out
