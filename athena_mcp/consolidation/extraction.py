"""Text work that needs no model: a session's digest. The names an event mentions come from
`memory.entity_linking.mentioned_names`, which the entity linker uses too."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
    """A session in a few lines: how many events over how long, the outcome and what happened
    (`highlights` as (kind, text), in order: steps, decisions, errors and the statements central to
    it), cut to DIGEST_CHARS. When it ended is the digest's own time, not its text: dates in the text
    made every digest match any question naming a year ("... in June 2023?"), which events never
    do, and on the LoCoMo dev split digests then pushed evidence out of the top 10 for 0.9 % of the
    questions, against 0.1 % without them (perf.eval_consolidation)."""
    head = (
        f"Session {session_id}: {count} events over {_duration(ended - started)}, "
        f"outcome {outcome or 'unknown'}."
    )
    lines = [head]
    for kind, text in highlights:
        lines.append(f"- {kind}: {shorten(text, DIGEST_STEP_CHARS)}")
    digest = "\n".join(lines)
    return digest if len(digest) <= DIGEST_CHARS else digest[: DIGEST_CHARS - 1] + "…"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
