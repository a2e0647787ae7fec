"""The MCP server factory: a fresh server per call, with the toolsets the settings ask for."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus

from athena_mcp import __version__
from athena_mcp.embeddings.base import Embedder
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.tools import (
    communities,
    consolidation,
    episodic,
    graph,
    graph_identity,
    graph_traversal,
    procedural,
    prospective,
    semantic,
)
from athena_mcp.tools.arguments import refuse_unknown_arguments

Register = Callable[[MCPServer], None]
TOOLSETS: dict[str, tuple[Register, ...]] = {
    "semantic": (semantic.register,),
    "episodic": (episodic.register,),
    "consolidation": (consolidation.register,),
    "procedural": (procedural.register,),
    "prospective": (prospective.register,),
    "graph": (graph.register, graph_identity.register, graph_traversal.register, communities.register),
}

INSTRUCTIONS = """\
Athena is your long-term memory, kept across sessions in a local database.
- Before answering from scratch, `recall` what you already know about the topic.
- Store durable facts, preferences and decisions with `remember`; if it reports a similar memory,
  prefer `update` on that one. Use `forget` for what is wrong or no longer wanted.
- Log what happens while you work (actions, decisions, errors, outcomes) with `record_event` or
  `record_events`, using one session_id per task; review it with `timeline` or `recall_events`.
- Consolidation runs in the background: recurring facts, learned procedures and session digests
  appear on their own. Call `consolidate` after finishing a task to take it in now, and
  `rate_memory` when a recalled memory helped or misled you.
- Before a multi-step task, `find_procedures` for one that worked before; after following one,
  report how it went with `record_execution`. Save a workflow worth repeating with `save_procedure`.
- Keep what you mean to do as tasks (`create_task`, under a `create_goal`) and ask for reminders
  with `create_trigger` (a time, a delay, a cron schedule or a matching event). Check `due` when a
  session starts and act on what it lists; `dismiss` fired items once handled.
- Keep people, projects and things as a knowledge graph: `create_entities`, `create_relations`,
  `add_observations` (cite the memories they came from in `source_memory_ids`); look them up with
  `search_nodes` or `open_nodes`, and `get_entity` for a fact's history. When a fact replaces an
  old one (a new address, a new employer), create the relation with `exclusive: true`. Fold
  duplicates together with `merge_entities`.
- Use a namespace per project or user to keep memories apart."""


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
    async def lifespan(_: MCPServer) -> AsyncIterator[Services]:
        async with open_services(
            settings, embedder, background=background, on_fired=prospective.due_notifier(bus)
        ) as services:
            if around is None:
                yield services
            else:
                async with around(services):
                    yield services

    server = MCPServer(
        "athena-mcp",
        title="Athena memory",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        log_level=settings.log_level,  # type: ignore[arg-type]
        subscriptions=bus,
    )
    for name in settings.toolsets:
        for register in TOOLSETS[name]:
            register(server)
    refuse_unknown_arguments(server)
    return server
