"""sentibench's one tokenizer, shared by the bag-of-words and the Word2Vec classifiers.

Lower-cased runs of letters, digits and underscores with inner apostrophes ("don't",
"n't", "it's"), plus "!" and "?", which carry sentiment; other punctuation is dropped.
scikit-learn's default pattern (``(?u)\\b\\w\\w+\\b``) splits "wasn't" into "wasn" and
drops "!", "?" and one-letter words; docs/design.md has the measurements that made this
one the default.
"""

from __future__ import annotations

import re

__all__ = ["TOKEN_PATTERN", "tokenize"]

#: The tokenizer as a regular expression (no capturing group, so scikit-learn's
#: vectorizers can use it as ``token_pattern`` on lower-cased text).
TOKEN_PATTERN = r"\w+(?:'\w+)*|[!?]"
_TOKEN_RE = re.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    """Tokens of ``text``.

    >>> tokenize("The pasta wasn't great!! _num_ stars?")
    ['the', 'pasta', "wasn't", 'great', '!', '!', '_num_', 'stars', '?']
    """
    return _TOKEN_RE.findall(text.lower())
