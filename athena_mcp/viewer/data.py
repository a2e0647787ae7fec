"""What the viewers show, read once for both: the terminal's tables (views.py) and the browser's
explorer (web.py) take the same records, and scripts get them as JSON (`as_json`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from athena_mcp.errors import AthenaError, NotFound
from athena_mcp.memory.episodic import TimelinePage
from athena_mcp.memory.graph_traversal import Neighbourhood
from athena_mcp.memory.procedural import ProcedureDetail, ProcedurePage
from athena_mcp.memory.prospective import TaskQuery
from athena_mcp.models import Memory, MemoryVersion, SearchResult
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services
from athena_mcp.store import communities, compaction, consolidation, memories, procedures, sessions
from athena_mcp.store.filters import MemoryFilter

LINEAGE_SHOWN = 20
RUNS_SHOWN = 10
NEIGHBOURS_SHOWN = 60


def dump(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True) if hasattr(value, "model_dump") else value


@dataclass(frozen=True)
class MemoryView:
    memory: Memory
    history: list[MemoryVersion]
    lineage: consolidation.Lineage
    usage: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            **dump(self.memory),
            "history": [dump(version) for version in self.history],
            "sources": self.lineage.sources,
            "products": [{"type": kind, "id": product} for kind, product in self.lineage.products],
            "usage": self.usage,
        }


async def memory_view(services: Services, memory_id: int) -> MemoryView:
    memory = (await memories.get_memories(services.database, [memory_id])).get(memory_id)
    if memory is None:
        raise NotFound(f"there is no memory {memory_id} in {services.settings.db}")
    usage = await compaction.usage(services.database, memory_id)
    return MemoryView(
        memory=memory,
        history=await memories.versions(services.database, memory_id),
        lineage=await consolidation.lineage(services.database, memory_id, LINEAGE_SHOWN),
        usage=dict(
            zip(("recalled", "last_recalled", "helpful", "unhelpful"), usage or (0, None, 0, 0), strict=True)
        ),
    )


async def procedure_view(services: Services, procedure_id: int) -> ProcedureDetail:
    found = (await procedures.get_procedures(services.database, [procedure_id])).get(procedure_id)
    if found is None:
        raise NotFound(f"there is no procedure {procedure_id} in {services.settings.db}")
    return await services.procedural.get(found.namespace, procedure_id, RUNS_SHOWN)


@dataclass(frozen=True)
class SessionView:
    namespace: str
    session_id: str
    digest: Memory | None
    events: list[Memory]

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "namespace": self.namespace,
            "digest": None if self.digest is None else dump(self.digest),
            "events": [dump(event) for event in self.events],
        }


async def session_view(services: Services, namespace: str, session_id: str, limit: int) -> SessionView:
    memory_filter = MemoryFilter(namespaces=(namespace,), systems=("episodic",), session_id=session_id)
    events = await sessions.latest_events(services.database, memory_filter, limit)
    if not events:
        raise NotFound(f"no events of session {session_id!r} in namespace {namespace!r}")
    span = sessions.SessionSpan(session_id, namespace, events[0].timestamp.timestamp(), 0.0, len(events))
    digest = (await sessions.session_digests(services.database, [span])).get((namespace, session_id))
    return SessionView(namespace, session_id, digest, events)


@dataclass(frozen=True)
class SessionList:
    sessions: list[tuple[sessions.SessionSpan, Memory | None]]  # each with its digest

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "session_id": span.session_id,
                "namespace": span.namespace,
                "events": span.events,
                "first": span.first,
                "last": span.last,
                "digest": None if digest is None else {"id": digest.id, "content": digest.content},
            }
            for span, digest in self.sessions
        ]


async def session_list(services: Services, namespaces: tuple[str, ...], limit: int) -> SessionList:
    spans = await sessions.recent_sessions(services.database, namespaces, 0.0, None, limit)
    digests = await sessions.session_digests(services.database, spans)
    return SessionList([(span, digests.get((span.namespace, span.session_id))) for span in spans])


async def procedure_list(services: Services, namespace: str, limit: int) -> ProcedurePage:
    query = procedures.ProcedureQuery(namespace=namespace, statuses=("active", "retired"))
    return await services.procedural.list_page(query, "confidence", None, limit)


@dataclass(frozen=True)
class Found:
    result: SearchResult
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {**dump(self.result), "seconds": round(self.seconds, 4)}


async def search(
    services: Services, query: str, namespaces: tuple[str, ...], limit: int, explain: bool
) -> Found:
    if not await services.embeddings.wait_ready():
        raise AthenaError(f"the embedding model did not load: {services.embeddings.failure}")
    started = time.perf_counter()
    result = await services.search.search(
        SearchRequest(
            query=query,
            memory_filter=MemoryFilter(namespaces=namespaces),
            limit=limit,
            explain=explain,
            counts_as_use=False,
        )
    )
    return Found(result, time.perf_counter() - started)


async def timeline(
    services: Services, memory_filter: MemoryFilter, limit: int, from_start: bool
) -> TimelinePage:
    """Events in time order: the latest `limit`, or the first `limit` from `since` on."""
    if from_start:
        events = await memories.timeline_page(services.database, memory_filter, None, limit)
    else:
        events = await sessions.latest_events(services.database, memory_filter, limit)
    return TimelinePage(events=events, next_cursor=None)


async def open_tasks(services: Services, namespace: str, limit: int) -> dict[str, Any]:
    """Open tasks (overdue ones marked), and the reminders and tasks that are due now."""
    now = time.time()
    page = await services.prospective.list_tasks(TaskQuery(namespace=namespace), None, limit, now)
    due = await services.prospective.due(namespace, now, 0.0, limit)
    return {"tasks": dump(page), "due": dump(due), "now": now}


@dataclass(frozen=True)
class EntityView:
    neighbourhood: Neighbourhood
    observations: list[str]
    community_of: dict[str, int]  # entity name → its community in the newest run
    communities: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            **dump(self.neighbourhood),
            "observations": self.observations,
            "community_of": self.community_of,
            "communities": self.communities,
        }


async def entity_view(services: Services, namespace: str, name: str, depth: int) -> EntityView:
    """An entity's neighbourhood for the picture, its observations and the communities around it."""
    around = await services.graph_traversal.find_neighbours(
        namespace, name, depth, (), "both", None, NEIGHBOURS_SHOWN
    )
    opened = await services.graph.open_nodes(namespace, [around.start])
    run = await communities.newest_run(services.database, namespace)
    names = [entity.name for entity in around.entities]
    community_of = (
        {} if run is None else await communities.communities_of(services.database, run.id, namespace, names)
    )
    listed = await services.communities.list_communities(namespace, 50)
    shown = set(community_of.values())
    return EntityView(
        neighbourhood=around,
        observations=opened.entities[0].observations if opened.entities else [],
        community_of=community_of,
        communities=[dump(c) for c in listed.communities if c.id in shown],
    )
