"""Shortest paths between two entities: a bidirectional breadth-first search in SQL.

Each round expands the smaller frontier by one level (store.graph_traversal.step), from the source
along the relations and from the target against them, until the two searches meet. Compared with
a networkx graph cached per namespace, this reads only the few levels around the two ends, needs no
copy of the graph in memory, sees another process's writes at once, and answers `as_of` reads the
same way as current ones (see perf/README.md for the measurements behind the choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.memory.graph_traversal import GraphTraversal, entities_by_id
from athena_mcp.store import graph_traversal as traversal
from athena_mcp.store.database import Database
from athena_mcp.store.graph_traversal import Direction, Hop

# Relations read in one round, at most: past it the search stops and says it was cut short.
MAX_ROUND_RELATIONS = 100_000
REVERSED: dict[Direction, Direction] = {"out": "in", "in": "out", "both": "both"}


class PathStep(BaseModel):
    entity: str = Field(description="The entity this step reaches")
    entityType: str
    relationType: str
    direction: Literal["out", "in"] = Field(
        description="out: the relation runs from the previous entity to this one; in: from this one back"
    )


class GraphPath(BaseModel):
    source: str = Field(description="The source entity by its stored name")
    target: str = Field(description="The target entity by its stored name")
    found: bool
    length: int | None = Field(description="Relations on the path; null when none was found")
    steps: list[PathStep] = Field(description="The path from the source, one relation per step")
    exhaustive: bool = Field(
        description="True when every path up to max_depth was considered, so found=false means there is none"
    )
    message: str


class GraphPaths:
    def __init__(self, database: Database, traversal: GraphTraversal) -> None:
        self._database = database
        self._traversal = traversal

    async def find_path(
        self,
        namespace: str,
        source: str,
        target: str,
        max_depth: int,
        relation_types: Sequence[str],
        direction: Direction,
        as_of: float | None,
    ) -> GraphPath:
        ends = await self._traversal.require(namespace, [("source", source), ("target", target)], as_of)
        hops, exhaustive = await self._search(ends[0], ends[1], max_depth, relation_types, direction, as_of)
        records = await entities_by_id(self._database, list({*ends, *(h.far for h in hops or ())}), as_of)
        names = records[ends[0]].name, records[ends[1]].name
        if hops is None:
            cut = "" if exhaustive else " (the search was cut short at a very large frontier)"
            return GraphPath(
                source=names[0],
                target=names[1],
                found=False,
                length=None,
                steps=[],
                exhaustive=exhaustive,
                message=f"No path of at most {max_depth} relations from {names[0]} to {names[1]}{cut}.",
            )
        steps = [
            PathStep(
                entity=records[hop.far].name,
                entityType=records[hop.far].entity_type,
                relationType=hop.edge.relation_type,
                direction="out" if hop.edge.source_id == hop.near else "in",
            )
            for hop in hops
        ]
        return GraphPath(
            source=names[0],
            target=names[1],
            found=True,
            length=len(steps),
            steps=steps,
            exhaustive=True,
            message=f"A shortest path of {len(steps)} relation(s) from {names[0]} to {names[1]}.",
        )

    async def _search(
        self,
        source: int,
        target: int,
        max_depth: int,
        relation_types: Sequence[str],
        direction: Direction,
        as_of: float | None,
    ) -> tuple[list[Hop] | None, bool]:
        """The hops of a shortest path from source to target (None when there is none within
        max_depth), and whether the search was complete."""
        if source == target:
            return [], True
        # Per side: how each reached entity was reached (None for the side's own end).
        reached: list[dict[int, Hop | None]] = [{source: None}, {target: None}]
        frontiers = [[source], [target]]
        walks = [direction, REVERSED[direction]]
        for _ in range(max_depth):
            side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
            hops = await traversal.step(
                self._database, frontiers[side], walks[side], relation_types, as_of, MAX_ROUND_RELATIONS
            )
            if len(hops) >= MAX_ROUND_RELATIONS:
                return None, False
            frontiers[side] = []
            for hop in hops:
                if hop.far in reached[side]:
                    continue
                reached[side][hop.far] = hop
                frontiers[side].append(hop.far)
                if hop.far in reached[1 - side]:
                    return _join(reached, hop.far), True
            if not frontiers[side]:
                return None, True
        return None, True


def _join(reached: list[dict[int, Hop | None]], meeting: int) -> list[Hop]:
    """The path through `meeting`: the source side's hops in order, then the target side's turned
    round (each walked from far to near)."""
    forward: list[Hop] = []
    node = meeting
    while (hop := reached[0][node]) is not None:
        forward.append(hop)
        node = hop.near
    forward.reverse()
    backward: list[Hop] = []
    node = meeting
    while (hop := reached[1][node]) is not None:
        backward.append(Hop(near=hop.far, far=hop.near, edge=hop.edge))
        node = hop.near
    return forward + backward
