"""Graph traversal tools (toolset graph): find_neighbours, find_path and explore_graph, each able to
read the graph as it was at a past time (as_of)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from athena_mcp.memory.graph_models import WITHOUT_NUL, EntityName, RelationType
from athena_mcp.memory.graph_paths import GraphPath
from athena_mcp.memory.graph_traversal import Neighbourhood, Subgraph
from athena_mcp.models import to_seconds_or_none
from athena_mcp.store.graph_traversal import Direction
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints
from athena_mcp.tools.graph import MAX_SEARCH_CHARS, AsOf, GraphNamespace

MAX_DEPTH = 4
MAX_PATH_DEPTH = 6
MAX_EXPLORE_DEPTH = 3
MAX_NEIGHBOURS = 500
MAX_EXPLORED = 200
MAX_RELATION_TYPES = 32

RelationTypes = Annotated[
    list[RelationType],
    Field(
        max_length=MAX_RELATION_TYPES,
        description="Walk only relations of these types; omit to walk every type",
    ),
]
WalkDirection = Annotated[
    Direction,
    Field(description="out: along relations (from -> to); in: against them; both: either way"),
]


def tools() -> tuple[ToolSpec, ...]:
    reads = tool_hints(read_only=True, idempotent=True)
    return (
        ToolSpec(find_neighbours, reads),
        ToolSpec(find_path, reads),
        ToolSpec(explore_graph, reads),
    )


@tool_errors
async def find_neighbours(
    services: ServicesDep,
    name: Annotated[EntityName, Field(description="The entity to start from (a name or an alias)")],
    depth: Annotated[
        int, Field(ge=1, le=MAX_DEPTH, description=f"How many relations away to go (1-{MAX_DEPTH})")
    ] = 1,
    relation_types: RelationTypes | None = None,
    direction: WalkDirection = "both",
    as_of: AsOf = None,
    limit: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_NEIGHBOURS,
            description=f"Most entities to return besides the start (1-{MAX_NEIGHBOURS})",
        ),
    ] = 50,
    namespace: GraphNamespace = "default",
) -> Neighbourhood:
    """List the entities within `depth` relations of an entity, nearest first, with the relations walked;
    filter by relation type and direction. Use open_nodes for their observations."""
    return await services.graph_traversal.find_neighbours(
        namespace, name, depth, relation_types or (), direction, to_seconds_or_none(as_of), limit
    )


@tool_errors
async def find_path(
    services: ServicesDep,
    source: Annotated[EntityName, Field(description="The entity the path starts from")],
    target: Annotated[EntityName, Field(description="The entity the path ends at")],
    max_depth: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_PATH_DEPTH,
            description=f"Longest path to look for, in relations (1-{MAX_PATH_DEPTH})",
        ),
    ] = 4,
    relation_types: RelationTypes | None = None,
    direction: WalkDirection = "both",
    as_of: AsOf = None,
    namespace: GraphNamespace = "default",
) -> GraphPath:
    """Find a shortest chain of relations connecting two entities, step by step; found=false (not an
    error) when none is within max_depth."""
    return await services.graph_paths.find_path(
        namespace, source, target, max_depth, relation_types or (), direction, to_seconds_or_none(as_of)
    )


@tool_errors
async def explore_graph(
    services: ServicesDep,
    query: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_SEARCH_CHARS,
            pattern=WITHOUT_NUL,
            description="Text to find in entity names, types and observations, as in search_nodes",
        ),
    ],
    depth: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_EXPLORE_DEPTH,
            description=f"Relations to expand from the hits (0-{MAX_EXPLORE_DEPTH}); 0 for the hits only",
        ),
    ] = 1,
    as_of: AsOf = None,
    limit: Annotated[
        int,
        Field(ge=1, le=MAX_EXPLORED, description=f"Most entities to return, hits first (1-{MAX_EXPLORED})"),
    ] = 50,
    namespace: GraphNamespace = "default",
) -> Subgraph:
    """The subgraph around a topic: entities matching the query plus those within `depth` relations of
    them, with observations and the relations among them."""
    return await services.graph_traversal.explore_graph(
        namespace, query, depth, to_seconds_or_none(as_of), limit
    )
