"""Everything a running server holds, opened and closed in one place (the server's lifespan, the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from athena_mcp.briefing.assembly import BriefingService
from athena_mcp.briefing.candidates import CandidateGatherer
from athena_mcp.consolidation.worker import ConsolidationPolicy, ConsolidationWorker
from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.memory.communities import GraphCommunities
from athena_mcp.memory.episodic import EpisodicMemory
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.graph_identity import GraphIdentity
from athena_mcp.memory.graph_paths import GraphPaths
from athena_mcp.memory.graph_traversal import GraphTraversal
from athena_mcp.memory.meta import MetaMemory
from athena_mcp.memory.procedural import ProceduralMemory
from athena_mcp.memory.prospective import ProspectiveMemory, TriggerLimits
from athena_mcp.memory.semantic import SemanticMemory
from athena_mcp.memory.working import WorkingMemory
from athena_mcp.retrieval.search import HybridSearcher
from athena_mcp.retrieval.usage import UsageLog
from athena_mcp.retrieval.vector_mirror import VectorMirror
from athena_mcp.settings import Settings, offers
from athena_mcp.store.database import Database
from athena_mcp.store.migrations import migrate
from athena_mcp.store.vectors import ensure_vector_index
from athena_mcp.worker.backups import CHECK_SECONDS as BACKUP_CHECK_SECONDS
from athena_mcp.worker.backups import ScheduledBackups
from athena_mcp.worker.entity_linker import EntityLinker
from athena_mcp.worker.loop import run_every
from athena_mcp.worker.triggers import FiringListener, TriggerWorker
from athena_mcp.worker.vector_backlog import VectorBacklogWorker

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    embeddings: EmbeddingService
    vectors: VectorMirror  # the vector index in memory, shared by every dense search
    search: HybridSearcher  # shared by every memory system's recall tools
    semantic: SemanticMemory
    episodic: EpisodicMemory
    procedural: ProceduralMemory
    prospective: ProspectiveMemory
    graph: GraphMemory
    graph_identity: GraphIdentity
    graph_traversal: GraphTraversal
    graph_paths: GraphPaths
    communities: GraphCommunities  # derived from the graph, recomputed as it changes
    vector_backlog: VectorBacklogWorker
    linker: EntityLinker  # links memories to the names they mention, for recall's graph expansion
    triggers: TriggerWorker
    usage: UsageLog  # which memories searches return, for decay
    consolidation: ConsolidationWorker
    briefing: BriefingService  # context assembly over every memory system
    working: WorkingMemory  # what each session has in mind
    meta: MetaMemory  # what is known about a topic, how surely, and the questions that found nothing


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    background: bool = True,
    check_vectors: bool = True,
    on_fired: FiringListener | None = None,
) -> AsyncIterator[Services]:
    """Open the store, migrate it, check its vectors and start the background work.

    `background=False` leaves model loading and the background loops to the caller (tests, commands).
    `check_vectors=False` skips the model check, for the command that replaces every vector.
    `on_fired` is told the namespaces where triggers fired, by this process or another one.
    """
    embedder = embedder or make_embedder(settings)
    async with Database.open(
        settings.db, busy_timeout=settings.busy_timeout, synchronous=settings.synchronous
    ) as database:
        await migrate(database)
        if check_vectors:
            await ensure_vector_index(database, embedder.identity)
        embeddings = EmbeddingService(
            embedder, timeout=settings.embedding_timeout, load_wait=settings.embedding_load_wait
        )
        mirror = VectorMirror(database)
        usage = UsageLog()
        traversal = GraphTraversal(database)
        limits = TriggerLimits(
            settings.max_active_triggers, settings.max_pending_firings, settings.max_firings_per_pass
        )
        semantic = SemanticMemory(database, embeddings, mirror, settings.near_duplicate_threshold)
        search = HybridSearcher(database, embeddings, mirror, usage)
        procedural = ProceduralMemory(database, embeddings)
        prospective = ProspectiveMemory(database, limits)
        graph = GraphMemory(database)
        working = WorkingMemory(database, settings.working_memory_size)
        services = Services(
            settings=settings,
            database=database,
            embeddings=embeddings,
            vectors=mirror,
            search=search,
            semantic=semantic,
            episodic=EpisodicMemory(database, embeddings),
            procedural=procedural,
            prospective=prospective,
            graph=graph,
            graph_identity=GraphIdentity(database),
            graph_traversal=traversal,
            graph_paths=GraphPaths(database, traversal),
            communities=GraphCommunities(database),
            vector_backlog=VectorBacklogWorker(
                database, embeddings, semantic, first_load_retry=settings.backlog_interval
            ),
            linker=EntityLinker(database),
            triggers=TriggerWorker(database, on_fired, limits),
            usage=usage,
            consolidation=ConsolidationWorker(
                database,
                embeddings,
                mirror,
                usage,
                ConsolidationPolicy(
                    settle_seconds=settings.consolidation_settle,
                    compaction_age_days=settings.compaction_age_days,
                    retention_days=settings.compaction_retention_days,
                    flashbulb_importance=settings.flashbulb_importance,
                    vector_wait=settings.consolidation_vector_wait,
                ),
            ),
            briefing=BriefingService(
                CandidateGatherer(database, search, procedural, prospective, graph, working)
            ),
            working=working,
            meta=MetaMemory(database, search, mirror, procedural, graph),
        )
        workers: list[asyncio.Task[None]] = []
        if background:
            embeddings.start_loading()
            mirror.start()

            def start(
                interval: float, run_pass: Callable[[], Awaitable[object]], name: str, wait: bool
            ) -> None:
                workers.append(asyncio.create_task(run_every(interval, run_pass, name, wait_first=wait)))

            backlogs = settings.backlog_interval
            start(backlogs, services.vector_backlog.run_until_caught_up, "vector backlog", False)
            start(backlogs, services.linker.run_until_caught_up, "entity linking", False)
            start(backlogs, services.meta.flush_searches, "questions that found nothing", True)
            if settings.consolidation_interval > 0:
                start(settings.consolidation_interval, services.consolidation.run_once, "consolidation", True)
            if offers(settings, "prospective"):
                start(settings.trigger_interval, services.triggers.run_once, "trigger pass", False)
            if settings.backup_dir:
                scheduled = ScheduledBackups(
                    settings.db,
                    settings.backup_dir,
                    settings.backup_interval_hours,
                    settings.backup_keep,
                )
                start(BACKUP_CHECK_SECONDS, scheduled.run_once, "scheduled backup", False)
            if offers(settings, "graph") and settings.community_interval > 0:
                start(settings.community_interval, services.communities.run_once, "community detection", True)
        try:
            yield services
        finally:
            for worker in workers:
                worker.cancel()
            # Whatever ended a worker must not stop the rest of the shutdown.
            await asyncio.gather(*workers, return_exceptions=True)
            with contextlib.suppress(Exception):  # the store may be what failed
                await services.meta.flush_searches()
            await mirror.close()
            embeddings.close()
