"""Graph tools beyond the reference server's for what a name means: aliases, merging two entities
(reversibly) and an entity's full record with history and provenance."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from athena_mcp.memory.graph_models import Aliases, EntityName, EntityRecordView, Merged, Unmerged
from athena_mcp.models import to_seconds_or_none
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints
from athena_mcp.tools.graph import AsOf, GraphNamespace

MAX_ALIASES = 50
MAX_FACTS = 500
AliasList = Annotated[list[EntityName], Field(min_length=1, max_length=MAX_ALIASES)]


def tools() -> tuple[ToolSpec, ...]:
    return (
        ToolSpec(get_entity, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(add_aliases, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(remove_aliases, tool_hints(read_only=False, destructive=True, idempotent=True)),
        # Each merge is a new, separately undoable step; undoing one twice is refused.
        ToolSpec(merge_entities, tool_hints(read_only=False, destructive=True)),
        ToolSpec(unmerge_entities, tool_hints(read_only=False, destructive=True)),
    )


@tool_errors
async def get_entity(
    services: ServicesDep,
    name: Annotated[EntityName, Field(description="The entity's name or one of its aliases")],
    namespace: GraphNamespace = "default",
    as_of: AsOf = None,
    include_history: Annotated[
        bool, Field(description="Also list facts that no longer hold, with when they ended")
    ] = False,
    limit: Annotated[
        int, Field(ge=1, le=MAX_FACTS, description=f"Most observations and relations (1-{MAX_FACTS})")
    ] = 100,
) -> EntityRecordView:
    """One entity in full: aliases, observations and relations with when each held and which memories said
    it, and the merges it took part in."""
    return await services.graph_identity.get_entity(
        namespace, name, to_seconds_or_none(as_of), include_history, limit
    )


@tool_errors
async def add_aliases(
    services: ServicesDep,
    entityName: EntityName,
    aliases: Annotated[
        AliasList, Field(description="Other names of the entity (e.g. 'Bob' for 'Robert Smith')")
    ],
    namespace: GraphNamespace = "default",
) -> Aliases:
    """Give an entity other names: every graph tool then resolves them to it, and search finds it by them."""
    return await services.graph_identity.add_aliases(namespace, entityName, aliases)


@tool_errors
async def remove_aliases(
    services: ServicesDep,
    entityName: EntityName,
    aliases: AliasList,
    namespace: GraphNamespace = "default",
) -> Aliases:
    """Remove aliases set with add_aliases (names brought by a merge go with unmerge_entities)."""
    return await services.graph_identity.remove_aliases(namespace, entityName, aliases)


@tool_errors
async def merge_entities(
    services: ServicesDep,
    entityName: Annotated[EntityName, Field(description="The duplicate entity to fold in")],
    into: Annotated[EntityName, Field(description="The entity that stays")],
    namespace: GraphNamespace = "default",
) -> Merged:
    """Merge a duplicate entity into another: its observations, relations and aliases move over and its
    name becomes an alias. Undo with unmerge_entities and the returned merge_id."""
    return await services.graph_identity.merge_entities(namespace, into, entityName)


@tool_errors
async def unmerge_entities(
    services: ServicesDep,
    merge_id: Annotated[int, Field(ge=1, le=2**63 - 1, description="The merge_id merge_entities returned")],
    namespace: GraphNamespace = "default",
) -> Unmerged:
    """Undo a merge: the folded-in entity stands alone again with the facts it brought, from now on."""
    return await services.graph_identity.unmerge_entities(namespace, merge_id)
