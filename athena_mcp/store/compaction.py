"""SQL of decay: how memories are used, which old events can be compacted, and the compactions."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence

from athena_mcp.store import memories, vectors
from athena_mcp.store.database import Database, Row, Transaction

COMPACTED_REASON = "compacted into session digest {digest}"
# A compaction still in force: not undone, and the event not restored by other means (`restore`).
_COMPACTED = "c.undone_at IS NULL AND m.status = 'forgotten'"


async def record_usage(tx: Transaction, accesses: Mapping[int, tuple[int, float]]) -> None:
    """Add (count, last time) search appearances per memory; memories deleted since are skipped."""
    await tx.executemany(
        "INSERT INTO memory_usage (memory_id, access_count, last_accessed_at) "
        "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM memories WHERE id = ?) "
        "ON CONFLICT (memory_id) DO UPDATE SET access_count = access_count + excluded.access_count, "
        "last_accessed_at = max(coalesce(last_accessed_at, 0), excluded.last_accessed_at)",
        [(memory_id, count, at, memory_id) for memory_id, (count, at) in accesses.items()],
    )


async def rate(tx: Transaction, memory_id: int, helpful: bool) -> None:
    column = "helpful" if helpful else "unhelpful"
    await tx.execute(
        f"INSERT INTO memory_usage (memory_id, {column}) VALUES (?, 1) "
        f"ON CONFLICT (memory_id) DO UPDATE SET {column} = {column} + 1",
        (memory_id,),
    )


async def usage(db: Database | Transaction, memory_id: int) -> Row | None:
    return await db.fetchone(
        "SELECT access_count, last_accessed_at, helpful, unhelpful FROM memory_usage WHERE memory_id = ?",
        (memory_id,),
    )


async def compactable(
    db: Database,
    namespace: str | None,
    older_than: float,
    below_importance: float,
    after: tuple[float, int],
    limit: int,
) -> list[Row]:
    """Active consolidated events that occurred and were recorded before `older_than` (an import of
    old history is not compacted on arrival), under the flashbulb importance, whose session has an
    active digest and that were never compacted; with their usage, for scoring. Oldest first, a
    page at a time after (occurred_at, id) `after`."""
    return await db.fetchall(
        "SELECT m.id, m.namespace, m.importance, m.occurred_at, coalesce(u.access_count, 0) AS access_count, "
        "u.last_accessed_at, coalesce(u.helpful, 0) AS helpful, coalesce(u.unhelpful, 0) AS unhelpful, "
        "(SELECT d.id FROM provenance p JOIN memories d ON d.id = p.product_id "
        "WHERE p.product_type = 'memory' AND p.memory_id = m.id AND d.kind = 'episode' "
        "AND d.status = 'active' LIMIT 1) AS digest_id "
        "FROM consolidated_events c JOIN memories m ON m.id = c.memory_id "
        "LEFT JOIN memory_usage u ON u.memory_id = m.id "
        "WHERE m.status = 'active' AND m.occurred_at < :before AND m.created_at < :before "
        "AND m.importance < :flashbulb AND digest_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM compactions k WHERE k.memory_id = m.id) "
        "AND (:namespace IS NULL OR m.namespace = :namespace) "
        "AND (m.occurred_at, m.id) > (:after_time, :after_id) "
        "ORDER BY m.occurred_at, m.id LIMIT :limit",
        {
            "before": older_than,
            "flashbulb": below_importance,
            "namespace": namespace,
            "after_time": after[0],
            "after_id": after[1],
            "limit": limit,
        },
    )


async def compact(
    tx: Transaction, events: Sequence[tuple[int, int, float]], now: float, restorable_until: float
) -> list[int]:
    """Fold (event id, digest id, score) into their digests: hidden from search, restorable. Events
    changed since they were scored are left alone; returns the ids compacted."""
    done = []
    found = await memories.get_memories(tx, [memory_id for memory_id, _, _ in events])
    for memory_id, digest_id, score in events:
        current = found.get(memory_id)
        if current is None or current.status != "active":
            continue
        await vectors.set_vector_active(tx, memory_id, False)
        await tx.execute(
            "INSERT INTO compactions (memory_id, digest_id, score, compacted_at, restorable_until) "
            "VALUES (?, ?, ?, ?, ?)",
            (memory_id, digest_id, score, now, restorable_until),
        )
        done.append((memory_id, COMPACTED_REASON.format(digest=digest_id)))
    await memories.set_statuses(tx, done, "forgotten")
    return [memory_id for memory_id, _ in done]


async def undo(tx: Transaction, namespace: str, memory_ids: Sequence[int]) -> list[int]:
    """Bring the namespace's compacted events back for good; returns the ids that were compacted
    (others are ignored)."""
    rows = await tx.fetchall(
        f"SELECT c.memory_id FROM compactions c JOIN memories m ON m.id = c.memory_id WHERE {_COMPACTED} "
        "AND m.namespace = ? AND c.memory_id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(memory_ids))),
    )
    restored = [int(row[0]) for row in rows]
    for memory_id in restored:
        await vectors.set_vector_active(tx, memory_id, True)
        await tx.execute("UPDATE compactions SET undone_at = ? WHERE memory_id = ?", (time.time(), memory_id))
    await memories.set_statuses(tx, [(memory_id, None) for memory_id in restored], "active")
    return restored


async def purge_expired(tx: Transaction, now: float, namespace: str | None) -> Counter[str]:
    """Delete the events (of `namespace`, or every namespace) whose compaction can no longer be undone;
    their digests and provenance stay. Returns how many went, by namespace."""
    rows = await tx.fetchall(
        f"SELECT c.memory_id, m.namespace FROM compactions c JOIN memories m ON m.id = c.memory_id "
        f"WHERE {_COMPACTED} AND c.restorable_until <= ? AND (? IS NULL OR m.namespace = ?)",
        (now, namespace, namespace),
    )
    ids = [int(row[0]) for row in rows]
    if ids:
        await vectors.drop_vectors(tx, ids)
        await tx.executemany("DELETE FROM memories WHERE id = ?", [(memory_id,) for memory_id in ids])
    return Counter(row[1] for row in rows)


async def page(db: Database, namespace: str, after_id: int | None, limit: int) -> list[Row]:
    """Compactions of a namespace, oldest event first (by id), keyset-paginated."""
    return await db.fetchall(
        "SELECT c.memory_id, c.digest_id, c.score, c.compacted_at, c.restorable_until, m.content, m.kind, "
        "m.session_id, m.occurred_at FROM compactions c JOIN memories m ON m.id = c.memory_id "
        f"WHERE {_COMPACTED} AND m.namespace = ? AND c.memory_id > ? ORDER BY c.memory_id LIMIT ?",
        (namespace, after_id or 0, limit),
    )


async def count(db: Database, namespace: str) -> int:
    row = await db.fetchone(
        f"SELECT count(*) FROM compactions c JOIN memories m ON m.id = c.memory_id WHERE {_COMPACTED} "
        "AND m.namespace = ?",
        (namespace,),
    )
    return int(row[0]) if row else 0
