"""The meta toolset: a session's working memory (`focus`) and what memory knows about a topic
(`know`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from athena_mcp.fields import Namespace, Query, SessionId
from athena_mcp.memory.cursors import MAX_ID
from athena_mcp.memory.meta import Knowledge
from athena_mcp.memory.working import WorkingMemorySet
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints

MemoryIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=50)]


def tools() -> tuple[ToolSpec, ...]:
    return (
        # Pinning and dropping change the session's set; a repeat changes nothing more.
        ToolSpec(focus, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(know, tool_hints(read_only=True, idempotent=True)),
    )


@tool_errors
async def focus(
    services: ServicesDep,
    session_id: SessionId,
    namespace: Namespace = "default",
    pin: Annotated[MemoryIds | None, Field(description="Memory ids to keep in mind")] = None,
    drop: Annotated[MemoryIds | None, Field(description="Memory ids to let go")] = None,
) -> WorkingMemorySet:
    """The session's working memory (the few memories in mind, most active first); pin or drop."""
    if pin or drop:
        return await services.working.pin(namespace, session_id, pin or [], drop or [])
    return await services.working.view(namespace, session_id)


@tool_errors
async def know(services: ServicesDep, topic: Query, namespace: Namespace = "default") -> Knowledge:
    """What memory holds about a topic and how sure it is: counts, time span, freshness, use and
    ratings, contradicting facts, and questions asked here that found nothing."""
    return await services.meta.know(namespace, topic)
