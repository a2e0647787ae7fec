"""SQL that reads the knowledge graph, now or as of a time (see graph_time)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from athena_mcp.store.graph import Reader, chunks, marks
from athena_mcp.store.graph_time import entity_alive, fact_holds


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


@dataclass(frozen=True)
class Fact:
    """An observation or a relation with its validity and provenance, for an entity's full record."""

    id: int
    text: str  # the observation, or the relation type
    other: str | None  # the entity at the other end of a relation
    outgoing: bool
    weight: float
    sources: tuple[int, ...]
    valid_from: float
    valid_to: float | None


async def entity_page(
    db: Reader, namespace: str, after_id: int, limit: int, as_of: float | None = None
) -> list[int]:
    alive, params = entity_alive("e", as_of)
    rows = await db.fetchall(
        f"SELECT e.id FROM graph_entities e WHERE e.namespace = ? AND e.id > ? AND {alive} "
        "ORDER BY e.id LIMIT ?",
        [namespace, after_id, *params, limit],
    )
    return [int(row[0]) for row in rows]


async def relation_page(
    db: Reader, namespace: str, after_id: int, limit: int, as_of: float | None = None
) -> list[RelationRecord]:
    holds, params = fact_holds("r", as_of)
    return await _relations(
        db,
        f"r.namespace = ? AND {holds} AND r.id > ? ORDER BY r.id LIMIT ?",
        [namespace, *params, after_id, limit],
    )


async def relations_touching(
    db: Reader, entity_ids: Sequence[int], limit: int, as_of: float | None = None
) -> list[RelationRecord]:
    """Relations holding at `as_of` with either end among the entities, oldest first, at most `limit`."""
    if not entity_ids:
        return []
    holds, params = fact_holds("r", as_of)
    # One statement: the ids are bounded by the callers (a page, a request's names).
    ids = marks(entity_ids)
    return await _relations(
        db,
        f"{holds} AND (r.source_id IN ({ids}) OR r.target_id IN ({ids})) ORDER BY r.id LIMIT ?",
        [*params, *entity_ids, *entity_ids, limit],
    )


async def _relations(db: Reader, where: str, params: list[object]) -> list[RelationRecord]:
    rows = await db.fetchall(
        "SELECT r.id, s.name, t.name, r.relation_type FROM graph_relations r "
        "JOIN graph_entities s ON s.id = r.source_id JOIN graph_entities t ON t.id = r.target_id "
        f"WHERE {where}",
        params,
    )
    return [RelationRecord(int(row[0]), row[1], row[2], row[3]) for row in rows]


async def entities(db: Reader, entity_ids: Sequence[int], as_of: float | None = None) -> list[EntityRecord]:
    """The entities alive at `as_of` among these, with the observations then holding, in id order."""
    if not entity_ids:
        return []
    alive, alive_params = entity_alive("e", as_of)
    holds, holds_params = fact_holds("o", as_of)
    ids = marks(entity_ids)
    rows = await db.fetchall(
        f"SELECT e.id, e.name, e.entity_type FROM graph_entities e WHERE e.id IN ({ids}) AND {alive} "
        "ORDER BY e.id",
        [*entity_ids, *alive_params],
    )
    observed: dict[int, list[str]] = {}
    for row in await db.fetchall(
        f"SELECT o.entity_id, o.content FROM graph_observations o WHERE o.entity_id IN ({ids}) AND {holds} "
        "ORDER BY o.id",
        [*entity_ids, *holds_params],
    ):
        observed.setdefault(int(row[0]), []).append(row[1])
    return [EntityRecord(int(row[0]), row[1], row[2], tuple(observed.get(int(row[0]), ()))) for row in rows]


