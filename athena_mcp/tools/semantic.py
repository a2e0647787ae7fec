"""The semantic toolset: remember, recall, get, update, forget, restore, list_memories."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from athena_mcp.errors import InvalidInput
from athena_mcp.fields import (
    Content,
    Context,
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
    SessionId,
    Source,
    Tags,
    Timestamp,
)
from athena_mcp.memory import recall_extras as extras
from athena_mcp.memory.graph_models import KnowledgeGraph
from athena_mcp.memory.semantic import (
    FactChanges,
    FactDraft,
    MemoryDetail,
    MemoryPage,
    RememberResult,
    StatusResult,
    UpdateResult,
)
from athena_mcp.models import Outcome, SearchResult, to_seconds_or_none
from athena_mcp.retrieval.procedure_search import ProcedureHit
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.store.filters import SYSTEMS, MemoryFilter
from athena_mcp.tools.common import ServicesDep, ToolSpec, namespaces_of, time_range, tool_errors, tool_hints
from athena_mcp.tools.episodic import EventInput

SearchedSystem = Literal["semantic", "episodic", "procedural", "graph"]
MemoryTypes = Annotated[
    list[SearchedSystem],
    Field(
        min_length=1,
        max_length=4,
        description="semantic (facts), episodic (events), procedural, graph; default the first two",
    ),
]


class RecallResult(SearchResult):
    procedures: list[ProcedureHit] = Field(default_factory=list, description="With memory_types procedural")
    graph: KnowledgeGraph | None = Field(None, description="With memory_types graph")


def tools() -> tuple[ToolSpec, ...]:
    return (
        # Not idempotent: a fact stored twice is one memory, but every event is a new one.
        ToolSpec(remember, tool_hints(read_only=False)),
        ToolSpec(recall, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(get, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(update, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(forget, tool_hints(read_only=False, destructive=True, idempotent=True)),
        ToolSpec(restore, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(list_memories, tool_hints(read_only=True, idempotent=True)),
    )


@tool_errors
async def remember(
    services: ServicesDep,
    content: Content,
    kind: Annotated[
        Kind,
        Field(description="fact, preference, ...; for events action, decision, error, ..."),
    ] = "fact",
    tags: Tags | None = None,
    importance: Importance = 0.5,
    namespace: Namespace = "default",
    source: Source | None = None,
    timestamp: Timestamp | None = None,
    memory_type: Annotated[
        Literal["semantic", "episodic"], Field(description="episodic: something that happened")
    ] = "semantic",
    session_id: SessionId | None = None,
    outcome: Outcome | None = None,
    context: Context | None = None,
) -> RememberResult:
    """Store a fact, preference or decision, or (memory_type episodic) an event with its session and
    outcome; a near-duplicate is listed in `similar` to `update` instead."""
    if memory_type == "episodic":
        event = EventInput(
            content=content,
            # "fact" is the argument's default, not an event type a caller chose.
            event_type=kind if kind != "fact" else "observation",
            session_id=session_id,
            timestamp=timestamp,
            outcome=outcome,
            context=context,
            tags=tags or [],
            importance=importance,
            source=source,
        )
        recorded = await services.episodic.record([event.draft(namespace)])
        return RememberResult(id=recorded.ids[0], status="stored", vector=recorded.vectors)
    if session_id is not None or outcome is not None or context is not None:
        raise InvalidInput(
            "session_id, outcome and context belong to events: pass memory_type 'episodic', or leave "
            "them out for a fact."
        )
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
        bool | None, Field(description="Add memories sharing entities with the best")
    ] = None,
    session_id: SessionId | None = None,
    detail: Annotated[bool, Field(description="All fields of each hit in the text")] = False,
) -> RecallResult:
    """Search memory by meaning and keywords, best first: facts and events, and on request procedures
    and graph entities. Use before answering from scratch."""
    start, end = time_range(since, until)
    systems = tuple(memory_types or SYSTEMS)
    namespaces = namespaces_of(namespace)
    memory_systems = tuple(system for system in SYSTEMS if system in systems)
    found = SearchResult(results=[], mode="hybrid", notice=None, truncated=False)
    if memory_systems:
        found = await services.search.search(
            SearchRequest(
                query=query,
                memory_filter=MemoryFilter(
                    namespaces=namespaces,
                    systems=memory_systems,
                    kinds=tuple(kind or ()),
                    tags=tuple(tags or ()),
                    session_id=session_id,
                    since=start,
                    until=end,
                ),
                limit=limit,
                explain=explain,
                max_tokens=max_tokens,
                expand_graph=services.settings.graph_expansion if expand_graph is None else expand_graph,
            )
        )
        # A question that found nothing is a knowledge gap (meta-memory's `know` lists them); one asked
        # with filters may have found nothing only because of them.
        if not (kind or tags or since or until or session_id):
            best = max((hit.score for hit in found.results), default=0.0)
            services.meta.note_search(namespaces, query, best)
    result = RecallResult(**dict(found))
    if "procedural" in systems:
        result.procedures = await extras.procedures_for(services.procedural, query, namespaces, explain)
    if "graph" in systems:
        memory_ids = [hit.id for hit in found.results]
        result.graph = await extras.entities_for(services.graph, query, namespaces, memory_ids)
    if not result.results and not result.procedures and not (result.graph and result.graph.entities):
        empty = await extras.empty_namespace_notice(services.database, namespaces)
        if empty is not None:
            result.notice = empty if result.notice is None else f"{result.notice}. {empty}"
    return result


@tool_errors
async def get(
    services: ServicesDep, id: MemoryId, include_history: bool = False, namespace: Namespace = "default"
) -> MemoryDetail:
    """Fetch one memory by id, including forgotten ones; include_history=true adds its earlier versions."""
    return await services.semantic.get(namespace, id, include_history)


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
    namespace: Namespace = "default",
) -> UpdateResult:
    """Revise a fact: the given fields replace the current ones and the previous version is kept in its
    history (see get with include_history). Fields left out stay as they are."""
    changes = FactChanges(
        content=content,
        kind=kind,
        tags=None if tags is None else tuple(tags),
        importance=importance,
        source=source,
    )
    if not changes:
        raise InvalidInput("update needs at least one of content, kind, tags, importance or source.")
    return await services.semantic.update(namespace, id, changes, reason)


@tool_errors
async def forget(
    services: ServicesDep, id: MemoryId, reason: Reason | None = None, namespace: Namespace = "default"
) -> StatusResult:
    """Forget a memory: it never appears in recall again but is kept, so `restore` can undo this."""
    return await services.semantic.forget(namespace, id, reason)


@tool_errors
async def restore(services: ServicesDep, id: MemoryId, namespace: Namespace = "default") -> StatusResult:
    """Undo `forget`: the memory appears in recall again."""
    return await services.semantic.restore(namespace, id)


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
