"""The episodic toolset: record_event, record_events, recall_events, timeline."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from athena_mcp.fields import (
    MAX_BATCH_EVENTS,
    Content,
    Context,
    Cursor,
    Importance,
    Kind,
    Kinds,
    Limit,
    MaxTokens,
    Namespace,
    Namespaces,
    Query,
    SessionId,
    Source,
    Tags,
    Timestamp,
)
from athena_mcp.memory.episodic import RecordResult, TimelinePage
from athena_mcp.models import Outcome, SearchResult, to_seconds_or_none
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory
from athena_mcp.tools.common import ServicesDep, ToolSpec, namespaces_of, time_range, tool_errors, tool_hints

EventType = Annotated[Kind, Field(description="action, decision, observation, error, message, or your own")]


class EventInput(BaseModel):
    """One event for record_events."""

    model_config = ConfigDict(extra="forbid")

    content: Content
    event_type: EventType = "observation"
    session_id: SessionId | None = None
    timestamp: Timestamp | None = None
    outcome: Outcome | None = None
    context: Context | None = None
    tags: Tags = Field(default_factory=list)
    importance: Importance = 0.5
    source: Source | None = None

    def draft(self, namespace: str) -> NewMemory:
        return NewMemory(
            system="episodic",
            namespace=namespace,
            kind=self.event_type,
            content=self.content,
            tags=tuple(self.tags),
            importance=self.importance,
            source=self.source,
            session_id=self.session_id,
            outcome=self.outcome,
            context=self.context,
            occurred_at=to_seconds_or_none(self.timestamp),
        )


def tools() -> tuple[ToolSpec, ...]:
    return (
        ToolSpec(record_event, tool_hints(read_only=False)),
        ToolSpec(record_events, tool_hints(read_only=False)),
        ToolSpec(recall_events, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(timeline, tool_hints(read_only=True, idempotent=True)),
    )


@tool_errors
async def record_event(
    services: ServicesDep,
    content: Content,
    event_type: EventType = "observation",
    session_id: SessionId | None = None,
    timestamp: Timestamp | None = None,
    outcome: Outcome | None = None,
    context: Context | None = None,
    tags: Tags | None = None,
    importance: Importance = 0.5,
    namespace: Namespace = "default",
    source: Source | None = None,
) -> RecordResult:
    """Record something that happened (an action, decision, observation, error or message) with its
    time, session and outcome. Every call records a new event."""
    event = EventInput(
        content=content,
        event_type=event_type,
        session_id=session_id,
        timestamp=timestamp,
        outcome=outcome,
        context=context,
        tags=tags or [],
        importance=importance,
        source=source,
    )
    return await services.episodic.record([event.draft(namespace)])


@tool_errors
async def record_events(
    services: ServicesDep,
    events: Annotated[list[EventInput], Field(min_length=1, max_length=MAX_BATCH_EVENTS)],
    namespace: Namespace = "default",
) -> RecordResult:
    """Record several events at once (all or none), e.g. the steps of a session; faster than one call each."""
    return await services.episodic.record([event.draft(namespace) for event in events])


@tool_errors
async def recall_events(
    services: ServicesDep,
    query: Query,
    namespace: Namespaces = "default",
    session_id: SessionId | None = None,
    event_type: Kinds | None = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    limit: Limit = 10,
    max_tokens: MaxTokens | None = None,
    explain: bool = False,
) -> SearchResult:
    """Search past events by meaning and keywords, optionally within one session, event types or a
    time range."""
    start, end = time_range(since, until)
    return await services.search.search(
        SearchRequest(
            query=query,
            memory_filter=MemoryFilter(
                namespaces=namespaces_of(namespace),
                systems=("episodic",),
                kinds=tuple(event_type or ()),
                session_id=session_id,
                since=start,
                until=end,
            ),
            limit=limit,
            explain=explain,
            max_tokens=max_tokens,
        )
    )


@tool_errors
async def timeline(
    services: ServicesDep,
    namespace: Namespace = "default",
    session_id: SessionId | None = None,
    since: Timestamp | None = None,
    until: Timestamp | None = None,
    event_type: Kinds | None = None,
    limit: Limit = 50,
    cursor: Cursor | None = None,
) -> TimelinePage:
    """Events in chronological order, for one session or a time window, a page at a time."""
    start, end = time_range(since, until)
    memory_filter = MemoryFilter(
        namespaces=(namespace,),
        systems=("episodic",),
        kinds=tuple(event_type or ()),
        session_id=session_id,
        since=start,
        until=end,
    )
    return await services.episodic.timeline(memory_filter, cursor, limit)
