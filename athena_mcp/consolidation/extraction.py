"""Text work that needs no model: a session's digest. The names an event mentions come from
`memory.entity_linking.mentioned_names`, which the entity linker uses too."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from athena_mcp.store.fts import STOPWORDS

DIGEST_CHARS = 2_000
DIGEST_STEP_CHARS = 160
# A statement has at least this many words that are not function words ("Thanks!" and "Sounds
# good to me" are none).
STATEMENT_MIN_WORDS = 4
_WORD = re.compile(r"\w+")


def is_statement(text: str) -> bool:
    """Whether a text says something: enough content words, and not only a question."""
    if text.rstrip().rstrip('"”').endswith("?"):
        return False
    return sum(word not in STOPWORDS for word in _WORD.findall(text.lower())) >= STATEMENT_MIN_WORDS


def digest_text(
    session_id: str,
    started: float,
    ended: float,
    count: int,
    outcome: str | None,
    highlights: Sequence[tuple[str, str]],
) -> str:
    """A session in a few lines: when, how many events, the outcome and what happened (`highlights`
    as (kind, text), in order: steps, decisions, errors and the statements central to it), cut to
    DIGEST_CHARS."""
    start = datetime.fromtimestamp(started, tz=UTC)
    end = datetime.fromtimestamp(ended, tz=UTC)
    head = (
        f"Session {session_id}: {count} events, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"outcome {outcome or 'unknown'}."
    )
    lines = [head]
    for kind, text in highlights:
        lines.append(f"- {kind}: {shorten(text, DIGEST_STEP_CHARS)}")
    digest = "\n".join(lines)
    return digest if len(digest) <= DIGEST_CHARS else digest[: DIGEST_CHARS - 1] + "…"


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
