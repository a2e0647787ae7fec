"""Which names a memory mentions, without a model: its capitalised and quoted phrases
(`mentioned_names`, which consolidation also pairs into graph candidates) and the namespace's known
entity names and aliases.

Known names are matched case-insensitively on word bounds by looking up the text's word n-grams in
a table of the names' word tuples: the cost grows with the text, not with the number of names, so
a graph of many thousand names links as fast as one of ten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from athena_mcp.store.fts import STOPWORDS
from athena_mcp.store.graph import normalise

_WORD = re.compile(r"\w+")
# Longer names are not looked for: entity names are short, and the n-gram walk is bounded by it.
MAX_NAME_WORDS = 8
# Quoted or back-ticked phrases, and runs of capitalised words ("Alice", "New York", "PostgreSQL").
# A quoted name starts and ends with a word character: in `said, "I loved "Becoming Nicole" by`
# the span between two quotes that are not a pair ("I loved ") ends with a space.
_QUOTED = re.compile(r"[\"“`](\w[^\"”`\n]{0,58}\w)[\"”`]")
_CAPITALISED = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*")
# An opening quote or bracket starts a sentence too: dialog is quoted ('Tom said, "Thanks ...').
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*|[\"“‘'(]\s*)$")
# A quoted utterance is not a name: quoted names are short and carry no sentence punctuation.
_UTTERANCE = re.compile(r"[,.!?;:]\s|[.!?]$")
MAX_QUOTED_WORDS = 6
# Words that open a sentence capitalised and are never a name: a greeting or an interjection before
# a name ("Hey Melanie", "Thanks Caroline") is dropped, and alone it is no name at all.
INTERJECTIONS = frozenset(
    """
    hey hi hello thanks thank wow yeah yes yep nope oh ah aw awww aww wow omg lol haha hmm ok okay
    sure great cool nice awesome absolutely agreed definitely totally exactly congrats
    congratulations sorry well good bye goodbye welcome dear please yay ugh whoa gosh btw woohoo
    """.split()
)
# Days and months name times, not things ("Last Friday", "Tues"); "May", "March" and "Sun" are left
# out, being names as often.
CALENDAR = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat
    january february april june july august september october november december jan feb mar apr
    jun jul aug sep sept oct nov dec last next this every early late
    """.split()
)
MAX_NAMES_PER_EVENT = 8
MAX_NAME_CHARS = 60


def mentioned_names(text: str) -> list[str]:
    """Names an event mentions, in order of first mention, at most MAX_NAMES_PER_EVENT.

    A capitalised word that opens a sentence or a quotation is taken only as part of a longer run
    ("Alice went" gives nothing from "Alice" alone, "Alice Smith went" gives "Alice Smith"): at a
    sentence start capitals say nothing. Leading function words and interjections are stripped
    ("The Berlin office" -> "Berlin", "Hey Melanie" -> "Melanie"), and a trailing "I" ("Yesterday I
    went" gives nothing). A quoted phrase is a name only if it is short and no utterance
    ('"Becoming Nicole"', not '"Thanks, Caroline!"'): on LoCoMo's dev conversations this took the
    graph candidates from 921 (11 % with both names in the authors' observations) to 138 (44 %)."""
    found: dict[str, str] = {}
    for match in _QUOTED.finditer(text):
        phrase = match.group(1).strip()
        if len(phrase.split()) <= MAX_QUOTED_WORDS and not _UTTERANCE.search(phrase):
            _add(found, phrase)
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).split()
        while words and (words[0].lower() in STOPWORDS or words[0].lower() in INTERJECTIONS):
            words = words[1:]
        while words and words[-1] == "I":  # "Yesterday I went": the pronoun ends no name
            words = words[:-1]
        at_start = bool(_SENTENCE_START.search(text[: match.start()]))
        if not words or (at_start and len(words) == 1 and words[0] == match.group(0).split()[0]):
            continue
        _add(found, " ".join(words))
    return list(found.values())[:MAX_NAMES_PER_EVENT]


def _add(found: dict[str, str], name: str) -> None:
    folded = name.lower()
    if all(word in CALENDAR for word in folded.split()):
        return
    if 2 <= len(name) <= MAX_NAME_CHARS and folded not in STOPWORDS and folded not in INTERJECTIONS:
        found.setdefault(name.casefold(), name)


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
