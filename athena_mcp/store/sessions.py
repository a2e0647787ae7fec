"""SQL over sessions: the latest ones of a namespace, what stands out in each (a briefing's
"lately"), and the latest events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from athena_mcp.models import Memory
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import memory_from_row, selected_columns

# Events that stand out in a session: what was decided and what went wrong.
KEY_KINDS = ("decision", "error")
# An event at or above this importance stands out whatever its kind.
KEY_IMPORTANCE = 0.7


@dataclass(frozen=True)
class SessionSpan:
    session_id: str
    namespace: str
    first: float
    last: float
    events: int


async def recent_sessions(
    db: Database, namespaces: Sequence[str], since: float, exclude: str | None, limit: int
) -> list[SessionSpan]:
    """The sessions with events since `since`, latest activity first, leaving out `exclude`."""
    marks = ", ".join("?" * len(namespaces))
    rows = await db.fetchall(
        "SELECT session_id, namespace, min(occurred_at) AS first, max(occurred_at) AS last, "
        "count(*) AS events FROM memories "
        f"WHERE namespace IN ({marks}) AND system = 'episodic' AND status = 'active' "
        "AND occurred_at >= ? AND session_id IS NOT NULL AND session_id IS NOT ? "
        "GROUP BY namespace, session_id ORDER BY last DESC LIMIT ?",
        [*namespaces, since, exclude, limit],
    )
    return [
        SessionSpan(row["session_id"], row["namespace"], row["first"], row["last"], row["events"])
        for row in rows
    ]


async def session_digests(db: Database, sessions: Sequence[SessionSpan]) -> dict[tuple[str, str], Memory]:
    """Each session's newest consolidation digest, by (namespace, session id)."""
    if not sessions:
        return {}
    pairs = ", ".join("(?, ?)" for _ in sessions)
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m JOIN memory_tags t ON t.memory_id = m.id "
        f"AND t.tag = 'digest' WHERE (m.namespace, m.session_id) IN (VALUES {pairs}) "
        "AND m.system = 'semantic' AND m.status = 'active' ORDER BY m.id",
        [value for session in sessions for value in (session.namespace, session.session_id)],
    )
    # Later rows replace earlier ones: the newest digest of a session wins.
    return {(row["namespace"], row["session_id"]): memory_from_row(row) for row in rows}


async def key_events(db: Database, session: SessionSpan, limit: int) -> list[Memory]:
    """The session's decisions, errors, failures and important events, latest first."""
    kinds = ", ".join("?" * len(KEY_KINDS))
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m WHERE m.session_id = ? AND m.namespace = ? "
        "AND m.system = 'episodic' AND m.status = 'active' "
        f"AND (m.kind IN ({kinds}) OR m.outcome = 'failure' OR m.importance >= ?) "
        "ORDER BY m.occurred_at DESC, m.id DESC LIMIT ?",
        [session.session_id, session.namespace, *KEY_KINDS, KEY_IMPORTANCE, limit],
    )
    return [memory_from_row(row) for row in rows]


async def latest_events(db: Database, memory_filter: MemoryFilter, limit: int) -> list[Memory]:
    """The filter's `limit` latest events (by when they happened), oldest of them first."""
    where, params = memory_filter.memory_clause("m")
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m WHERE {where} "
        "ORDER BY m.occurred_at DESC, m.id DESC LIMIT ?",
        [*params, limit],
    )
    return [memory_from_row(row) for row in reversed(rows)]
