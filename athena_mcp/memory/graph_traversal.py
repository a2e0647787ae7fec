"""Walking the knowledge graph: the neighbourhood of an entity, and the subgraph around a search.

Both are a level-by-level breadth-first walk in SQL (store.graph_traversal.step): each level is one
indexed query per direction over the frontier, so a depth-1 answer costs a handful of statements
whatever the size of the graph, and the walk stops as soon as it holds `limit` entities.
Every read takes `as_of` and sees the graph as it was then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from athena_mcp.errors import NotFound
from athena_mcp.memory import graph_search
from athena_mcp.memory.graph_models import Relation
from athena_mcp.store import graph, graph_reads
from athena_mcp.store import graph_traversal as traversal
from athena_mcp.store.database import Database
from athena_mcp.store.graph_reads import EntityRecord
from athena_mcp.store.graph_traversal import Direction, Edge

# Relations returned with a neighbourhood or a subgraph, at most; more sets `truncated`.
MAX_RELATIONS = 1000
# Relations read in one level of a walk, at most: bounds the work a hub can cause.
MAX_STEP_RELATIONS = 20_000


class Neighbour(BaseModel):
    name: str
    entityType: str
    distance: int = Field(description="Relations walked from the start; 0 for the start itself")


class Neighbourhood(BaseModel):
    start: str = Field(description="The entity the walk started from, by its stored name")
    entities: list[Neighbour] = Field(description="The start, then the entities reached, nearest first")
    relations: list[Relation] = Field(description="The relations walked between the entities listed")
    truncated: bool = Field(
        description="True when limit (or the cap of 1000 relations) cut the answer short: "
        "lower depth or filter by relation_types to see the rest"
    )


class ExploredEntity(BaseModel):
    name: str
    entityType: str
    observations: list[str]
    hit: bool = Field(description="True when the entity itself matches the query")
    distance: int = Field(description="Relations walked from the nearest hit; 0 for hits")


class Subgraph(BaseModel):
    entities: list[ExploredEntity] = Field(description="The hits, then the entities reached, nearest first")
    relations: list[Relation] = Field(description="The relations among the entities listed")
    truncated: bool = Field(description="True when limit cut the hits or the expansion short")


@dataclass
class Walk:
    """What a breadth-first walk reached: distances by entity id, the relations it walked."""

    distances: dict[int, int]
    edges: dict[int, Edge] = field(default_factory=dict)
    truncated: bool = False


async def walk(
    db: Database,
    start: Sequence[int],
    depth: int,
    direction: Direction,
    relation_types: Sequence[str],
    as_of: float | None,
    limit: int,
) -> Walk:
    """Walk up to `depth` relations out from `start`, keeping at most `limit` entities in all."""
    found = Walk(distances={entity_id: 0 for entity_id in start})
    frontier = list(start)
    for level in range(1, depth + 1):
        if not frontier:
            break
        hops = await traversal.step(db, frontier, direction, relation_types, as_of, MAX_STEP_RELATIONS)
        found.truncated |= len(hops) >= MAX_STEP_RELATIONS
        frontier = []
        for hop in hops:
            if hop.far not in found.distances:
                if len(found.distances) >= limit:
                    # Its relation is left out too: both ends of every relation shown are listed.
                    found.truncated = True
                    continue
                found.distances[hop.far] = level
                frontier.append(hop.far)
            if len(found.edges) < MAX_RELATIONS:
                found.edges[hop.edge.id] = hop.edge
            elif hop.edge.id not in found.edges:
                found.truncated = True
    return found


class GraphTraversal:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def find_neighbours(
        self,
        namespace: str,
        name: str,
        depth: int,
        relation_types: Sequence[str],
        direction: Direction,
        as_of: float | None,
        limit: int,
    ) -> Neighbourhood:
        [start] = await self.require(namespace, [("name", name)], as_of)
        found = await walk(self._database, [start], depth, direction, relation_types, as_of, limit + 1)
        records = await entities_by_id(self._database, list(found.distances), as_of)
        return Neighbourhood(
            start=records[start].name,
            entities=[
                Neighbour(name=records[i].name, entityType=records[i].entity_type, distance=distance)
                for i, distance in found.distances.items()
            ],
            relations=_relations(found.edges.values(), records),
            truncated=found.truncated,
        )

    async def explore_graph(
        self, namespace: str, query: str, depth: int, as_of: float | None, limit: int
    ) -> Subgraph:
        hits, more = await self._hits(namespace, query, as_of, limit)
        found = await walk(self._database, list(hits), depth, "both", (), as_of, limit)
        ids = list(found.distances)
        # The hits came with their observations; only the entities the walk reached are read.
        records = hits | await entities_by_id(self._database, [i for i in ids if i not in hits], as_of)
        edges = await traversal.relations_among(self._database, ids, as_of, MAX_RELATIONS + 1)
        return Subgraph(
            entities=[
                ExploredEntity(
                    name=records[i].name,
                    entityType=records[i].entity_type,
                    observations=list(records[i].observations),
                    hit=distance == 0,
                    distance=distance,
                )
                for i, distance in found.distances.items()
            ],
            relations=_relations(edges[:MAX_RELATIONS], records),
            truncated=more or found.truncated or len(edges) > MAX_RELATIONS,
        )

    async def require(
        self, namespace: str, names: Sequence[tuple[str, str]], as_of: float | None
    ) -> list[int]:
        """The ids of the named entities (field, name) alive at `as_of`; NotFound names the field."""
        ids = await graph.resolve(self._database, namespace, (name for _, name in names), as_of)
        found = []
        for field_name, name in names:
            entity_id = ids.get(graph.normalise(name))
            if entity_id is None:
                when = "" if as_of is None else " at as_of"
                raise NotFound(
                    f"{field_name}: no entity named {name}{when} in this namespace; "
                    "find names with search_nodes or explore_graph."
                )
            found.append(entity_id)
        return found

    async def _hits(
        self, namespace: str, query: str, as_of: float | None, limit: int
    ) -> tuple[dict[int, EntityRecord], bool]:
        """Up to `limit` entities matching the query as search_nodes does, by id in its order, and
        whether more do."""
        found = await graph_search.find_entities(self._database, namespace, query, 0, limit + 1, as_of)
        more = len(found.entities) > limit or found.resume_after is not None
        return {entity.id: entity for entity in found.entities[:limit]}, more


async def entities_by_id(
    db: Database, entity_ids: Sequence[int], as_of: float | None
) -> dict[int, EntityRecord]:
    return {entity.id: entity for entity in await graph_reads.entities(db, entity_ids, as_of)}


def _relations(edges: Iterable[Edge], records: dict[int, EntityRecord]) -> list[Relation]:
    return [
        Relation.model_validate(
            {
                "from": records[e.source_id].name,
                "to": records[e.target_id].name,
                "relationType": e.relation_type,
            }
        )
        for e in edges
    ]
