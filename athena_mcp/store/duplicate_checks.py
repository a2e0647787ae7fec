"""Near-duplicate checks owed by facts stored without a vector, and what they found (schema 0011)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from athena_mcp.store.database import Database, Transaction


@dataclass(frozen=True, order=True)
class FoundDuplicate:
    memory_id: int
    similar_id: int
    similarity: float


async def owe(tx: Transaction, memory_id: int, namespace: str) -> None:
    await tx.execute(
        "INSERT INTO duplicate_checks (memory_id, namespace) VALUES (?, ?) "
        "ON CONFLICT (memory_id) DO UPDATE SET similar_id = NULL, similarity = NULL, reported = 0",
        (memory_id, namespace),
    )


async def owed_among(db: Database, memory_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(memory id, namespace) of those of `memory_ids` whose check is still owed."""
    rows = await db.fetchall(
        "SELECT memory_id, namespace FROM duplicate_checks "
        "WHERE similar_id IS NULL AND memory_id IN (SELECT value FROM json_each(?)) ORDER BY memory_id",
        (json.dumps(list(memory_ids)),),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


async def settle(tx: Transaction, memory_id: int, found: tuple[int, float] | None) -> None:
    """Record a check's finding, or drop the check when it found nothing or when the pair is already
    reported the other way round (two twins both stored without vectors)."""
    reverse = None
    if found is not None:
        reverse = await tx.fetchone(
            "SELECT 1 FROM duplicate_checks WHERE memory_id = ? AND similar_id = ?", (found[0], memory_id)
        )
    if found is None or reverse is not None:
        await tx.execute("DELETE FROM duplicate_checks WHERE memory_id = ?", (memory_id,))
        return
    await tx.execute(
        "UPDATE duplicate_checks SET similar_id = ?, similarity = ? WHERE memory_id = ?",
        (found[0], found[1], memory_id),
    )


async def any_found(db: Database, namespaces: Sequence[str]) -> bool:
    row = await db.fetchone(
        "SELECT 1 FROM duplicate_checks WHERE similar_id IS NOT NULL AND reported = 0 "
        "AND namespace IN (SELECT value FROM json_each(?)) LIMIT 1",
        (json.dumps(list(namespaces)),),
    )
    return row is not None


async def take_found(tx: Transaction, namespaces: Sequence[str]) -> list[FoundDuplicate]:
    """The unreported findings of these namespaces, marked reported so that each is handed out once."""
    rows = await tx.fetchall(
        "UPDATE duplicate_checks SET reported = 1 WHERE similar_id IS NOT NULL AND reported = 0 "
        "AND namespace IN (SELECT value FROM json_each(?)) RETURNING memory_id, similar_id, similarity",
        (json.dumps(list(namespaces)),),
    )
    return sorted(FoundDuplicate(int(row[0]), int(row[1]), float(row[2])) for row in rows)
