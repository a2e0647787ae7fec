"""SQL of graph traversal: one breadth-first step, names resolved and entities read as of a time.

Every read takes `as_of` (unix seconds, or None for now) and applies the predicates of graph_time,
so a relation ended later is still walked in an earlier graph. A step reads the relations of a
frontier through graph_relations_by_source / _by_target, keeping those whose far end is alive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from athena_mcp.store import graph
from athena_mcp.store.graph import CHUNK, EntityRecord, Reader, normalise
from athena_mcp.store.graph_time import entity_alive, fact_holds

Direction = Literal["out", "in", "both"]


@dataclass(frozen=True)
class Edge:
    id: int
    source_id: int
    target_id: int
    relation_type: str


@dataclass(frozen=True)
class Hop:
    """A relation walked in one step: from `near` (in the frontier) to `far`."""

    near: int
    far: int
    edge: Edge


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


async def step(
    db: Reader,
    frontier: Sequence[int],
    direction: Direction,
    relation_types: Sequence[str],
    as_of: float | None,
    limit: int,
) -> list[Hop]:
    """Relations holding at `as_of` that leave (out), enter (in) or touch (both) the frontier, whose
    other end is alive then; at most `limit`, so a hub cannot make one step unbounded."""
    ends = {"out": [("source_id", "target_id")], "in": [("target_id", "source_id")]}
    walks = ends["out"] + ends["in"] if direction == "both" else ends[direction]
    holds, holds_params = fact_holds("r", as_of)
    alive, alive_params = entity_alive("e", as_of)
    typed = f" AND r.relation_type IN ({_marks(relation_types)})" if relation_types else ""
    found: list[Hop] = []
    for start in range(0, len(frontier), CHUNK):
        chunk = list(frontier[start : start + CHUNK])
        for near, far in walks:
            rows = await db.fetchall(
                f"SELECT r.{near}, r.{far}, r.id, r.source_id, r.target_id, r.relation_type "
                f"FROM graph_relations r JOIN graph_entities e ON e.id = r.{far} "
                f"WHERE r.{near} IN ({_marks(chunk)}) AND {holds}{typed} AND {alive} LIMIT ?",
                [*chunk, *holds_params, *relation_types, *alive_params, limit - len(found)],
            )
            found += [
                Hop(int(row[0]), int(row[1]), Edge(int(row[2]), int(row[3]), int(row[4]), row[5]))
                for row in rows
            ]
            if len(found) >= limit:
                return found
    return found


async def resolve_at(db: Reader, namespace: str, names: Iterable[str], as_of: float | None) -> dict[str, int]:
    """Entity ids by normalised name (or alias) of the entities alive at `as_of` that bear them."""
    if as_of is None:
        return await graph.resolve(db, namespace, names)
    wanted = list(dict.fromkeys(normalise(name) for name in names))
    alive, alive_params = entity_alive("e", as_of)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = await db.fetchall(
            f"SELECT e.norm_name, e.id FROM graph_entities e WHERE e.namespace = ? "
            f"AND e.norm_name IN ({_marks(chunk)}) AND {alive}",
            [namespace, *chunk, *alive_params],
        )
        found.update({row[0]: int(row[1]) for row in rows})
        missing = [name for name in chunk if name not in found]
        if missing:
            rows = await db.fetchall(
                "SELECT a.norm_alias, e.id FROM graph_aliases a JOIN graph_entities e ON e.id = a.entity_id "
                f"WHERE a.namespace = ? AND a.norm_alias IN ({_marks(missing)}) AND a.created_at <= ? "
                f"AND {alive}",
                [namespace, *missing, as_of, *alive_params],
            )
            found.update({row[0]: int(row[1]) for row in rows})
    return found


async def entities_at(db: Reader, entity_ids: Sequence[int], as_of: float | None) -> dict[int, EntityRecord]:
    """The entities by id with the observations that held at `as_of`, in the order they were made."""
    if as_of is None:
        return {entity.id: entity for entity in await graph.entities(db, entity_ids)}
    holds, holds_params = fact_holds("o", as_of)
    records: dict[int, EntityRecord] = {}
    for start in range(0, len(entity_ids), CHUNK):
        chunk = list(entity_ids[start : start + CHUNK])
        observed: dict[int, list[str]] = {}
        for row in await db.fetchall(
            f"SELECT o.entity_id, o.content FROM graph_observations o WHERE o.entity_id IN ({_marks(chunk)}) "
            f"AND {holds} ORDER BY o.id",
            [*chunk, *holds_params],
        ):
            observed.setdefault(int(row[0]), []).append(row[1])
        for row in await db.fetchall(
            f"SELECT id, name, entity_type FROM graph_entities WHERE id IN ({_marks(chunk)})", chunk
        ):
            entity_id = int(row[0])
            records[entity_id] = EntityRecord(entity_id, row[1], row[2], tuple(observed.get(entity_id, ())))
    return records


async def relations_among(
    db: Reader, entity_ids: Sequence[int], as_of: float | None, limit: int
) -> list[Edge]:
    """Relations holding at `as_of` with both ends among the entities (at most CHUNK of them)."""
    if not entity_ids:
        return []
    holds, holds_params = fact_holds("r", as_of)
    marks = _marks(entity_ids)
    rows = await db.fetchall(
        "SELECT r.id, r.source_id, r.target_id, r.relation_type FROM graph_relations r "
        f"WHERE r.source_id IN ({marks}) AND r.target_id IN ({marks}) AND {holds} ORDER BY r.id LIMIT ?",
        [*entity_ids, *entity_ids, *holds_params, limit],
    )
    return [Edge(int(row[0]), int(row[1]), int(row[2]), row[3]) for row in rows]


async def search_at(
    db: Reader, namespace: str, query: str, as_of: float, after_id: int, limit: int
) -> list[int]:
    """Ids of entities alive at `as_of` whose name, type or an observation then holding may contain
    the query, in id order. The search index holds only the present, so this scans the namespace;
    callers confirm each candidate as they do with graph.search_candidates."""
    alive, alive_params = entity_alive("e", as_of)
    holds, holds_params = fact_holds("o", as_of)
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await db.fetchall(
        f"SELECT e.id FROM graph_entities e WHERE e.namespace = ? AND e.id > ? AND {alive} "
        "AND (e.name LIKE ? ESCAPE '\\' OR e.entity_type LIKE ? ESCAPE '\\' OR EXISTS "
        f"(SELECT 1 FROM graph_observations o WHERE o.entity_id = e.id AND {holds} "
        "AND o.content LIKE ? ESCAPE '\\')) ORDER BY e.id LIMIT ?",
        [namespace, after_id, *alive_params, pattern, pattern, *holds_params, pattern, limit],
    )
    return [int(row[0]) for row in rows]
