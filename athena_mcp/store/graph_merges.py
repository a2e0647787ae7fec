"""SQL of merging one entity into another and of undoing it.

A merge never edits a fact in place: the absorbed entity's observations and relations are ended and
copied onto the survivor, and each move is recorded, so that reads as of any earlier time still see
the two entities apart. Every copy remembers the first row of its line (origin_id). An unmerge ends
the rows of each moved line that hold by then, wherever later merges took them, and restores the
line's first row onto the entities that stand now (following merged_into), so chains of merges undo
cleanly newest first, and a relation whose two ends were merged apart comes back between the right
entities. A fact the survivor already held keeps its own provenance; the duplicate's stays on the
ended original.
"""

from __future__ import annotations

from dataclasses import dataclass

from athena_mcp.store.database import Transaction
from athena_mcp.store.graph import add_alias


@dataclass(frozen=True)
class MergeRow:
    id: int
    survivor_id: int
    absorbed_id: int
    unmerged_at: float | None


async def merge(
    tx: Transaction, namespace: str, survivor_id: int, absorbed_id: int, now: float
) -> tuple[int, int, int]:
    """Fold `absorbed_id` into `survivor_id`; returns (merge id, observations moved, relations moved)."""
    merge_id = await tx.execute(
        "INSERT INTO graph_merges (namespace, survivor_id, absorbed_id, merged_at) VALUES (?, ?, ?, ?)",
        (namespace, survivor_id, absorbed_id, now),
    )
    observations = await tx.fetchall(
        "UPDATE graph_observations SET valid_to = ? WHERE entity_id = ? AND valid_to IS NULL "
        "RETURNING id, content",
        (now, absorbed_id),
    )
    for original_id, content in observations:
        copy = await _copy_observation(tx, int(original_id), content, survivor_id, now)
        await _record(tx, merge_id, "observation", int(original_id), copy)
    relations = await tx.fetchall(
        "UPDATE graph_relations SET valid_to = ? WHERE (source_id = ? OR target_id = ?) "
        "AND valid_to IS NULL RETURNING id, source_id, target_id",
        (now, absorbed_id, absorbed_id),
    )
    for original_id, source_id, target_id in relations:
        source = survivor_id if source_id == absorbed_id else int(source_id)
        target = survivor_id if target_id == absorbed_id else int(target_id)
        # A relation between the two would become a loop: it is only ended.
        copy = None if source == target else await _copy_relation(tx, int(original_id), source, target, now)
        await _record(tx, merge_id, "relation", int(original_id), copy)
    aliases = await tx.fetchall(
        "UPDATE graph_aliases SET entity_id = ? WHERE entity_id = ? RETURNING id", (survivor_id, absorbed_id)
    )
    for (alias_id,) in aliases:
        await _record(tx, merge_id, "alias", int(alias_id), None)
    name = await tx.fetchone("SELECT name FROM graph_entities WHERE id = ?", (absorbed_id,))
    assert name is not None
    await tx.execute(
        "UPDATE graph_entities SET status = 'merged', merged_into = ?, updated_at = ? WHERE id = ?",
        (survivor_id, now, absorbed_id),
    )
    await add_alias(tx, namespace, survivor_id, name[0], now, merge_id)
    await tx.execute("UPDATE graph_entities SET updated_at = ? WHERE id = ?", (now, survivor_id))
    await tx.execute("DELETE FROM graph_fts WHERE rowid = ?", (absorbed_id,))
    return merge_id, len(observations), len(relations)


async def find_merge(tx: Transaction, namespace: str, merge_id: int) -> MergeRow | None:
    row = await tx.fetchone(
        "SELECT id, survivor_id, absorbed_id, unmerged_at FROM graph_merges WHERE id = ? AND namespace = ?",
        (merge_id, namespace),
    )
    return None if row is None else MergeRow(int(row[0]), int(row[1]), int(row[2]), row[3])


async def latest_merge_into(tx: Transaction, entity_id: int) -> int | None:
    """The newest merge still in force that folded something into this entity."""
    row = await tx.fetchone(
        "SELECT max(id) FROM graph_merges WHERE survivor_id = ? AND unmerged_at IS NULL", (entity_id,)
    )
    return None if row is None or row[0] is None else int(row[0])


