"""``python -m benchmark data info PATH``: what is in a review file (the seed's section 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from dataset import ReviewData, UsageError, dropped_text, terminal_safe

from .prepare import duplicate_counts

#: Token lengths are counted on at most this many reviews (a seeded sample).
MAX_TOKENIZED = 20_000


def describe(data: ReviewData, *, max_tokenized: int = MAX_TOKENIZED, seed: int = 0) -> dict:
    """Rows, class balance, dropped rows and text lengths in words and BERT tokens.

    Token counts use the bundled uncased BERT WordPiece tokenizer (the vocabulary of
    bert-base-uncased), [CLS] and [SEP] included, on a seeded sample of at most
    ``max_tokenized`` reviews.
    """
    words = pd.Series(data.texts, dtype=object).str.split().str.len().to_numpy()
    tokens, max_length = _token_lengths(data, max_tokenized, seed)
    counts = data.class_counts()
    info = {
        "source": data.source,
        "format": data.format,
        "rows_read": data.n_read,
        "rows": len(data),
        "dropped": data.dropped,
        "classes": {_class_title(data, c): int(counts[c]) for c in range(data.n_classes)},
        "class_shares": {_class_title(data, c): counts[c] / len(data) for c in range(data.n_classes)},
        "ordinal": data.ordinal,
        "duplicates": duplicate_counts(data),
        "words": _stats(words),
        "tokens": None,
        "_words": words,
        "_tokens": tokens,
    }
    if tokens is not None:
        info["tokens"] = {**_stats(tokens), "sampled": int(len(tokens)), "max_length": max_length,
                          "share_over_max_length": float((tokens > max_length).mean())}
    return info


def _class_title(data: ReviewData, k: int) -> str:
    """A class's name, with the label values it holds when they read differently."""
    name, values = data.classes[k], str(data.label_names.get(k, ""))
    return name if values in ("", name) else f"{name} ({values})"


def _token_lengths(data: ReviewData, max_tokenized: int, seed: int):
    """BERT token counts of a seeded sample, or ``(None, None)`` without the bert extra."""
    from classifiers.encoder.batching import DEFAULT_MAX_LENGTH
    from classifiers.encoder.hub import bundled_tokenizer

    tokenizer = bundled_tokenizer()
    if tokenizer is None:
        return None, None
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(data), size=min(max_tokenized, len(data)), replace=False))
    tokens = np.array([len(ids) for ids in tokenizer([data.texts[i] for i in sample], verbose=False)["input_ids"]])
    return tokens, DEFAULT_MAX_LENGTH


def _stats(values: np.ndarray) -> dict:
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": int(values.max()),
    }


def format_info(info: dict) -> str:
    dropped = dropped_text(info["dropped"])
    # Class names and the source come from the user's data: shown, never obeyed by a terminal.
    classes = ", ".join(f"{terminal_safe(name)}: {n:,} ({info['class_shares'][name]:.1%})" for name, n in info["classes"].items())
    dup = info["duplicates"]
    words = info["words"]
    rows = [["words", f"{words['mean']:.1f}", f"{words['median']:.0f}", f"{words['p95']:.0f}", words["max"], ""]]
    tokens = info["tokens"]
    if tokens:
        rows.append([
            f"BERT tokens ({tokens['sampled']:,} reviews)", f"{tokens['mean']:.1f}", f"{tokens['median']:.0f}",
            f"{tokens['p95']:.0f}", tokens["max"], f"{tokens['share_over_max_length']:.1%}",
        ])
    over = f"> {tokens['max_length']} tokens" if tokens else ""
    lines = [
        f"{terminal_safe(info['source'])} ({info['format']}): {info['rows']:,} reviews "
        f"({info['rows_read']:,} rows read; dropped: {dropped})",
        f"classes ({'ordered' if info['ordinal'] else 'unordered'}): {classes}",
        f"duplicates: {dup['duplicate_rows']:,} repeated reviews; {dup['conflicting_texts']:,} texts with more than one label "
        f"({dup['conflicting_rows']:,} rows)",
        "",
        tabulate(rows, headers=["length", "mean", "median", "95th pct", "max", over], tablefmt="github", disable_numparse=True),
    ]
    if not tokens:
        lines.append("(BERT token counts need the bert extra: pip install 'sentibench[bert]')")
    return "\n".join(lines)


def length_histogram(info: dict, path: Path) -> Path:
    """Histograms of review length in words and in BERT tokens, with the truncation length marked."""
    from .report import plots

    tokens = info["tokens"]
    try:
        return plots.length_histogram_plot(
            info["_words"], info["_tokens"], tokens["max_length"] if tokens else None, Path(path), title=Path(info["source"]).name,
        )
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
