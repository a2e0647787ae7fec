"""SQL of graph traversal: one breadth-first step and the relations among a set of entities.

Every read takes `as_of` (unix seconds, or None for now) and applies the predicates of graph_time,
so a relation ended later is still walked in an earlier graph. A step reads the relations of a
frontier through graph_relations_by_source / _by_target, keeping those whose far end is alive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from athena_mcp.store.graph import Reader, chunks, marks
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
    typed = f" AND r.relation_type IN ({marks(relation_types)})" if relation_types else ""
    found: list[Hop] = []
    for chunk in chunks(frontier):
        for near, far in walks:
            rows = await db.fetchall(
                f"SELECT r.{near}, r.{far}, r.id, r.source_id, r.target_id, r.relation_type "
                f"FROM graph_relations r JOIN graph_entities e ON e.id = r.{far} "
                f"WHERE r.{near} IN ({marks(chunk)}) AND {holds}{typed} AND {alive} LIMIT ?",
                [*chunk, *holds_params, *relation_types, *alive_params, limit - len(found)],
            )
            found += [
                Hop(int(row[0]), int(row[1]), Edge(int(row[2]), int(row[3]), int(row[4]), row[5]))
                for row in rows
            ]
            if len(found) >= limit:
                return found
    return found


async def relations_among(
    db: Reader, entity_ids: Sequence[int], as_of: float | None, limit: int
) -> list[Edge]:
    """Relations holding at `as_of` with both ends among the entities (at most CHUNK of them)."""
    if not entity_ids:
        return []
    holds, holds_params = fact_holds("r", as_of)
    ids = marks(entity_ids)
    rows = await db.fetchall(
        "SELECT r.id, r.source_id, r.target_id, r.relation_type FROM graph_relations r "
        f"WHERE r.source_id IN ({ids}) AND r.target_id IN ({ids}) AND {holds} ORDER BY r.id LIMIT ?",
        [*entity_ids, *entity_ids, *holds_params, limit],
    )
    return [Edge(int(row[0]), int(row[1]), int(row[2]), row[3]) for row in rows]
