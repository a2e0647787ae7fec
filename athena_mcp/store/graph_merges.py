"""SQL of merging one entity into another and of undoing it.

A merge never edits a fact in place: the absorbed entity's observations and relations are ended and
copied onto the survivor, and each move is recorded, so that reads as of any earlier time still see
the two entities apart and an unmerge can end the copies and restore the originals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from athena_mcp.store.database import Transaction
from athena_mcp.store.graph import add_alias, add_sources


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
        "RETURNING id, content, memory_ids",
        (now, absorbed_id),
    )
    for original_id, content, sources in observations:
        held = await tx.fetchone(
            "SELECT id FROM graph_observations WHERE entity_id = ? AND content = ? AND valid_to IS NULL",
            (survivor_id, content),
        )
        if held is not None:
            await _merge_sources(tx, "graph_observations", int(held[0]), sources)
            copy_id = None
        else:
            copy_id = await tx.execute(
                "INSERT INTO graph_observations (entity_id, content, memory_ids, valid_from) "
                "VALUES (?, ?, ?, ?)",
                (survivor_id, content, sources, now),
            )
        await _record(tx, merge_id, "observation", int(original_id), copy_id)
    relations = await tx.fetchall(
        "UPDATE graph_relations SET valid_to = ? WHERE (source_id = ? OR target_id = ?) AND valid_to IS NULL "
        "RETURNING id, source_id, target_id, relation_type, weight, memory_ids",
        (now, absorbed_id, absorbed_id),
    )
    for original_id, source_id, target_id, relation_type, weight, sources in relations:
        source = survivor_id if source_id == absorbed_id else int(source_id)
        target = survivor_id if target_id == absorbed_id else int(target_id)
        copy_id = None
        if source != target:  # a relation between the two would become a loop: it is only ended
            row = await tx.fetchone(
                "INSERT INTO graph_relations (namespace, source_id, target_id, relation_type, weight, "
                "memory_ids, valid_from) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (namespace, source, target, relation_type, weight, sources, now),
            )
            if row is not None:
                copy_id = int(row[0])
            else:
                held = await tx.fetchone(
                    "SELECT id FROM graph_relations WHERE source_id = ? AND target_id = ? "
                    "AND relation_type = ? AND valid_to IS NULL",
                    (source, target, relation_type),
                )
                assert held is not None
                await _merge_sources(tx, "graph_relations", int(held[0]), sources)
        await _record(tx, merge_id, "relation", int(original_id), copy_id)
    aliases = await tx.fetchall(
        "UPDATE graph_aliases SET entity_id = ? WHERE entity_id = ? RETURNING id", (survivor_id, absorbed_id)
    )
    for (alias_id,) in aliases:
        await _record(tx, merge_id, "alias", int(alias_id), None)
    name = await tx.fetchone("SELECT name, memory_ids FROM graph_entities WHERE id = ?", (absorbed_id,))
    assert name is not None
    await tx.execute(
        "UPDATE graph_entities SET status = 'merged', merged_into = ?, updated_at = ? WHERE id = ?",
        (survivor_id, now, absorbed_id),
    )
    await add_alias(tx, namespace, survivor_id, name[0], now, merge_id)
    await _merge_sources(tx, "graph_entities", survivor_id, name[1])
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
    """Undo a merge: end the copies it made, restore the originals as new facts from now, give the
    absorbed entity back its name and aliases. Returns (observations, relations) restored."""
    moves = await tx.fetchall(
        "SELECT kind, original_id, copy_id FROM graph_merge_moves WHERE merge_id = ? "
        "ORDER BY kind, original_id",
        (merge.id,),
    )
    restored = {"observation": 0, "relation": 0}
    await tx.execute(
        "UPDATE graph_entities SET status = 'active', merged_into = NULL, updated_at = ? WHERE id = ?",
        (now, merge.absorbed_id),
    )
    await tx.execute("DELETE FROM graph_aliases WHERE merge_id = ?", (merge.id,))
    for kind, original_id, copy_id in moves:
        if kind == "alias":
            await tx.execute(
                "UPDATE graph_aliases SET entity_id = ? WHERE id = ?", (merge.absorbed_id, original_id)
            )
            continue
        table = "graph_observations" if kind == "observation" else "graph_relations"
        if copy_id is not None:
            await tx.execute(
                f"UPDATE {table} SET valid_to = ? WHERE id = ? AND valid_to IS NULL", (now, copy_id)
            )
        if kind == "observation":
            row = await tx.fetchone(
                "INSERT INTO graph_observations (entity_id, content, memory_ids, valid_from) "
                "SELECT entity_id, content, memory_ids, ? FROM graph_observations WHERE id = ? RETURNING id",
                (now, original_id),
            )
        else:  # restored only while its other end still stands
            row = await tx.fetchone(
                "INSERT INTO graph_relations (namespace, source_id, target_id, relation_type, weight, "
                "memory_ids, valid_from) SELECT r.namespace, r.source_id, r.target_id, r.relation_type, "
                "r.weight, r.memory_ids, ? "
                "FROM graph_relations r JOIN graph_entities s ON s.id = r.source_id "
                "JOIN graph_entities t ON t.id = r.target_id WHERE r.id = ? AND s.status = 'active' "
                "AND t.status = 'active' ON CONFLICT DO NOTHING RETURNING id",
                (now, original_id),
            )
        restored[kind] += row is not None
    await tx.execute("UPDATE graph_merges SET unmerged_at = ? WHERE id = ?", (now, merge.id))
    await tx.execute("UPDATE graph_entities SET updated_at = ? WHERE id = ?", (now, merge.survivor_id))
    return restored["observation"], restored["relation"]


async def _record(tx: Transaction, merge_id: int, kind: str, original_id: int, copy_id: int | None) -> None:
    await tx.execute(
        "INSERT INTO graph_merge_moves (merge_id, kind, original_id, copy_id) VALUES (?, ?, ?, ?)",
        (merge_id, kind, original_id, copy_id),
    )


async def _merge_sources(tx: Transaction, table: str, row_id: int, sources_json: str) -> None:
    await add_sources(tx, table, row_id, json.loads(sources_json))
