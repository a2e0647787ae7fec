"""What recall adds beside memories: procedures and graph entities on request, and a notice when the
namespaces searched hold nothing while others do (the likeliest slip of a new user)."""

from __future__ import annotations

from athena_mcp.caller import current_caller
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.graph_models import KnowledgeGraph
from athena_mcp.memory.procedural import ProceduralMemory
from athena_mcp.retrieval.procedure_search import ProcedureHit, ProcedureSearch
from athena_mcp.store import namespaces
from athena_mcp.store.database import Database
from athena_mcp.store.namespaces import NamespaceCounts

# Procedures and entities a recall adds beside its memories, at most.
MAX_EXTRAS = 5
# Namespaces a notice names, at most.
MAX_NAMED = 8


async def procedures_for(
    procedural: ProceduralMemory, query: str, searched: tuple[str, ...], explain: bool
) -> list[ProcedureHit]:
    """The best procedures for the query over the namespaces searched."""
    hits: list[ProcedureHit] = []
    for namespace in searched:
        search = ProcedureSearch(query=query, namespace=namespace, limit=MAX_EXTRAS, explain=explain)
        hits += (await procedural.find(search)).results
    return sorted(hits, key=lambda hit: -hit.score)[:MAX_EXTRAS]


async def entities_for(
    graph: GraphMemory, query: str, searched: tuple[str, ...], memory_ids: list[int]
) -> KnowledgeGraph:
    """The entities of each namespace searched that the query names or the found memories mention."""
    found = KnowledgeGraph(entities=[], relations=[])
    for namespace in searched:
        room = MAX_EXTRAS - len(found.entities)
        if room <= 0:
            break
        part = await graph.about(namespace, query, memory_ids, room)
        found.entities += part.entities
        found.relations += part.relations
        found.relations_truncated |= part.relations_truncated
    return found


async def namespace_counts(database: Database) -> list[NamespaceCounts]:
    """Every namespace that holds anything and the caller may read, with its live items per system."""
    caller = current_caller()
    return [n for n in await namespaces.counts(database) if caller.may_read(n.namespace)]


async def empty_namespace_notice(database: Database, searched: tuple[str, ...]) -> str | None:
    """When the namespaces searched hold nothing but others do, which ones do."""
    # Most empty searches ran in a namespace that holds memories (the filters left none): one cheap
    # look says so before every namespace is counted.
    if await namespaces.hold_anything(database, searched):
        return None
    held = {n.namespace: n.counts for n in await namespace_counts(database)}
    if not held:
        return None
    others = ", ".join(f"{name} ({sum(counts.values())})" for name, counts in list(held.items())[:MAX_NAMED])
    return f"Namespace {', '.join(searched)} holds nothing; these hold memories: {others}."
