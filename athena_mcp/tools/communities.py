"""Graph communities (part of the graph toolset): detect_communities, list_communities, get_community."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from athena_mcp.fields import Cursor, Namespace, Timestamp
from athena_mcp.memory.communities import CommunityDetail, CommunityList, Detection
from athena_mcp.memory.cursors import MAX_ID
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints

MAX_PAGE = 100
MAX_MEMBERS = 500

GraphNamespace = Annotated[
    Namespace, Field(description="Graph space, e.g. a project or user; default 'default'")
]


def tools() -> tuple[ToolSpec, ...]:
    reads = tool_hints(read_only=True, idempotent=True)
    return (
        # Detection writes derived data only, and a repeat on an unchanged graph returns the same run.
        ToolSpec(detect_communities, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(list_communities, reads),
        ToolSpec(get_community, reads),
    )


@tool_errors
async def detect_communities(services: ServicesDep, namespace: GraphNamespace = "default") -> Detection:
    """Group the knowledge graph's entities into communities (Leiden) from the current relations, now
    rather than at the next background pass; an unchanged graph returns the stored result."""
    return await services.communities.detect(namespace)


@tool_errors
async def list_communities(
    services: ServicesDep,
    namespace: GraphNamespace = "default",
    limit: Annotated[
        int, Field(ge=1, le=MAX_PAGE, description=f"Most communities per page (1-{MAX_PAGE})")
    ] = 20,
    cursor: Cursor | None = None,
    as_of: Annotated[
        Timestamp | None, Field(description="List the communities computed at or before this time instead")
    ] = None,
) -> CommunityList:
    """List the knowledge graph's communities, largest first, each with a label and a summary; pass
    next_cursor to continue."""
    return await services.communities.list_communities(namespace, limit, cursor, as_of)


@tool_errors
async def get_community(
    services: ServicesDep,
    community_id: Annotated[int, Field(ge=1, le=MAX_ID, description="An id from list_communities")],
    namespace: GraphNamespace = "default",
    member_limit: Annotated[
        int, Field(ge=1, le=MAX_MEMBERS, description=f"Most members to return (1-{MAX_MEMBERS})")
    ] = 50,
) -> CommunityDetail:
    """Open one community: its most central members with their types, and the relations between them."""
    return await services.communities.get_community(namespace, community_id, member_limit)
