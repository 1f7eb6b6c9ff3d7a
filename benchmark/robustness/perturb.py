"""Perturbations of a review that should not change what it says.

Each takes the review, the test's seeded random stream and the test, and returns the
perturbed review, or ``None`` when it does not apply (a review with no name to change, no
number, no contraction): such a review is not a case of that test. They work on reviews as
people write them and on tokenised corpora alike ("wasn't" and "was n't").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from .suite import Test
from .templates import draw

__all__ = ["PERTURB", "apply"]

#: Expanded form, contracted form; the first pair with a contracted form is how it expands.
_CONTRACTIONS = (
    ("cannot", "can't"), ("can not", "can't"), ("will not", "won't"), ("do not", "don't"), ("does not", "doesn't"),
    ("did not", "didn't"), ("is not", "isn't"), ("was not", "wasn't"), ("were not", "weren't"), ("are not", "aren't"),
    ("would not", "wouldn't"), ("could not", "couldn't"), ("should not", "shouldn't"), ("have not", "haven't"),
    ("has not", "hasn't"), ("had not", "hadn't"), ("it is", "it's"), ("that is", "that's"), ("there is", "there's"),
    ("what is", "what's"), ("i am", "i'm"), ("they are", "they're"), ("we are", "we're"), ("you are", "you're"),
    ("i have", "i've"), ("we have", "we've"), ("i will", "i'll"), ("we will", "we'll"), ("i would", "i'd"),
)
_END_PUNCTUATION = re.compile(r"\s*[.!?,;:]+\s*$")
# A whole number, not part of a decimal, a word or a rating ("5 stars", "4/5", "8 out of 10").
_NUMBER = re.compile(r"(?<![\w./])(?<!out of )\d+(?!\w|\.\d)(?!\s*(?:/|out of|stars?\b|-star))", re.IGNORECASE)
_WORD = re.compile(r"(?<![\w'])[A-Za-z]{4,}(?![\w'])")


def _contracted_pattern(contracted: str) -> str:
    # "wasn't" also as tokenised corpora write it: "was n't"; "it's" as "it 's".
    head, tail = (contracted[:-3], "n") if contracted.endswith("n't") else (contracted.split("'")[0], "")
    rest = contracted.split("'")[1]
    return re.escape(head) + r"\s?" + re.escape(tail) + "['\u2019]" + re.escape(rest)


_EXPAND = [(re.compile(rf"\b{_contracted_pattern(c)}(?!\w)", re.IGNORECASE), e)
           for c, e in {c: e for e, c in reversed(_CONTRACTIONS)}.items()]
_CONTRACT = [(re.compile(rf"\b{re.escape(e)}\b", re.IGNORECASE), c) for e, c in _CONTRACTIONS]


def _same_case(replacement: str, original: str) -> str:
    """``replacement`` with a capital first letter where ``original`` has one."""
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def typos(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """``test.count`` typos, each two neighbouring letters swapped inside a different content word
    (four letters or more, not on the ``stopword`` list) where the review has enough of them."""
    stop = {w.lower() for w in lists.get("stopword", [])}
    spans = [m.span() for m in _WORD.finditer(text) if m.group().lower() not in stop]
    if not spans:
        return None
    chars = list(text)
    picked = rng.choice(len(spans), size=min(test.count, len(spans)), replace=False)
    for k in sorted(int(i) for i in picked):
        start, end = spans[k]
        # Positions where the two letters differ, so the word really changes.
        options = [i for i in range(start, end - 1) if chars[i].lower() != chars[i + 1].lower()]
        if options:
            i = options[int(rng.integers(len(options)))]
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    out = "".join(chars)
    return out if out != text else None


def punctuation(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """The final punctuation taken away, or a full stop added where there is none."""
    stripped = _END_PUNCTUATION.sub("", text)
    if stripped != text:
        return stripped or None
    return text + "."


def case(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """Lower case; a review that is already lower case gets a capital at the start of each sentence."""
    if text != text.lower():
        return text.lower()
    out = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return out if out != text else None


def contractions(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """Every contraction expanded ("wasn't" -> "was not"); a review without one gets every
    expandable phrase contracted ("do not" -> "don't")."""
    for table in (_EXPAND, _CONTRACT):
        out = text
        for pattern, replacement in table:
            out = pattern.sub(lambda m, r=replacement: _same_case(r, m.group()), out)
        if out != text:
            return out
    return None


def swap(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """Each word of the list ``test.words`` (a first name, a city) replaced by another one of
    the list, the same one wherever it recurs."""
    words = sorted(lists[test.words], key=len, reverse=True)  # "New York" before "York"
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
    found = list(dict.fromkeys(m.group().lower() for m in pattern.finditer(text)))
    if not found:
        return None
    new = {}
    for word in found:
        others = [w for w in lists[test.words] if w.lower() != word]
        new[word] = others[int(rng.integers(len(others)))]

    def replace(match):
        original = match.group()
        return new[original.lower()].lower() if original.islower() else new[original.lower()]

    return pattern.sub(replace, text)


def numbers(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """Each whole number changed to another of about the same size (within 20%, at least by
    one); ratings ("5 stars", "4/5", "8 out of 10") are left alone, as they carry sentiment."""
    if not _NUMBER.search(text):
        return None

    def replace(match):
        n = int(match.group())
        low, high = max(0, int(n * 0.8)), max(int(n * 1.2), n + 1)
        options = [v for v in range(low, high + 1) if v != n]
        return str(options[int(rng.integers(len(options)))])

    return _NUMBER.sub(replace, text)


def append(text: str, rng: np.random.Generator, test: Test, lists: dict) -> str | None:
    """A sentence drawn from ``test.texts`` (templates) added at the end of the review."""
    template = test.texts[int(rng.integers(len(test.texts)))]
    return f"{text.rstrip()} {draw(template, lists, rng)}"  # as CheckList adds phrases: after a space


#: Perturbation name (``"perturb"`` in a suite) -> function.
PERTURB: dict[str, Callable[..., str | None]] = {
    "typos": typos, "punctuation": punctuation, "case": case, "contractions": contractions, "swap": swap,
    "numbers": numbers, "append": append,
}


def apply(test: Test, text: str, rng: np.random.Generator, lists: dict) -> str | None:
    """``text`` perturbed as ``test`` says, or ``None`` when the perturbation does not apply or changes nothing."""
    out = PERTURB[test.perturb](text, rng, test, lists)
    return None if out is None or out == text else out
