"""SQL for meta-memory: a session's working memory (schema/0012_meta_memory.sql) and the questions
that found nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from athena_mcp.store.database import Database, Transaction


@dataclass(frozen=True)
class WorkingItem:
    memory_id: int
    activation: float  # as of `step`
    step: int
    pinned: bool


async def next_step(tx: Transaction, namespace: str, session_id: str, now: float) -> int:
    """Advance the session's clock by one step; the new step."""
    await tx.execute(
        "INSERT INTO working_sessions (namespace, session_id, step, touched_at) VALUES (?, ?, 1, ?) "
        "ON CONFLICT (namespace, session_id) DO UPDATE SET step = step + 1, touched_at = excluded.touched_at",
        [namespace, session_id, now],
    )
    row = await tx.fetchone(
        "SELECT step FROM working_sessions WHERE namespace = ? AND session_id = ?", [namespace, session_id]
    )
    assert row is not None  # written just above, in this transaction
    return int(row[0])


async def current_step(db: Database | Transaction, namespace: str, session_id: str) -> int:
    row = await db.fetchone(
        "SELECT step FROM working_sessions WHERE namespace = ? AND session_id = ?", [namespace, session_id]
    )
    return 0 if row is None else int(row[0])


async def items(db: Database | Transaction, namespace: str, session_id: str) -> list[WorkingItem]:
    """The session's items whose memories are still active (a forgotten memory drops out)."""
    rows = await db.fetchall(
        "SELECT w.memory_id, w.activation, w.step, w.pinned FROM working_memory w "
        "JOIN memories m ON m.id = w.memory_id AND m.status = 'active' "
        "WHERE w.namespace = ? AND w.session_id = ?",
        [namespace, session_id],
    )
    return [WorkingItem(int(r[0]), float(r[1]), int(r[2]), bool(r[3])) for r in rows]


async def save(tx: Transaction, namespace: str, session_id: str, rows: Sequence[WorkingItem]) -> None:
    await tx.executemany(
        "INSERT INTO working_memory (namespace, session_id, memory_id, activation, step, pinned) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, session_id, memory_id) DO UPDATE SET "
        "activation = excluded.activation, step = excluded.step, pinned = excluded.pinned",
        [(namespace, session_id, r.memory_id, r.activation, r.step, int(r.pinned)) for r in rows],
    )


async def remove(tx: Transaction, namespace: str, session_id: str, memory_ids: Sequence[int]) -> None:
    await tx.executemany(
        "DELETE FROM working_memory WHERE namespace = ? AND session_id = ? AND memory_id = ?",
        [(namespace, session_id, memory_id) for memory_id in memory_ids],
    )


async def clear(tx: Transaction, namespace: str, session_id: str) -> None:
    await tx.execute(
        "DELETE FROM working_memory WHERE namespace = ? AND session_id = ?", [namespace, session_id]
    )
    await tx.execute(
        "DELETE FROM working_sessions WHERE namespace = ? AND session_id = ?", [namespace, session_id]
    )


async def note_miss(tx: Transaction, namespace: str, query: str, best: float, now: float, times: int) -> None:
    """`query` found nothing `times` more times, the last at `now`."""
    await tx.execute(
        "INSERT INTO recall_misses (namespace, query, best_score, asked, first_at, last_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, query) DO UPDATE SET "
        "asked = asked + excluded.asked, last_at = excluded.last_at, "
        "best_score = max(best_score, excluded.best_score)",
        [namespace, query, best, times, now, now],
    )


@dataclass(frozen=True)
class Miss:
    query: str
    asked: int
    last_at: float


async def misses(db: Database, namespace: str, limit: int) -> list[Miss]:
    """The latest questions that found nothing in the namespace."""
    rows = await db.fetchall(
        "SELECT query, asked, last_at FROM recall_misses WHERE namespace = ? ORDER BY last_at DESC LIMIT ?",
        [namespace, limit],
    )
    return [Miss(str(r[0]), int(r[1]), float(r[2])) for r in rows]


async def forget_miss(tx: Transaction, namespace: str, found: str) -> None:
    """A question asked again that now finds something is no gap any more."""
    await tx.execute("DELETE FROM recall_misses WHERE namespace = ? AND query = ?", [namespace, found])
