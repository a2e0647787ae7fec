"""SQL that changes the knowledge graph: entities, aliases, observations, relations, search rows.

Nothing here is removed by the tools: a deleted entity is marked deleted, and a deleted observation
or relation gets a valid_to. Every write transaction also moves the namespace's revision on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TypeVar

from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.graph_time import entity_alive

Reader = Database | Transaction
T = TypeVar("T")
# Ids per statement: well under SQLite's bound-parameter limit.
CHUNK = 500


def normalise(name: str) -> str:
    """The form two names share when they name one entity: whitespace collapsed, case folded."""
    return " ".join(name.split()).casefold()


def chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


async def bump_revision(tx: Transaction, namespace: str) -> None:
    """Move the namespace's graph revision on: called in every transaction that changes its graph."""
    await tx.execute(
        "INSERT INTO graph_state (namespace, revision) VALUES (?, 1) "
        "ON CONFLICT (namespace) DO UPDATE SET revision = revision + 1",
        (namespace,),
    )


async def revision(db: Reader, namespace: str) -> int:
    """The namespace's graph revision: 0 before its first change."""
    row = await db.fetchone("SELECT revision FROM graph_state WHERE namespace = ?", (namespace,))
    return 0 if row is None else int(row[0])


async def resolve(
    db: Reader, namespace: str, names: Iterable[str], as_of: float | None = None, *, aliases: bool = True
) -> dict[str, int]:
    """Entity ids by normalised name, for the names (or, with `aliases`, the aliases) of entities
    alive at `as_of` (now). As of a past time, the name of an entity then merged into another
    resolves to that other one, whether or not the merge has been undone since."""
    wanted = list(dict.fromkeys(normalise(name) for name in names))
    alive, alive_params = entity_alive("e", as_of)
    found: dict[str, int] = {}
    for chunk in chunks(wanted):
        rows = await db.fetchall(
            f"SELECT e.norm_name, e.id FROM graph_entities e WHERE e.namespace = ? "
            f"AND e.norm_name IN ({marks(chunk)}) AND {alive}",
            [namespace, *chunk, *alive_params],
        )
        found.update({row[0]: int(row[1]) for row in rows})
        missing = [name for name in chunk if name not in found]
        if missing and as_of is not None:
            found.update(await _merged_then(db, namespace, missing, as_of))
            missing = [name for name in chunk if name not in found]
        if missing and aliases:
            rows = await db.fetchall(
                f"SELECT a.norm_alias, e.id FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
                f"WHERE a.namespace = ? AND a.norm_alias IN ({marks(missing)}) AND {alive}",
                [namespace, *missing, *alive_params],
            )
            found.update({row[0]: int(row[1]) for row in rows})
    return found


async def _merged_then(db: Reader, namespace: str, names: Sequence[str], as_of: float) -> dict[str, int]:
    """For names of entities folded into another at `as_of`: the entity that stood for them then."""
    found: dict[str, int] = {}
    for name in names:
        row = await db.fetchone(
            "SELECT m.survivor_id FROM graph_entities e JOIN graph_merges m ON m.absorbed_id = e.id "
            "WHERE e.namespace = ? AND e.norm_name = ? AND m.merged_at <= ? "
            "AND (m.unmerged_at IS NULL OR m.unmerged_at > ?) ORDER BY m.id DESC LIMIT 1",
            (namespace, name, as_of, as_of),
        )
        # A chain of merges: the survivor may itself have been folded into another by then.
        for _ in range(100):
            if row is None:
                break
            survivor = int(row[0])
            found[name] = survivor
            row = await db.fetchone(
                "SELECT survivor_id FROM graph_merges WHERE absorbed_id = ? AND merged_at <= ? "
                "AND (unmerged_at IS NULL OR unmerged_at > ?) ORDER BY id DESC LIMIT 1",
                (survivor, as_of, as_of),
            )
    return found


