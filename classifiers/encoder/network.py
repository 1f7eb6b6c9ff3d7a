"""The networks sentibench builds on a Hugging Face encoder, as
``(input_ids, attention_mask) -> outputs``: one module serves training, evaluation,
tracing and export."""

from __future__ import annotations

import torch

from dataset import UsageError

from .hub import load_pretrained

POOLINGS = ("cls", "mean")


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of the hidden states over real tokens (padding masked out)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


class PooledClassifier(torch.nn.Module):
    """A ``*ForSequenceClassification`` model as ``(input_ids, attention_mask) -> logits``.

    ``pooling="cls"`` is the model's own head (the [CLS] pooler); ``"mean"`` averages
    the last hidden states over real tokens and feeds the model's dropout and
    classifier layers (BERT-style models).
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
        return self.net.classifier(self.net.dropout(mean_pool(hidden, attention_mask)))


class MeanPooledEncoder(torch.nn.Module):
    """``(input_ids, attention_mask) -> L2-normalised mean of the last hidden states``: a
    sentence embedding, as sentence-transformers computes it for all-MiniLM-L6-v2."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)


def position_limit(hf_model) -> int | None:
    """The most tokens ``hf_model`` reads per review: its config's ``max_position_embeddings``,
    less the offset of RoBERTa-style models (their positions start after the padding index);
    ``None`` for a model without learned absolute positions."""
    limit = getattr(hf_model.config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    positions = getattr(getattr(hf_model.base_model, "embeddings", None), "position_embeddings", None)
    offset = getattr(positions, "padding_idx", None)
    return limit - (offset + 1) if isinstance(offset, int) else limit


def check_max_length(hf_model, max_length: int, name: str) -> None:
    """Refuse a ``max_length`` the model cannot read, before any review is encoded (else
    the first review longer than the limit fails mid-training or mid-prediction)."""
    limit = position_limit(hf_model)
    if limit is not None and max_length > limit:
        raise UsageError(
            f"{name}: max_length={max_length} is more tokens than the checkpoint reads ({limit}, from "
            f"max_position_embeddings in its config.json); set {name}.max_length to at most {limit}"
        )


def network_for_training(model, *, pooling: str, id2label: dict, attention_dropout: float, freeze_embeddings: bool,
                         max_length: int, device: str):
    """Tokenizer, Hugging Face model and the :class:`PooledClassifier` to train.

    The pooler is frozen with mean pooling (unused; DDP would wait for its gradients),
    and the word embeddings with ``freeze_embeddings`` (half of MiniLM's weights; their
    dense gradient and update are a large share of a short-sentence step).
    """
    tokenizer, hf_model = load_pretrained(
        model, attention_probs_dropout_prob=attention_dropout,
        num_labels=len(id2label), id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )
    check_max_length(hf_model, max_length, "bert")
    # Plain transformers then truncates as training did (pipeline(..., truncation=True)).
    tokenizer.model_max_length = max_length
    net = PooledClassifier(hf_model, pooling).to(device)
    pooler = getattr(hf_model.base_model, "pooler", None)
    if pooling == "mean" and pooler is not None:
        pooler.requires_grad_(False)
    if freeze_embeddings:
        hf_model.get_input_embeddings().weight.requires_grad_(False)
    return tokenizer, hf_model, net


def example_batch(batch: int, length: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` of ``batch`` random reviews of ``length`` tokens, all
    rows but the first half padding (so that tracing and export see the mask used): what
    traced and exported networks are built on and checked against the eager ones with."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    ids[1:, length // 2 :] = pad_id
    mask[1:, length // 2 :] = 0
    return ids, mask
