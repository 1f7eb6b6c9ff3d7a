"""Showing text from the user's data (or a run folder) inside Markdown without it becoming
markup, and on a terminal without it becoming escape sequences."""

from __future__ import annotations

import re

__all__ = ["md_literal", "terminal_safe"]

# Control characters and bidirectional overrides: shown as spaces, so a review cannot
# drive a terminal or reorder what a reader sees.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BACKTICKS = re.compile(r"`+")


def terminal_safe(text) -> str:
    """``text`` with every control character and bidirectional override written as its
    escape (``\\x1b``, ``\\u202e``): a name read from a crafted run folder cannot recolour,
    retitle or clear the terminal it is printed on."""
    return _INVISIBLE.sub(lambda m: ascii(m.group())[1:-1], str(text))


#: What makes markup in a sentence: always-special characters, ``]`` that closes a link's
#: text, ``:`` of a URL scheme (``http://``, ``mailto:x``) and the dot of ``www.`` (GitHub's
#: autolinks). A backslash makes each one a plain character (CommonMark escapes ASCII punctuation).
_MARKUP = re.compile(r"""[\\`*_<>!&~|@]|\](?=[(\[:])|:(?=\S)|(?<=www)\.""", re.IGNORECASE)


def md_text(text) -> str:
    """``text`` as a plain Markdown sentence: no link, image, tag, code, emphasis or autolink
    is made of it, and an ordinary sentence reads as written (``use bow: ... [95% CI ...]``).
    For sentences sentibench composes itself (the recommendation) but reads back from a run
    folder, which anyone can edit. Runs of whitespace become one space."""
    text = " ".join(_INVISIBLE.sub(" ", str(text)).split())
    return _MARKUP.sub(lambda m: "\\" + m.group(), text)


def md_literal(text, *, limit: int | None = None, table: bool = False) -> str:
    """``text`` as a Markdown code span: rendered exactly as written, never as markup.

    Inside a code span CommonMark renders HTML tags, entities, links, images and
    emphasis literally, and GitHub does not autolink URLs, so a review holding
    ``<script>``, ``![x](http://...)`` or ``javascript:`` shows as plain text.

    Parameters
    ----------
    text : object
        Shown with ``str``; runs of whitespace (line breaks included) become one space.
    limit : int, optional
        Longest text shown; longer text is cut and ends with "…".
    table : bool, default=False
        The span sits in a table cell: ``|`` is escaped (GFM reads ``\\|`` inside a
        table cell's code span as ``|``).
    """
    text = " ".join(_INVISIBLE.sub(" ", str(text)).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text:
        return "(empty)"
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if table:
        text = text.replace("|", "\\|")
    # A span that starts or ends with a backtick needs a space inside the fence;
    # CommonMark strips one space from each side again.
    if text[0] == "`" or text[-1] == "`":
        text = f" {text} "
    return f"{fence}{text}{fence}"
