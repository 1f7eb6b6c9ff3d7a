"""``python -m benchmark data info PATH``: what is in a review file (the seed's section 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from dataset import ReviewData

#: Token lengths are counted on at most this many reviews (a seeded sample).
MAX_TOKENIZED = 20_000
BERT_MAX_LENGTH = 128


def describe(data: ReviewData, *, max_tokenized: int = MAX_TOKENIZED, seed: int = 0) -> dict:
    """Rows, class balance, dropped rows and text lengths in words and BERT tokens.

    Token counts use the bundled uncased BERT WordPiece tokenizer (the vocabulary of
    bert-base-uncased), [CLS] and [SEP] included, on a seeded sample of at most
    ``max_tokenized`` reviews.
    """
    from classifiers.bert import bundled_model_path
    from transformers import AutoTokenizer

    words = pd.Series(data.texts, dtype=object).str.split().str.len().to_numpy()
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(data), size=min(max_tokenized, len(data)), replace=False))
    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    tokens = np.array([len(ids) for ids in tokenizer([data.texts[i] for i in sample], verbose=False)["input_ids"]])
    counts = data.class_counts()
    return {
        "source": data.source,
        "format": data.format,
        "rows_read": data.n_read,
        "rows": len(data),
        "dropped": data.dropped,
        "classes": {f"{kind} ({data.label_names[c]})": int(counts[c]) for c, kind in ((0, "negative"), (1, "positive"))},
        "positive_share": counts[1] / len(data),
        "words": _stats(words),
        "tokens": {**_stats(tokens), "sampled": int(len(tokens)), f"share_over_{BERT_MAX_LENGTH}": float((tokens > BERT_MAX_LENGTH).mean())},
        "_words": words,
        "_tokens": tokens,
    }


def _stats(values: np.ndarray) -> dict:
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": int(values.max()),
    }


def format_info(info: dict) -> str:
    dropped = ", ".join(f"{k}: {v:,}" for k, v in info["dropped"].items()) or "none"
    classes = ", ".join(f"{name}: {n:,}" for name, n in info["classes"].items())
    rows = [
        ["words", f"{info['words']['mean']:.1f}", f"{info['words']['median']:.0f}", f"{info['words']['p95']:.0f}", info["words"]["max"], ""],
        [
            f"BERT tokens ({info['tokens']['sampled']:,} reviews)", f"{info['tokens']['mean']:.1f}",
            f"{info['tokens']['median']:.0f}", f"{info['tokens']['p95']:.0f}", info["tokens"]["max"],
            f"{info['tokens'][f'share_over_{BERT_MAX_LENGTH}']:.1%}",
        ],
    ]
    return "\n".join([
        f"{info['source']} ({info['format']}): {info['rows']:,} reviews ({info['rows_read']:,} rows read; dropped: {dropped})",
        f"classes: {classes} ({info['positive_share']:.1%} positive)",
        "",
        tabulate(rows, headers=["length", "mean", "median", "95th pct", "max", f"> {BERT_MAX_LENGTH} tokens"], tablefmt="github", disable_numparse=True),
    ])


def length_histogram(info: dict, path: Path) -> Path:
    """Histograms of review length in words and in BERT tokens, with the 128-token cut."""
    from . import plots

    return plots.length_histogram_plot(info["_words"], info["_tokens"], BERT_MAX_LENGTH, Path(path), title=Path(info["source"]).name)
