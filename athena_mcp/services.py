"""Everything a running server holds, opened and closed in one place (the server's lifespan, the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.memory.episodic import EpisodicMemory
from athena_mcp.memory.semantic import SemanticMemory
from athena_mcp.retrieval.search import HybridSearcher
from athena_mcp.settings import Settings
from athena_mcp.store.database import Database
from athena_mcp.store.migrations import migrate
from athena_mcp.store.vector_mirror import VectorMirror
from athena_mcp.store.vectors import ensure_vector_index
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
    vector_backlog: VectorBacklogWorker


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    background: bool = True,
    check_vectors: bool = True,
) -> AsyncIterator[Services]:
    """Open the store, migrate it, check its vectors and start the background work.

    `background=False` leaves model loading and the backlog loop to the caller (tests, commands).
    `check_vectors=False` skips the model check, for the command that replaces every vector.
    """
    embedder = embedder or make_embedder(settings)
    async with Database.open(
        settings.db, busy_timeout=settings.busy_timeout, synchronous=settings.synchronous
    ) as database:
        await migrate(database)
        if check_vectors:
            await ensure_vector_index(database, embedder.identity)
        embeddings = EmbeddingService(embedder, timeout=settings.embedding_timeout)
        mirror = VectorMirror(database)
        services = Services(
            settings=settings,
            database=database,
            embeddings=embeddings,
            vectors=mirror,
            search=HybridSearcher(database, embeddings, mirror),
            semantic=SemanticMemory(database, embeddings, mirror, settings.near_duplicate_threshold),
            episodic=EpisodicMemory(database, embeddings),
            vector_backlog=VectorBacklogWorker(database, embeddings),
        )
        worker: asyncio.Task[None] | None = None
        if background:
            embeddings.start_loading()
            mirror.start()
            worker = asyncio.create_task(services.vector_backlog.run_forever(settings.backlog_interval))
        try:
            yield services
        finally:
            if worker is not None:
                worker.cancel()
                # Whatever ended the worker must not stop the rest of the shutdown.
                await asyncio.gather(worker, return_exceptions=True)
            await mirror.close()
            embeddings.close()
