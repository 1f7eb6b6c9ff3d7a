"""``python -m benchmark perf``: speed side by side in one run, on one machine.

:mod:`.bert` measures BERT fine-tuning and serving recipes (the seed notebook's, the Hugging
Face Trainer and pipeline, sentibench's), :mod:`.bert_report` prints them; :mod:`.classical`
measures the classical models against fastText. Both print the CPU model and its matrix instructions first: figures from
two machines are never comparable, ratios within one run are.
"""

from __future__ import annotations

from pathlib import Path

from dataset import DEFAULT_SAMPLE

#: The shared review sentences beside the project, when they are there.
SHARED_SENTENCES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "yelp_sentences.csv"


def perf_data(data: str | None) -> str:
    """What both perf commands measure on: ``data``, else ../shared/data/yelp_sentences.csv
    when it is there, else the bundled default sample."""
    return data or (str(SHARED_SENTENCES) if SHARED_SENTENCES.is_file() else DEFAULT_SAMPLE)
