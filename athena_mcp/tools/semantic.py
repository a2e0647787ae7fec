"""The semantic toolset: remember, recall, get, update, forget, restore, list_memories."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from athena_mcp.errors import InvalidInput
from athena_mcp.memory.semantic import (
    FactDraft,
    MemoryDetail,
    MemoryPage,
    RememberResult,
    StatusResult,
    UpdateResult,
)
from athena_mcp.models import SearchResult, to_seconds_or_none
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.store.filters import SYSTEMS, MemoryFilter
from athena_mcp.tools.common import ServicesDep, namespaces_of, time_range, tool_errors, tool_hints
from athena_mcp.tools.fields import (
    Content,
    Cursor,
    Importance,
    Kind,
    Kinds,
    Limit,
    MaxTokens,
    MemoryId,
    Namespace,
    Namespaces,
    Query,
    Reason,
    Source,
    Tags,
    Timestamp,
)

MemoryTypes = Annotated[
    list[Literal["semantic", "episodic"]],
    Field(min_length=1, max_length=2, description="semantic: facts and notes; episodic: events"),
]


def register(server: MCPServer) -> None:
    server.add_tool(remember, annotations=tool_hints(read_only=False, idempotent=True))
    server.add_tool(recall, annotations=tool_hints(read_only=True, idempotent=True))
    server.add_tool(get, annotations=tool_hints(read_only=True, idempotent=True))
    server.add_tool(update, annotations=tool_hints(read_only=False, idempotent=True))
    server.add_tool(forget, annotations=tool_hints(read_only=False, destructive=True, idempotent=True))
    server.add_tool(restore, annotations=tool_hints(read_only=False, idempotent=True))
    server.add_tool(list_memories, annotations=tool_hints(read_only=True, idempotent=True))


@tool_errors
async def remember(
    services: ServicesDep,
    content: Content,
    kind: Kind = "fact",
    tags: Tags | None = None,
    importance: Importance = 0.5,
    namespace: Namespace = "default",
    source: Source | None = None,
    timestamp: Timestamp | None = None,
) -> RememberResult:
    """Store a fact, preference or note for later recall. An identical fact returns the existing id;
    a very similar one is stored but listed in `similar` so you can `update` it instead."""
    return await services.semantic.remember(
        FactDraft(
            content=content,
            kind=kind,
            namespace=namespace,
            tags=tuple(tags or ()),
            importance=importance,
            source=source,
            occurred_at=to_seconds_or_none(timestamp),
        )
    )


@tool_errors
async def recall(
    services: ServicesDep,
    query: Query,
    namespace: Namespaces = "default",
    limit: Limit = 10,
    kind: Kinds | None = None,
    tags: Tags | None = None,
    memory_types: MemoryTypes | None = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    max_tokens: MaxTokens | None = None,
    explain: bool = False,
    expand_graph: Annotated[
        bool | None,
        Field(
            description="Also bring in memories that mention the entities the best results mention "
            "(null: the server's setting)"
        ),
    ] = None,
) -> SearchResult:
    """Search memories (facts and events) by meaning and keywords, best first. Filters (kind, tags that
    must all be present, time range since/until) apply inside the search; explain=true shows each signal
    and, for a result found through the graph, which result and entity brought it in."""
    start, end = time_range(since, until)
    return await services.search.search(
        SearchRequest(
            query=query,
            memory_filter=MemoryFilter(
                namespaces=namespaces_of(namespace),
                systems=tuple(memory_types or SYSTEMS),
                kinds=tuple(kind or ()),
                tags=tuple(tags or ()),
                since=start,
                until=end,
            ),
            limit=limit,
            explain=explain,
            max_tokens=max_tokens,
            expand_graph=services.settings.graph_expansion if expand_graph is None else expand_graph,
        )
    )


@tool_errors
async def get(services: ServicesDep, id: MemoryId, include_history: bool = False) -> MemoryDetail:
    """Fetch one memory by id, including forgotten ones; include_history=true adds its earlier versions."""
    return await services.semantic.get(id, include_history)


@tool_errors
async def update(
    services: ServicesDep,
    id: MemoryId,
    content: Content | None = None,
    kind: Kind | None = None,
    tags: Tags | None = None,
    importance: Importance | None = None,
    source: Source | None = None,
    reason: Reason | None = None,
) -> UpdateResult:
    """Revise a fact: the given fields replace the current ones and the previous version is kept in its
    history (see get with include_history). Fields left out stay as they are."""
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "content": content,
            "kind": kind,
            "importance": importance,
            "source": source,
        }.items()
        if value is not None
    }
    if tags is not None:
        changes["tags"] = tuple(tags)
    if not changes:
        raise InvalidInput("update needs at least one of content, kind, tags, importance or source.")
    return await services.semantic.update(id, changes, reason)


@tool_errors
async def forget(services: ServicesDep, id: MemoryId, reason: Reason | None = None) -> StatusResult:
    """Forget a memory: it never appears in recall again but is kept, so `restore` can undo this."""
    return await services.semantic.forget(id, reason)


@tool_errors
async def restore(services: ServicesDep, id: MemoryId) -> StatusResult:
    """Undo `forget`: the memory appears in recall again."""
    return await services.semantic.restore(id)


@tool_errors
async def list_memories(
    services: ServicesDep,
    namespace: Namespace = "default",
    kind: Kinds | None = None,
    tags: Tags | None = None,
    status: Literal["active", "forgotten", "all"] = "active",
    limit: Limit = 20,
    cursor: Cursor | None = None,
) -> MemoryPage:
    """List stored facts and notes, newest first, a page at a time (pass next_cursor to continue)."""
    statuses = ("active", "forgotten") if status == "all" else (status,)
    memory_filter = MemoryFilter(
        namespaces=(namespace,),
        systems=("semantic",),
        kinds=tuple(kind or ()),
        tags=tuple(tags or ()),
        statuses=statuses,
    )
    return await services.semantic.list_page(memory_filter, cursor, limit)
