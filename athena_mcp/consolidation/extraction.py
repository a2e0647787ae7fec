"""Text work that needs no model: a session's digest. The names an event mentions come from
`memory.entity_linking.mentioned_names`, which the entity linker uses too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

DIGEST_CHARS = 2_000
DIGEST_STEP_CHARS = 160


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