async def search_candidates(db: Reader, namespace: str, query: str, after_id: int, limit: int) -> list[int]:
    """Ids of active entities whose indexed text may contain `query`, in id order.

    Trigram matching needs three characters; shorter queries (and the empty one, which matches
    everything like the reference server's) filter with LIKE when ASCII and otherwise scan the
    namespace. Callers confirm each candidate,
    since a match may span two observations or fold case differently."""
    where = "e.namespace = ? AND e.status = 'active' AND e.id > ?"
    if len(query) >= 3:
        phrase = '"' + query.replace('"', '""') + '"'
        sql = (
            "SELECT e.id FROM graph_fts f CROSS JOIN graph_entities e ON e.id = f.rowid "
            f"WHERE graph_fts MATCH ? AND {where} ORDER BY e.id LIMIT ?"
        )
        params: list[object] = [phrase, namespace, after_id, limit]
    elif query.isascii() and query:
        # LIKE folds ASCII letters only, which suffices as a filter for an ASCII query.
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


async def aliases_of(db: Reader, entity_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for chunk in chunks(list(entity_ids)):
        for row in await db.fetchall(
            f"SELECT entity_id, alias FROM graph_aliases WHERE entity_id IN ({marks(chunk)}) ORDER BY id",
            list(chunk),
        ):
            found.setdefault(int(row[0]), []).append(row[1])
    return found


async def entity_row(db: Reader, entity_id: int) -> tuple[float, tuple[int, ...]]:
    """(created_at, provenance) of an entity."""
    row = await db.fetchone("SELECT created_at, memory_ids FROM graph_entities WHERE id = ?", (entity_id,))
    assert row is not None
    return float(row[0]), tuple(json.loads(row[1]))


async def facts(
    db: Reader, entity_id: int, as_of: float | None, history: bool, limit: int
) -> tuple[list[Fact], list[Fact]]:
    """(observations, relations) of an entity, newest first, at most `limit` (+1, to tell truncation)
    of each: those holding at `as_of` (now), or with `history` every one it ever had."""
    holds, params = ("1", []) if history else fact_holds("f", as_of)
    observations = [
        Fact(int(r[0]), r[1], None, True, 1.0, tuple(json.loads(r[2])), float(r[3]), r[4])
        for r in await db.fetchall(
            "SELECT f.id, f.content, f.memory_ids, f.valid_from, f.valid_to FROM graph_observations f "
            f"WHERE f.entity_id = ? AND {holds} ORDER BY f.valid_from DESC, f.id DESC LIMIT ?",
            [entity_id, *params, limit + 1],
        )
    ]
    relations = [
        Fact(int(r[0]), r[1], r[2], bool(r[3]), float(r[4]), tuple(json.loads(r[5])), float(r[6]), r[7])
        for r in await db.fetchall(
            "SELECT f.id, f.relation_type, o.name, f.source_id = ?, f.weight, f.memory_ids, f.valid_from, "
            "f.valid_to FROM graph_relations f JOIN graph_entities o "
            "ON o.id = CASE WHEN f.source_id = ? THEN f.target_id ELSE f.source_id END "
            f"WHERE (f.source_id = ? OR f.target_id = ?) AND {holds} "
            "ORDER BY f.valid_from DESC, f.id DESC LIMIT ?",
            [entity_id, entity_id, entity_id, entity_id, *params, limit + 1],
        )
    ]
    return observations, relations


async def merges_of(db: Reader, entity_id: int) -> list[tuple[int, str, str, float, float | None]]:
    """(merge id, survivor, absorbed, merged_at, unmerged_at) of the entity's merges, newest first."""
    rows = await db.fetchall(
        "SELECT m.id, s.name, a.name, m.merged_at, m.unmerged_at FROM graph_merges m "
        "JOIN graph_entities s ON s.id = m.survivor_id JOIN graph_entities a ON a.id = m.absorbed_id "
        "WHERE m.survivor_id = ? OR m.absorbed_id = ? ORDER BY m.id DESC",
        (entity_id, entity_id),
    )
    return [(int(r[0]), r[1], r[2], float(r[3]), r[4]) for r in rows]


async def memories_in(db: Reader, namespace: str, memory_ids: Sequence[int]) -> set[int]:
    """Which of these ids are memories of the namespace (for provenance given by a caller)."""
    found: set[int] = set()
    for chunk in chunks(list(memory_ids)):
        rows = await db.fetchall(
            f"SELECT id FROM memories WHERE namespace = ? AND id IN ({marks(chunk)})", [namespace, *chunk]
        )
        found.update(int(row[0]) for row in rows)
    return found
