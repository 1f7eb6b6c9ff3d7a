"""Tokenising once, truncating, and cutting reviews into length-grouped batches."""

from __future__ import annotations

import math

import numpy as np

#: Tokens per review, [CLS] and [SEP] included: the seed notebook's max_length.
DEFAULT_MAX_LENGTH = 128


def truncate(ids: list[int], max_tokens: int, strategy: str) -> list[int]:
    """Cut token ids to ``max_tokens``.

    ``"head"`` keeps the first tokens; ``"head+tail"`` keeps the first quarter and the
    last three quarters of the budget (Sun et al., 2019, "How to Fine-Tune BERT for
    Text Classification?": head 128 + tail 382 of 512 was best on long reviews).
    """
    if len(ids) <= max_tokens:
        return ids
    if strategy == "head":
        return ids[:max_tokens]
    head = max_tokens // 4
    return ids[:head] + ids[len(ids) - (max_tokens - head):]


#: Characters kept per token of ``max_length`` from each end of a review that truncation
#: keeps, before tokenising. A WordPiece token never stands for more than 100 characters
#: of a word (a longer word is one [UNK]), and English reviews average 4 to 5 characters
#: per token, so the kept characters hold the tokens truncation keeps unless that part of
#: the review averages more than 100 characters (of whitespace, say) per token; such a
#: review gets fewer tokens, never a tokenizer pass over megabytes.
CHARS_PER_TOKEN = 100
#: Characters that end a word for every tokenizer sentibench loads (BERT's WordPiece,
#: byte-level BPE, SentencePiece): a cut there changes no token before it (or after it).
_SPACES = (" ", "\n", "\t", "\r")


def _head(text: str, chars: int) -> str:
    """The first ``chars`` characters of ``text``, less a word the cut would split."""
    if len(text) <= chars or text[chars].isspace():
        return text[:chars]
    cut = max(text.rfind(space, 0, chars) for space in _SPACES)
    return text[:cut] if cut > 0 else text[:chars]  # no space in reach: one long "word"


def _tail(text: str, chars: int) -> str:
    """The last ``chars`` characters of ``text`` from a space on (so the first word keeps
    the space that BPE tokenizers fold into it), less a word the cut would split."""
    start = len(text) - chars
    if start <= 0 or text[start - 1].isspace():
        return text[max(start, 0):]
    found = [i for i in (text.find(space, start) for space in _SPACES) if i >= 0]
    return text[min(found):] if found else text[start:]


def encodable(text: str) -> str:
    """``text`` as a tokenizer takes it: lone surrogates (legal in a Python str, e.g. from
    errors="surrogateescape") are not encodable text; they become "?" as in UTF-8 "replace"."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def encode(tokenizer, texts: list[str], max_length: int, truncation: str) -> list[list[int]]:
    """Token ids with [CLS]/[SEP], truncated by ``truncation``, in one tokenizer call.

    A review longer than :data:`CHARS_PER_TOKEN` characters per token of ``max_length``
    is cut to the characters truncation can keep (its start, and for ``"head+tail"`` its
    end) before tokenising, at word boundaries: the ids are those of tokenising it whole
    and truncating, at a cost that does not grow with the review.
    """
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls_id is None or sep_id is None:
        raise ValueError(f"{type(tokenizer).__name__} has no [CLS]/[SEP] tokens; use an encoder such as BERT")
    budget = max_length - 2
    chars = CHARS_PER_TOKEN * max_length
    ends = 2 if truncation == "head+tail" else 1
    pieces, spans = [], []
    for text in texts:
        cut = [text] if len(text) <= ends * chars else [_head(text, chars)] + ([_tail(text, chars)] if ends == 2 else [])
        spans.append((len(pieces), len(cut)))
        pieces.extend(encodable(t) for t in cut)
    ids = tokenizer(pieces, add_special_tokens=False, truncation=False, verbose=False)["input_ids"] if pieces else []
    encoded = []
    for first, count in spans:
        if count == 1:
            kept = truncate(ids[first], budget, truncation)
        else:  # the head's first tokens and the tail's last, as truncate() keeps them of the whole review
            head, tail = ids[first], ids[first + 1]
            kept = head[: budget // 4] + tail[max(len(tail) - (budget - budget // 4), 0):]
        encoded.append([cls_id, *kept, sep_id])
    return encoded


def collate(encoded: list[list[int]], batch, pad_id: int, max_length: int, multiple: int | None, device):
    """Pad one batch to its longest review, rounded up to ``multiple``. For a GPU the
    tensors are built in pinned memory and copied without waiting (``non_blocking``), so
    the next batch travels while the GPU computes."""
    import torch  # here, so that the rest of this module needs no torch (``data info``)

    longest = max(len(encoded[i]) for i in batch)
    multiple = multiple or 1
    width = min(-(-longest // multiple) * multiple, max(max_length, longest))
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        seq = encoded[i]
        input_ids[row, : len(seq)] = torch.as_tensor(seq)
        attention[row, : len(seq)] = 1
    return to_device(input_ids, device), to_device(attention, device)


def to_device(tensor, device: str):
    """``tensor`` on ``device``; to a GPU through pinned memory, without waiting for the copy."""
    import torch

    if torch.device(device).type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def length_grouped_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices of similar length, in shuffled order.

    Indices are sorted by length (ties broken at random, so equal-length items mix
    between epochs), cut into consecutive batches, and the batch order is shuffled.
    Every index appears exactly once.
    """
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def distributed_length_grouped_batches(lengths, batch_size: int, seed: int, epoch: int, rank: int, world_size: int):
    """This process's share of an epoch of length-grouped batches.

    Every process draws the same permutation (seeded by ``seed + epoch``), so the shares
    are disjoint and together cover every index exactly once. The epoch is cut into a
    multiple of ``world_size`` batches of at most ``batch_size`` (a few are one smaller),
    so every process takes the same number of optimizer steps, as DDP requires.
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(seed + epoch)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    n_batches = max(1, math.ceil(len(order) / (batch_size * world_size))) * world_size
    batches = [b for b in np.array_split(order, n_batches) if len(b)]
    rng.shuffle(batches)
    per_process = len(batches) // world_size
    return batches[rank * per_process : (rank + 1) * per_process]