async def unmerge(tx: Transaction, merge: MergeRow, now: float) -> tuple[int, int]:
    """Undo a merge: end what holds of each moved fact's line, restore the line's first row on the
    entities standing now, give the absorbed entity back its name and aliases. Returns
    (observations, relations) restored."""
    await tx.execute(
        "UPDATE graph_entities SET status = 'active', merged_into = NULL, updated_at = ? WHERE id = ?",
        (now, merge.absorbed_id),
    )
    await tx.execute("DELETE FROM graph_aliases WHERE merge_id = ?", (merge.id,))
    restored = {"observation": 0, "relation": 0}
    moves = await tx.fetchall(
        "SELECT kind, original_id, copy_id FROM graph_merge_moves WHERE merge_id = ? "
        "ORDER BY kind, original_id",
        (merge.id,),
    )
    for kind, original_id, copy_id in moves:
        if kind == "alias":
            await tx.execute(
                "UPDATE graph_aliases SET entity_id = ? WHERE id = ?", (merge.absorbed_id, original_id)
            )
            continue
        table = "graph_observations" if kind == "observation" else "graph_relations"
        line = await tx.fetchone(f"SELECT coalesce(origin_id, id) FROM {table} WHERE id = ?", (original_id,))
        assert line is not None
        ended = await tx.fetchall(
            f"UPDATE {table} SET valid_to = ? WHERE (id = ? OR origin_id = ?) AND valid_to IS NULL "
            "RETURNING id",
            (now, line[0], line[0]),
        )
        if copy_id is not None and not ended:
            continue  # deleted since the merge: it stays deleted
        if kind == "observation":
            restored[kind] += await _restore_observation(tx, int(line[0]), now)
        else:
            restored[kind] += await _restore_relation(tx, int(line[0]), now)
    await tx.execute("UPDATE graph_merges SET unmerged_at = ? WHERE id = ?", (now, merge.id))
    await tx.execute("UPDATE graph_entities SET updated_at = ? WHERE id = ?", (now, merge.survivor_id))
    return restored["observation"], restored["relation"]


async def _standing(tx: Transaction, entity_id: int) -> int | None:
    """The entity that stands for this one now: itself, or what it was merged into; None if deleted."""
    for _ in range(1000):  # merges form chains, never cycles: a merged entity cannot be merged into
        row = await tx.fetchone("SELECT status, merged_into FROM graph_entities WHERE id = ?", (entity_id,))
        assert row is not None
        if row[0] != "merged":
            return entity_id if row[0] == "active" else None
        entity_id = int(row[1])
    raise AssertionError("a cycle of merges")


async def _restore_observation(tx: Transaction, line: int, now: float) -> bool:
    first = await tx.fetchone("SELECT entity_id, content FROM graph_observations WHERE id = ?", (line,))
    assert first is not None
    entity_id = await _standing(tx, int(first[0]))
    if entity_id is None:
        return False
    return await _copy_observation(tx, line, first[1], entity_id, now) is not None


async def _restore_relation(tx: Transaction, line: int, now: float) -> bool:
    first = await tx.fetchone("SELECT source_id, target_id FROM graph_relations WHERE id = ?", (line,))
    assert first is not None
    source, target = await _standing(tx, int(first[0])), await _standing(tx, int(first[1]))
    if source is None or target is None or source == target:
        return False
    return await _copy_relation(tx, line, source, target, now) is not None


async def _copy_observation(
    tx: Transaction, row_id: int, content: str, entity_id: int, now: float
) -> int | None:
    """A current copy of an observation on another entity, in the same line; None when that entity
    holds the same content already."""
    held = await tx.fetchone(
        "SELECT 1 FROM graph_observations WHERE entity_id = ? AND content = ? AND valid_to IS NULL",
        (entity_id, content),
    )
    if held is not None:
        return None
    copy_id: int = await tx.execute(
        "INSERT INTO graph_observations (entity_id, content, memory_ids, valid_from, origin_id) "
        "SELECT ?, content, memory_ids, ?, coalesce(origin_id, id) FROM graph_observations WHERE id = ?",
        (entity_id, now, row_id),
    )
    return copy_id


async def _copy_relation(tx: Transaction, row_id: int, source: int, target: int, now: float) -> int | None:
    """A current copy of a relation between other ends, in the same line; None when one holds already."""
    row = await tx.fetchone(
        "INSERT INTO graph_relations (namespace, source_id, target_id, relation_type, weight, memory_ids, "
        "valid_from, origin_id) SELECT namespace, ?, ?, relation_type, weight, memory_ids, ?, "
        "coalesce(origin_id, id) FROM graph_relations WHERE id = ? ON CONFLICT DO NOTHING RETURNING id",
        (source, target, now, row_id),
    )
    return None if row is None else int(row[0])


async def _record(tx: Transaction, merge_id: int, kind: str, original_id: int, copy_id: int | None) -> None:
    await tx.execute(
        "INSERT INTO graph_merge_moves (merge_id, kind, original_id, copy_id) VALUES (?, ?, ?, ?)",
        (merge_id, kind, original_id, copy_id),
    )
