"""The default toolset's own tools: add_to_graph (the graph in one write) and memory_status (what the
memory holds, and further toolsets turned on for the session)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from mcp.server.mcpserver import Context, Resolve
from pydantic import BaseModel, Field

from athena_mcp.errors import InvalidInput
from athena_mcp.fields import Namespace
from athena_mcp.memory.graph_models import MAX_BATCH, GraphAdded
from athena_mcp.memory.recall_extras import namespace_counts
from athena_mcp.settings import TOOLSETS
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints
from athena_mcp.tools.gate import SESSIONLESS, SessionToolsets, ToolsetServer, session_of
from athena_mcp.tools.graph import EntityInput, RelationInput

# The same names as settings.TOOLSETS (a test keeps them so): a Literal, for the schema a model reads.
ToolsetName = Literal[
    "core", "semantic", "episodic", "consolidation", "procedural", "prospective", "meta", "graph"
]


def tools() -> tuple[ToolSpec, ...]:
    return (
        # Creating twice adds nothing new, so a repeat changes nothing.
        ToolSpec(add_to_graph, tool_hints(read_only=False, idempotent=True)),
        # Turning a toolset on changes what this session sees, not what the memory holds.
        ToolSpec(memory_status, tool_hints(read_only=True, idempotent=True)),
    )


@tool_errors
async def add_to_graph(
    services: ServicesDep,
    entities: Annotated[
        list[EntityInput],
        Field(max_length=MAX_BATCH, description="Known names get the observations"),
    ]
    | None = None,
    relations: Annotated[list[RelationInput], Field(max_length=MAX_BATCH)] | None = None,
    namespace: Namespace = "default",
) -> GraphAdded:
    """Record people, projects and things (with observations) and how they relate, in the knowledge
    graph."""
    if not entities and not relations:
        raise InvalidInput("add_to_graph needs entities, relations or both.")
    return await services.graph.add(
        namespace, [e.draft() for e in entities or ()], [r.draft() for r in relations or ()]
    )


class ToolsetState(BaseModel):
    name: str
    on: bool
    about: str


class NamespaceState(BaseModel):
    namespace: str
    counts: dict[str, int] = Field(description="facts, events, procedures, open_tasks, entities")


class MemoryStatus(BaseModel):
    namespaces: list[NamespaceState] = Field(description="Namespaces holding anything, with live counts")
    toolsets: list[ToolsetState]
    enabled: list[str] = Field(description="Toolsets this call turned on")


def _session_toolsets(ctx: Context) -> SessionToolsets:
    return cast(ToolsetServer, ctx.mcp_server).session_toolsets


@tool_errors
async def memory_status(
    services: ServicesDep,
    session_toolsets: Annotated[SessionToolsets, Resolve(_session_toolsets)],
    ctx: Context,
    enable: Annotated[list[ToolsetName], Field(max_length=len(TOOLSETS))] | None = None,
) -> MemoryStatus:
    """Namespaces with their counts, and the toolsets; `enable` turns more tools on for this session."""
    session = session_of(ctx.request_context.request)
    if enable and session == SESSIONLESS:
        raise InvalidInput(
            "enable: this connection has no MCP session (no Mcp-Session-Id header), so a toolset cannot be "
            "turned on for it alone; start the server with --toolsets naming the toolsets, or all."
        )
    enabled = session_toolsets.enable(session, enable or ())
    if enabled:
        await ctx.session.send_tool_list_changed()
        await ctx.notify_tools_changed()
    on = session_toolsets.toolsets_of(session)
    return MemoryStatus(
        namespaces=[
            NamespaceState(namespace=n.namespace, counts=n.counts)
            for n in await namespace_counts(services.database)
        ],
        toolsets=[
            ToolsetState(name=name, on=name in on, about=about)
            for name, about in session_toolsets.summaries.items()
        ],
        enabled=enabled,
    )
