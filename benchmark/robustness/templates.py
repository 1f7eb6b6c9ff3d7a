"""Templates into texts: every combination of a template's slots, or a seeded draw of them.

A template such as ``"The {noun} was not {pos_adj}."`` stands for one text per combination of
the words of its lists (``noun`` x ``pos_adj``). A slot that appears twice takes the same word
both times; ``{noun2}`` is a second, independent draw from ``noun``. Words may hold slots of
their own (``"I went there on a {day}."``): those are filled by a seeded draw.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from itertools import accumulate
from math import prod

import numpy as np

from .suite import Test, list_of, placeholders

__all__ = ["case_rng", "draw", "expand", "mft_cases", "n_combinations"]


def case_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one test: the run's seed and the test's name (CRC-32, the same in
    every process), so a test's cases do not depend on which other tests run or in what order."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def n_combinations(template: str, lists: dict) -> int:
    """How many texts ``template`` stands for (its top-level slots)."""
    return prod(len(lists[list_of(s)]) for s in placeholders(template))


def _fill(template: str, words: dict[str, str], lists: dict, rng: np.random.Generator, depth: int = 0) -> str:
    """``template`` with each slot replaced by ``words[slot]``, or a word drawn with ``rng``;
    slots inside the chosen words are drawn in turn (the suite refuses circles)."""
    out = template
    for slot in placeholders(template):
        word = words.get(slot)
        if word is None:
            options = lists[list_of(slot)]
            word = options[int(rng.integers(len(options)))]
        if placeholders(word):
            word = _fill(word, {}, lists, rng, depth + 1)
        out = out.replace("{" + slot + "}", word)
    return out


def draw(template: str, lists: dict, rng: np.random.Generator) -> str:
    """One text of ``template``, every slot drawn with ``rng``."""
    return _fill(template, {}, lists, rng)


def _combination(template: str, index: int, lists: dict) -> dict[str, str]:
    """The ``index``-th combination of the template's slots (the last slot varies fastest)."""
    words = {}
    for slot in reversed(placeholders(template)):
        options = lists[list_of(slot)]
        index, k = divmod(index, len(options))
        words[slot] = options[k]
    return words


def expand(template: str, lists: dict, rng: np.random.Generator | None = None) -> list[str]:
    """Every text ``template`` stands for, in order (slots inside words drawn with ``rng``)."""
    rng = rng or np.random.default_rng(0)
    return [_fill(template, _combination(template, i, lists), lists, rng) for i in range(n_combinations(template, lists))]


def mft_cases(test: Test, lists: dict, max_cases: int, seed: int) -> list[dict]:
    """The cases of a minimum-functionality test: ``{"text", "expect"}`` each.

    Every combination of every template when they number at most ``max_cases``; otherwise
    ``max_cases`` of them drawn without replacement; in a random order, from the test's own
    seeded stream (see :func:`case_rng`). A text that two templates give is kept once.
    """
    rng = case_rng(seed, test.name)
    entries = [(expect, template) for expect, templates in test.expect.items() for template in templates]
    sizes = [n_combinations(t, lists) for _, t in entries]
    total = sum(sizes)
    # In a seeded random order: the first failures of a test (the report's examples) are a sample of them.
    chosen = rng.permutation(total).tolist() if total <= max_cases else rng.choice(total, size=max_cases, replace=False).tolist()
    starts = [0, *accumulate(sizes)][:-1]
    cases, seen = [], set()
    for flat in chosen:
        k = bisect_right(starts, flat) - 1
        expect, template = entries[k]
        text = _fill(template, _combination(template, int(flat) - starts[k], lists), lists, rng)
        if text not in seen:
            seen.add(text)
            cases.append({"text": text, "expect": expect})
    return cases