async def insert_entity(
    tx: Transaction, namespace: str, name: str, entity_type: str, sources: Sequence[int], now: float
) -> int:
    return await tx.execute(
        "INSERT INTO graph_entities (namespace, name, norm_name, entity_type, memory_ids, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (namespace, name, normalise(name), entity_type, json.dumps(sorted(set(sources))), now, now),
    )


async def add_sources(tx: Transaction, table: str, row_id: int, sources: Sequence[int]) -> None:
    """Add memory ids to the provenance of one row of graph_entities, _observations or _relations."""
    if not sources:
        return
    assert table in ("graph_entities", "graph_observations", "graph_relations")
    await tx.execute(
        f"UPDATE {table} SET memory_ids = (SELECT json_group_array(value) FROM (SELECT value FROM "
        "json_each(memory_ids) UNION SELECT value FROM json_each(?) ORDER BY value)) WHERE id = ?",
        (json.dumps(list(sources)), row_id),
    )


async def add_observations(
    tx: Transaction, entity_id: int, contents: Sequence[str], sources: Sequence[int], now: float
) -> list[str]:
    """Append the contents the entity does not hold yet, in order; returns those added. Contents
    already held get the sources added to their provenance."""
    held = {
        row[0]: int(row[1])
        for row in await tx.fetchall(
            "SELECT content, id FROM graph_observations WHERE entity_id = ? AND valid_to IS NULL",
            (entity_id,),
        )
    }
    added = [content for content in dict.fromkeys(contents) if content not in held]
    await tx.executemany(
        "INSERT INTO graph_observations (entity_id, content, memory_ids, valid_from) VALUES (?, ?, ?, ?)",
        [(entity_id, content, json.dumps(sorted(set(sources))), now) for content in added],
    )
    for content in dict.fromkeys(contents):
        if content in held:
            await add_sources(tx, "graph_observations", held[content], sources)
    if added:
        await tx.execute("UPDATE graph_entities SET updated_at = ? WHERE id = ?", (now, entity_id))
    return added


async def end_observations(tx: Transaction, entity_id: int, contents: Sequence[str], now: float) -> list[str]:
    """End the entity's current observations with these contents; returns the contents ended."""
    ended: list[str] = []
    for chunk in chunks(list(dict.fromkeys(contents))):
        rows = await tx.fetchall(
            f"UPDATE graph_observations SET valid_to = ? WHERE entity_id = ? AND valid_to IS NULL "
            f"AND content IN ({marks(chunk)}) RETURNING content",
            [now, entity_id, *chunk],
        )
        ended.extend(row[0] for row in rows)
    return list(dict.fromkeys(ended))


async def insert_relation(
    tx: Transaction,
    namespace: str,
    ends: tuple[int, int],
    relation_type: str,
    weight: float,
    sources: Sequence[int],
    now: float,
) -> bool:
    """Add a current relation; False when the same one already holds (its provenance grows)."""
    source_id, target_id = ends
    row = await tx.fetchone(
        "INSERT INTO graph_relations (namespace, source_id, target_id, relation_type, weight, memory_ids, "
        "valid_from) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        (namespace, source_id, target_id, relation_type, weight, json.dumps(sorted(set(sources))), now),
    )
    if row is None and sources:
        held = await tx.fetchone(
            "SELECT id FROM graph_relations WHERE source_id = ? AND target_id = ? AND relation_type = ? "
            "AND valid_to IS NULL",
            (source_id, target_id, relation_type),
        )
        if held is not None:
            await add_sources(tx, "graph_relations", int(held[0]), sources)
    return row is not None


async def end_other_targets(
    tx: Transaction, source_id: int, relation_type: str, target_id: int, now: float
) -> int:
    """End the source's current relations of this type to any other target (a contradicted fact)."""
    rows = await tx.fetchall(
        "UPDATE graph_relations SET valid_to = ? WHERE source_id = ? AND relation_type = ? "
        "AND target_id != ? AND valid_to IS NULL RETURNING id",
        (now, source_id, relation_type, target_id),
    )
    return len(rows)


