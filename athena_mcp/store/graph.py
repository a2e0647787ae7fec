"""SQL of the knowledge graph: entities, aliases, observations, relations and their search index.

Nothing here is removed by the tools: a deleted entity is marked deleted, and a deleted observation
or relation gets a valid_to. Reads see only active entities and current facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from athena_mcp.store.database import Database, Transaction

Reader = Database | Transaction
# Ids per statement: well under SQLite's bound-parameter limit.
CHUNK = 500


@dataclass(frozen=True)
class EntityRecord:
    id: int
    name: str
    entity_type: str
    observations: tuple[str, ...]


@dataclass(frozen=True)
class RelationRecord:
    id: int
    source: str
    target: str
    relation_type: str


def normalise(name: str) -> str:
    """The form two names share when they name one entity: whitespace collapsed, case folded."""
    return " ".join(name.split()).casefold()


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


async def resolve(db: Reader, namespace: str, names: Iterable[str]) -> dict[str, int]:
    """Active entity ids by normalised name, for the names (or aliases) that exist."""
    wanted = list(dict.fromkeys(normalise(name) for name in names))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = await db.fetchall(
            f"SELECT norm_name, id FROM graph_entities WHERE namespace = ? AND status = 'active' "
            f"AND norm_name IN ({_marks(chunk)})",
            [namespace, *chunk],
        )
        found.update({row[0]: int(row[1]) for row in rows})
        missing = [name for name in chunk if name not in found]
        if missing:
            rows = await db.fetchall(
                f"SELECT a.norm_alias, e.id FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
                f"WHERE a.namespace = ? AND e.status = 'active' AND a.norm_alias IN ({_marks(missing)})",
                [namespace, *missing],
            )
            found.update({row[0]: int(row[1]) for row in rows})
    return found


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


async def insert_entity(tx: Transaction, namespace: str, name: str, entity_type: str, now: float) -> int:
    return await tx.execute(
        "INSERT INTO graph_entities (namespace, name, norm_name, entity_type, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (namespace, name, normalise(name), entity_type, now, now),
    )


async def current_observations(db: Reader, entity_id: int) -> list[str]:
    rows = await db.fetchall(
        "SELECT content FROM graph_observations WHERE entity_id = ? AND valid_to IS NULL ORDER BY id",
        (entity_id,),
    )
    return [row[0] for row in rows]


async def add_observations(tx: Transaction, entity_id: int, contents: Sequence[str], now: float) -> list[str]:
    """Append the contents the entity does not hold yet, in order; returns those added."""
    held = set(await current_observations(tx, entity_id))
    added = [content for content in contents if content not in held]
    await tx.executemany(
        "INSERT INTO graph_observations (entity_id, content, valid_from) VALUES (?, ?, ?)",
        [(entity_id, content, now) for content in added],
    )
    if added:
        await tx.execute("UPDATE graph_entities SET updated_at = ? WHERE id = ?", (now, entity_id))
    return added


async def invalidate_observations(
    tx: Transaction, entity_id: int, contents: Sequence[str], now: float
) -> int:
    if not contents:
        return 0
    rows = await tx.fetchall(
        f"UPDATE graph_observations SET valid_to = ? WHERE entity_id = ? AND valid_to IS NULL "
        f"AND content IN ({_marks(contents)}) RETURNING id",
        [now, entity_id, *contents],
    )
    return len(rows)


async def insert_relation(
    tx: Transaction, namespace: str, source_id: int, target_id: int, relation_type: str, now: float
) -> bool:
    """Add a current relation; False when the same one already holds."""
    row = await tx.fetchone(
        "INSERT INTO graph_relations (namespace, source_id, target_id, relation_type, valid_from) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        (namespace, source_id, target_id, relation_type, now),
    )
    return row is not None


async def invalidate_relation(
    tx: Transaction, source_id: int, target_id: int, relation_type: str, now: float
) -> bool:
    row = await tx.fetchone(
        "UPDATE graph_relations SET valid_to = ? WHERE source_id = ? AND target_id = ? "
        "AND relation_type = ? AND valid_to IS NULL RETURNING id",
        (now, source_id, target_id, relation_type),
    )
    return row is not None


async def delete_entities(tx: Transaction, entity_ids: Sequence[int], now: float) -> None:
    """Mark the entities deleted and end every current relation that touches one of them."""
    for chunk in _chunks(entity_ids):
        marks = _marks(chunk)
        await tx.execute(
            "UPDATE graph_entities SET status = 'deleted', deleted_at = ?, updated_at = ? "
            f"WHERE id IN ({marks})",
            [now, now, *chunk],
        )
        await tx.execute(
            f"UPDATE graph_relations SET valid_to = ? WHERE valid_to IS NULL "
            f"AND (source_id IN ({marks}) OR target_id IN ({marks}))",
            [now, *chunk, *chunk],
        )
        await tx.execute(f"DELETE FROM graph_fts WHERE rowid IN ({marks})", list(chunk))


async def refresh_search(tx: Transaction, entity_ids: Iterable[int]) -> None:
    """Rewrite the search rows of these entities from the tables (after any change to them)."""
    ids = sorted(set(entity_ids))
    for chunk in _chunks(ids):
        marks = _marks(chunk)
        await tx.execute(f"DELETE FROM graph_fts WHERE rowid IN ({marks})", list(chunk))
        await tx.execute(
            "INSERT INTO graph_fts (rowid, name, entity_type, observations) "
            "SELECT e.id, e.name, e.entity_type, (SELECT group_concat(o.content, char(10)) FROM "
            "(SELECT content FROM graph_observations WHERE entity_id = e.id AND valid_to IS NULL "
            f"ORDER BY id) o) FROM graph_entities e WHERE e.status = 'active' AND e.id IN ({marks})",
            list(chunk),
        )


async def rebuild_search(tx: Transaction) -> None:
    """Recreate the whole derived search index from the canonical tables."""
    await tx.execute("DELETE FROM graph_fts")
    rows = await tx.fetchall("SELECT id FROM graph_entities WHERE status = 'active'")
    await refresh_search(tx, [int(row[0]) for row in rows])


async def entity_page(db: Reader, namespace: str, after_id: int, limit: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT id FROM graph_entities WHERE namespace = ? AND status = 'active' AND id > ? "
        "ORDER BY id LIMIT ?",
        (namespace, after_id, limit),
    )
    return [int(row[0]) for row in rows]


async def relation_page(db: Reader, namespace: str, after_id: int, limit: int) -> list[RelationRecord]:
    return await _relations(
        db,
        "r.namespace = ? AND r.valid_to IS NULL AND r.id > ? ORDER BY r.id LIMIT ?",
        [namespace, after_id, limit],
    )


async def relations_touching(db: Reader, entity_ids: Sequence[int], limit: int) -> list[RelationRecord]:
    """Current relations with either end among the entities, oldest first, at most `limit`."""
    if not entity_ids:
        return []
    # Deliberately one statement: the ids are bounded by the callers (a page, a request's names).
    marks = _marks(entity_ids)
    return await _relations(
        db,
        f"r.valid_to IS NULL AND (r.source_id IN ({marks}) OR r.target_id IN ({marks})) "
        "ORDER BY r.id LIMIT ?",
        [*entity_ids, *entity_ids, limit],
    )


async def _relations(db: Reader, where: str, params: list[object]) -> list[RelationRecord]:
    rows = await db.fetchall(
        "SELECT r.id, s.name, t.name, r.relation_type FROM graph_relations r "
        "JOIN graph_entities s ON s.id = r.source_id JOIN graph_entities t ON t.id = r.target_id "
        f"WHERE {where}",
        params,
    )
    return [RelationRecord(int(row[0]), row[1], row[2], row[3]) for row in rows]


async def entities(db: Reader, entity_ids: Sequence[int]) -> list[EntityRecord]:
    """The entities with their current observations, in id order."""
    if not entity_ids:
        return []
    marks = _marks(entity_ids)
    rows = await db.fetchall(
        f"SELECT id, name, entity_type FROM graph_entities WHERE id IN ({marks}) ORDER BY id",
        list(entity_ids),
    )
    observed: dict[int, list[str]] = {}
    for row in await db.fetchall(
        f"SELECT entity_id, content FROM graph_observations WHERE entity_id IN ({marks}) "
        "AND valid_to IS NULL ORDER BY id",
        list(entity_ids),
    ):
        observed.setdefault(int(row[0]), []).append(row[1])
    return [EntityRecord(int(row[0]), row[1], row[2], tuple(observed.get(int(row[0]), ()))) for row in rows]


async def search_candidates(db: Reader, namespace: str, query: str, after_id: int, limit: int) -> list[int]:
    """Ids of active entities whose indexed text may contain `query`, in id order.

    Trigram matching needs three characters; shorter queries (and the empty one, which matches
    everything like the reference server's) scan the namespace with LIKE. Callers confirm each
    candidate, since a match may span two observations or fold case differently."""
    where = "e.namespace = ? AND e.status = 'active' AND e.id > ?"
    if len(query) >= 3:
        phrase = '"' + query.replace('"', '""') + '"'
        sql = (
            "SELECT e.id FROM graph_fts f CROSS JOIN graph_entities e ON e.id = f.rowid "
            f"WHERE graph_fts MATCH ? AND {where} ORDER BY e.id LIMIT ?"
        )
        params: list[object] = [phrase, namespace, after_id, limit]
    elif query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = (
            "SELECT e.id FROM graph_entities e JOIN graph_fts f ON f.rowid = e.id "
            f"WHERE {where} AND (f.name LIKE ? ESCAPE '\\' OR f.entity_type LIKE ? ESCAPE '\\' "
            "OR f.observations LIKE ? ESCAPE '\\') ORDER BY e.id LIMIT ?"
        )
        params = [namespace, after_id, pattern, pattern, pattern, limit]
    else:
        sql = f"SELECT e.id FROM graph_entities e WHERE {where} ORDER BY e.id LIMIT ?"
        params = [namespace, after_id, limit]
    rows = await db.fetchall(sql, params)
    return [int(row[0]) for row in rows]
