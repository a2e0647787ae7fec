"""The graph toolset: the reference MCP memory server's nine tools, with the same names and argument
shapes, each with an optional namespace: create_entities, create_relations, add_observations,
delete_entities, delete_observations, delete_relations, read_graph, search_nodes, open_nodes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from athena_mcp.fields import Cursor, MemoryId, Namespace, Timestamp
from athena_mcp.memory.graph_models import (
    MAX_BATCH,
    MAX_OBSERVATIONS,
    WITHOUT_NUL,
    CreatedEntities,
    CreatedRelations,
    Deleted,
    EntityName,
    EntityType,
    KnowledgeGraph,
    NewEntity,
    NewRelation,
    Observation,
    ObservationBatch,
    ObservationsAdded,
    RelationKey,
    RelationType,
)
from athena_mcp.models import to_seconds_or_none
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints

MAX_SEARCH_CHARS = 2048  # the reference server's limit on search_nodes' query
MAX_PAGE = 500
# A search answer carries every relation touching its entities: 20 entities keep it to a size a model
# can read (a page of 100 carried about 900 relations in the graph benchmark); next_cursor goes on.
SEARCH_PAGE = 20

Names = Annotated[list[EntityName], Field(max_length=MAX_BATCH)]
MAX_SOURCES = 100
SourceMemoryIds = Annotated[
    list[MemoryId],
    Field(
        max_length=MAX_SOURCES,
        description="Memories that said this (provenance)",
    ),
]
AsOf = Annotated[
    Timestamp | None,
    Field(description="Read the graph as it stood at this time (ISO 8601); omit for now"),
]


class EntityInput(BaseModel):
    name: EntityName
    entityType: EntityType
    observations: Annotated[
        list[Observation],
        Field(
            max_length=MAX_OBSERVATIONS,
            description="An array of observation contents associated with the entity",
        ),
    ]
    source_memory_ids: SourceMemoryIds = []

    def draft(self) -> NewEntity:
        return NewEntity(self.name, self.entityType, tuple(self.observations), tuple(self.source_memory_ids))


class RelationKeyInput(BaseModel):
    from_: Annotated[
        EntityName, Field(alias="from", description="The name of the entity where the relation starts")
    ]
    to: Annotated[EntityName, Field(description="The name of the entity where the relation ends")]
    relationType: RelationType

    def key(self) -> RelationKey:
        return RelationKey(self.from_, self.to, self.relationType)


class RelationInput(RelationKeyInput):
    weight: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False, description="Strength")] = 1.0
    exclusive: Annotated[
        bool,
        Field(description="The source holds one of this type (e.g. lives_in): others end"),
    ] = False
    source_memory_ids: SourceMemoryIds = []

    def draft(self) -> NewRelation:
        return NewRelation(self.key(), self.weight, self.exclusive, tuple(self.source_memory_ids))


class ObservationAddition(BaseModel):
    entityName: Annotated[EntityName, Field(description="The name of the entity to add the observations to")]
    contents: Annotated[
        list[Observation],
        Field(max_length=MAX_OBSERVATIONS, description="An array of observation contents to add"),
    ]
    source_memory_ids: SourceMemoryIds = []

    def draft(self) -> ObservationBatch:
        return ObservationBatch(self.entityName, tuple(self.contents), tuple(self.source_memory_ids))


class ObservationDeletion(BaseModel):
    entityName: Annotated[EntityName, Field(description="The name of the entity containing the observations")]
    observations: Annotated[
        list[Observation],
        Field(max_length=MAX_OBSERVATIONS, description="An array of observations to delete"),
    ]


GraphNamespace = Annotated[
    Namespace, Field(description="Graph space, e.g. a project or user; default 'default'")
]
PageSize = Annotated[
    int, Field(ge=1, le=MAX_PAGE, description=f"Most entities or relations per page (1-{MAX_PAGE})")
]


def tools() -> tuple[ToolSpec, ...]:
    # Creating twice skips what exists, so a repeat changes nothing; deletions end facts (kept as history).
    writes = tool_hints(read_only=False, idempotent=True)
    deletes = tool_hints(read_only=False, destructive=True, idempotent=True)
    reads = tool_hints(read_only=True, idempotent=True)
    return (
        ToolSpec(create_entities, writes),
        ToolSpec(create_relations, writes),
        ToolSpec(add_observations, writes),
        ToolSpec(delete_entities, deletes),
        ToolSpec(delete_observations, deletes),
        ToolSpec(delete_relations, deletes),
        ToolSpec(read_graph, reads),
        ToolSpec(search_nodes, reads),
        ToolSpec(open_nodes, reads),
    )


@tool_errors
async def create_entities(
    services: ServicesDep,
    entities: Annotated[list[EntityInput], Field(max_length=MAX_BATCH)],
    namespace: GraphNamespace = "default",
) -> CreatedEntities:
    """Create multiple new entities in the knowledge graph; names that already exist (ignoring case and
    spacing) are skipped, so add facts to those with add_observations."""
    return await services.graph.create_entities(namespace, [e.draft() for e in entities])


@tool_errors
async def create_relations(
    services: ServicesDep,
    relations: Annotated[list[RelationInput], Field(max_length=MAX_BATCH)],
    namespace: GraphNamespace = "default",
) -> CreatedRelations:
    """Create multiple new relations between existing entities in the knowledge graph, in active voice
    (e.g. works_at); relations that already hold are skipped."""
    return await services.graph.create_relations(namespace, [r.draft() for r in relations])


@tool_errors
async def add_observations(
    services: ServicesDep,
    observations: Annotated[list[ObservationAddition], Field(max_length=MAX_BATCH)],
    namespace: GraphNamespace = "default",
) -> ObservationsAdded:
    """Add new observations to existing entities in the knowledge graph; ones already held are skipped,
    and if any entity is missing nothing is saved."""
    return await services.graph.add_observations(namespace, [o.draft() for o in observations])


@tool_errors
async def delete_entities(
    services: ServicesDep,
    entityNames: Annotated[Names, Field(description="An array of entity names to delete")],
    namespace: GraphNamespace = "default",
) -> Deleted:
    """Delete multiple entities and their associated relations from the knowledge graph."""
    return await services.graph.delete_entities(namespace, entityNames)


@tool_errors
async def delete_observations(
    services: ServicesDep,
    deletions: Annotated[list[ObservationDeletion], Field(max_length=MAX_BATCH)],
    namespace: GraphNamespace = "default",
) -> Deleted:
    """Delete specific observations from entities in the knowledge graph."""
    return await services.graph.delete_observations(
        namespace, [(d.entityName, d.observations) for d in deletions]
    )


@tool_errors
async def delete_relations(
    services: ServicesDep,
    relations: Annotated[
        list[RelationKeyInput], Field(max_length=MAX_BATCH, description="An array of relations to delete")
    ],
    namespace: GraphNamespace = "default",
) -> Deleted:
    """Delete multiple relations from the knowledge graph."""
    return await services.graph.delete_relations(namespace, [r.key() for r in relations])


@tool_errors
async def read_graph(
    services: ServicesDep,
    namespace: GraphNamespace = "default",
    limit: PageSize = 100,
    cursor: Cursor | None = None,
    as_of: AsOf = None,
) -> KnowledgeGraph:
    """Read the knowledge graph a page at a time: all entities, then all relations; pass next_cursor
    to continue."""
    return await services.graph.read_graph(namespace, cursor, limit, to_seconds_or_none(as_of))


@tool_errors
async def search_nodes(
    services: ServicesDep,
    query: Annotated[
        str,
        Field(
            max_length=MAX_SEARCH_CHARS,
            pattern=WITHOUT_NUL,
            description="The search query to match against entity names, types, and observation content",
        ),
    ],
    namespace: GraphNamespace = "default",
    limit: PageSize = SEARCH_PAGE,
    cursor: Cursor | None = None,
    as_of: AsOf = None,
) -> KnowledgeGraph:
    """Search for nodes in the knowledge graph whose name, alias, type or an observation contains the
    query (any letter case), with the relations touching them."""
    return await services.graph.search_nodes(namespace, query, cursor, limit, to_seconds_or_none(as_of))


@tool_errors
async def open_nodes(
    services: ServicesDep,
    names: Annotated[Names, Field(description="An array of entity names to retrieve")],
    namespace: GraphNamespace = "default",
    as_of: AsOf = None,
) -> KnowledgeGraph:
    """Open specific nodes in the knowledge graph by their names, with the relations touching them."""
    return await services.graph.open_nodes(namespace, names, to_seconds_or_none(as_of))