async def end_relation(
    tx: Transaction, source_id: int, target_id: int, relation_type: str, now: float
) -> bool:
    row = await tx.fetchone(
        "UPDATE graph_relations SET valid_to = ? WHERE source_id = ? AND target_id = ? "
        "AND relation_type = ? AND valid_to IS NULL RETURNING id",
        (now, source_id, target_id, relation_type),
    )
    return row is not None


async def delete_entities(tx: Transaction, entity_ids: Sequence[int], now: float) -> None:
    """Mark the entities deleted, end their current facts and drop their aliases and search rows."""
    for chunk in chunks(entity_ids):
        ids = marks(chunk)
        await tx.execute(
            "UPDATE graph_entities SET status = 'deleted', deleted_at = ?, updated_at = ? "
            f"WHERE id IN ({ids})",
            [now, now, *chunk],
        )
        await tx.execute(
            f"UPDATE graph_relations SET valid_to = ? WHERE valid_to IS NULL "
            f"AND (source_id IN ({ids}) OR target_id IN ({ids}))",
            [now, *chunk, *chunk],
        )
        await tx.execute(
            f"UPDATE graph_observations SET valid_to = ? WHERE valid_to IS NULL AND entity_id IN ({ids})",
            [now, *chunk],
        )
        await tx.execute(f"DELETE FROM graph_aliases WHERE entity_id IN ({ids})", list(chunk))
        await tx.execute(f"DELETE FROM graph_fts WHERE rowid IN ({ids})", list(chunk))


async def add_alias(
    tx: Transaction, namespace: str, entity_id: int, alias: str, now: float, merge_id: int | None = None
) -> None:
    await tx.execute(
        "INSERT INTO graph_aliases (entity_id, namespace, alias, norm_alias, merge_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (entity_id, namespace, alias, normalise(alias), merge_id, now),
    )


async def remove_aliases(tx: Transaction, entity_id: int, aliases: Sequence[str]) -> list[str]:
    """Remove these aliases (set by hand) of the entity; returns the ones removed."""
    removed: list[str] = []
    for alias in dict.fromkeys(normalise(a) for a in aliases):
        row = await tx.fetchone(
            "DELETE FROM graph_aliases WHERE entity_id = ? AND norm_alias = ? AND merge_id IS NULL "
            "RETURNING alias",
            (entity_id, alias),
        )
        if row is not None:
            removed.append(row[0])
    return removed


async def refresh_search(tx: Transaction, entity_ids: Iterable[int]) -> None:
    """Rewrite the search rows of these entities from the tables (after any change to them)."""
    ids = sorted(set(entity_ids))
    for chunk in chunks(ids):
        await tx.execute(f"DELETE FROM graph_fts WHERE rowid IN ({marks(chunk)})", list(chunk))
        # Aliases go in the name column, one per line, so that search finds an entity by any name.
        await tx.execute(
            "INSERT INTO graph_fts (rowid, name, entity_type, observations) "
            "SELECT e.id, e.name || coalesce((SELECT char(10) || group_concat(alias, char(10)) "
            "FROM graph_aliases WHERE entity_id = e.id), ''), e.entity_type, "
            "(SELECT group_concat(o.content, char(10)) FROM (SELECT content FROM graph_observations "
            "WHERE entity_id = e.id AND valid_to IS NULL ORDER BY id) o) "
            f"FROM graph_entities e WHERE e.status = 'active' AND e.id IN ({marks(chunk)})",
            list(chunk),
        )


async def rebuild_search(tx: Transaction) -> int:
    """Recreate the whole derived search index from the canonical tables; returns the entities indexed."""
    await tx.execute("DELETE FROM graph_fts")
    rows = await tx.fetchall("SELECT id FROM graph_entities WHERE status = 'active'")
    await refresh_search(tx, [int(row[0]) for row in rows])
    return len(rows)
