"""Which names a memory mentions, without a model: its capitalised and quoted phrases
(`consolidation.extraction.mentioned_names`) and the namespace's known entity names and aliases.

Known names are matched case-insensitively on word bounds by looking up the text's word n-grams in
a table of the names' word tuples: the cost grows with the text, not with the number of names, so
a graph of many thousand names links as fast as one of ten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from athena_mcp.consolidation.extraction import mentioned_names
from athena_mcp.store.graph import normalise

_WORD = re.compile(r"\w+")
# Longer names are not looked for: entity names are short, and the n-gram walk is bounded by it.
MAX_NAME_WORDS = 8


class NameMatcher:
    """Finds known normalised names in text, case-insensitively and on word bounds."""

    def __init__(self, names: Iterable[str]) -> None:
        self._by_words: dict[tuple[str, ...], list[str]] = {}
        for name in names:
            words = tuple(name_words(name))
            if 0 < len(words) <= MAX_NAME_WORDS:
                self._by_words.setdefault(words, []).append(name)
        # Every leading part of a name, so a walk stops as soon as no name can continue it.
        self._prefixes = {words[:size] for words in self._by_words for size in range(1, len(words) + 1)}

    def find(self, text: str) -> set[str]:
        folded = text.casefold()
        matches = list(_WORD.finditer(folded))
        words = [match.group(0) for match in matches]
        found: set[str] = set()
        for start in range(len(words)):
            for end in range(start + 1, min(start + MAX_NAME_WORDS, len(words)) + 1):
                key = tuple(words[start:end])
                if key not in self._prefixes:
                    break
                for name in self._by_words.get(key, ()):
                    # A name with punctuation ("node.js", "c++") must also be spelt so in the text.
                    if " ".join(key) == name or folded.startswith(name, matches[start].start()):
                        found.add(name)
        return found


def name_words(name: str) -> list[str]:
    """The words a name is matched by (its letters and digits; punctuation is checked apart)."""
    return _WORD.findall(name.casefold())


def linked_names(text: str, matcher: NameMatcher) -> set[str]:
    """The normalised names `text` mentions: its capitalised and quoted phrases, and the known names in it."""
    return {normalise(name) for name in mentioned_names(text)} | matcher.find(text)
