"""The MCP server factory: a fresh server per call, with the toolsets the settings ask for."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import cast

from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus

from athena_mcp import __version__
from athena_mcp.embeddings.base import Embedder
from athena_mcp.hooks.listener import hook_channel
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.tools import briefing, prospective
from athena_mcp.tools.content_policy import ContentPolicy
from athena_mcp.tools.gate import SessionToolsets, ToolsetServer
from athena_mcp.tools.surface import TOOLSETS, build_tools, instructions


def build_server(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    background: bool = True,
    around: Callable[[Services], AbstractAsyncContextManager[object]] | None = None,
) -> MCPServer:
    """A server whose lifespan opens the store; `embedder` replaces the configured one (tests, tools).

    `around`, when given, is entered with the open services for the server's whole life: the chaos
    harness installs its faults on the storage seam there.
    """

    # Clients listening to a namespace's due resource hear when a trigger fires there.
    bus = InMemorySubscriptionBus()

    @contextlib.asynccontextmanager
    async def lifespan(running: MCPServer) -> AsyncIterator[Services]:
        async with (
            open_services(
                settings, embedder, background=background, on_fired=prospective.due_notifier(bus)
            ) as services,
            contextlib.AsyncExitStack() as stack,
        ):
            if settings.hook_channel:
                await stack.enter_async_context(hook_channel(services))
            if around is not None:
                await stack.enter_async_context(around(services))
            cast(ToolsetServer, running).services = services
            try:
                yield services
            finally:
                cast(ToolsetServer, running).services = None

    toolsets = SessionToolsets(
        build_tools(settings.toolsets),
        settings.toolsets,
        {name: toolset.summary for name, toolset in TOOLSETS.items()},
    )
    server = ToolsetServer(
        toolsets,
        namespaces=settings.namespaces,
        content_policy=ContentPolicy(settings),
        name="athena-mcp",
        title="Athena memory",
        instructions=instructions(settings.toolsets),
        version=__version__,
        lifespan=lifespan,
        log_level=settings.log_level,
        subscriptions=bus,
    )
    if "core" in toolsets.by_toolset:
        briefing.register(server)
    if "prospective" in toolsets.by_toolset:
        prospective.register_resources(server)
    return server
