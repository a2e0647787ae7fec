"""Text work that needs no model: names mentioned in an event, and a session's digest."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from athena_mcp.store.fts import STOPWORDS

# Quoted or back-ticked phrases, and runs of capitalised words ("Alice", "New York", "PostgreSQL").
_QUOTED = re.compile(r"[\"“`]([^\"”`\n]{2,60})[\"”`]")
_CAPITALISED = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)$")
MAX_NAMES_PER_EVENT = 8
MAX_NAME_CHARS = 60
DIGEST_CHARS = 2_000
DIGEST_STEP_CHARS = 160


def mentioned_names(text: str) -> list[str]:
    """Names an event mentions, in order of first mention, at most MAX_NAMES_PER_EVENT.

    A capitalised word that opens a sentence is taken only as part of a longer run ("Alice went"
    gives nothing from "Alice" alone, "Alice Smith went" gives "Alice Smith"): at a sentence start
    capitals say nothing. Leading function words are stripped ("The Berlin office" -> "Berlin")."""
    found: dict[str, str] = {}
    for match in _QUOTED.finditer(text):
        _add(found, match.group(1).strip())
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower() in STOPWORDS:
            words = words[1:]
        at_start = bool(_SENTENCE_START.search(text[: match.start()]))
        if not words or (at_start and len(words) == 1 and words == match.group(0).split()):
            continue
        _add(found, " ".join(words))
    return list(found.values())[:MAX_NAMES_PER_EVENT]


def _add(found: dict[str, str], name: str) -> None:
    if 2 <= len(name) <= MAX_NAME_CHARS and name.lower() not in STOPWORDS:
        found.setdefault(name.casefold(), name)


def digest_text(
    session_id: str,
    started: float,
    ended: float,
    count: int,
    outcome: str | None,
    highlights: Sequence[tuple[str, str]],
) -> str:
    """A session in a few lines: when, how many events, the outcome and its steps, decisions and
    errors (`highlights` as (kind, text), in order), cut to DIGEST_CHARS."""
    start = datetime.fromtimestamp(started, tz=UTC)
    end = datetime.fromtimestamp(ended, tz=UTC)
    head = (
        f"Session {session_id}: {count} events, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"outcome {outcome or 'unknown'}."
    )
    lines = [head]
    for kind, text in highlights:
        lines.append(f"- {kind}: {_shorten(text, DIGEST_STEP_CHARS)}")
    digest = "\n".join(lines)
    return digest if len(digest) <= DIGEST_CHARS else digest[: DIGEST_CHARS - 1] + "…"


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
