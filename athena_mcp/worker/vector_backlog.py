"""Computes the vectors that writes could not compute at once (model loading, embedder down, reembed)."""

from __future__ import annotations

import json
import time

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.memory.semantic import SemanticMemory
from athena_mcp.store import vectors
from athena_mcp.store.database import Database
from athena_mcp.store.memories import content_hash
from athena_mcp.worker.embedding_pass import PassSize, embed_pass, ready_for_a_pass
from athena_mcp.worker.procedure_vectors import ProcedureVectorWorker

# Memories taken per pass. The model sorts one call's texts by length before batching them, so a
# larger pass pads less: 116 texts/s at 256 per call against 73 at 64 (perf/bench_core.py, LoCoMo turns).
PASS_SIZE = 256
# Longest wait between attempts to load a model that failed to load.
MAX_LOAD_RETRY = 300.0


class VectorBacklogWorker:
    def __init__(
        self,
        database: Database,
        embeddings: EmbeddingService,
        semantic: SemanticMemory,
        batch_size: int = PASS_SIZE,
        first_load_retry: float = 2.0,
    ) -> None:
        self._database = database
        self._embeddings = embeddings
        self._semantic = semantic
        self._pass = PassSize(batch_size)
        # A model that failed to load is retried after this many seconds, doubling.
        self._load_retry = first_load_retry
        self._next_load = 0.0
        # Procedures keep their vectors in their own rows, with a backlog of their own.
        self._procedures = ProcedureVectorWorker(database, embeddings)

    async def run_once(self) -> int:
        """One pass over the memories' backlog, then the procedures'; returns how many memories and
        procedures got vectors (0: nothing to do)."""
        return await self._embed_memories() + await self._procedures.run_once()

    async def _embed_memories(self) -> int:
        """Embed one pass of the memories' due backlog; returns how many vectors were stored.

        A text the embedder rejects is deferred with back-off, so it never holds up the rest; a
        timeout splits the next pass instead, and an embedder that is down puts nothing off
        (worker/embedding_pass).
        """
        if not await ready_for_a_pass(self._embeddings):
            return 0
        pending = await vectors.backlog(self._database, self._pass.now)
        if not pending:
            return 0
        done = await embed_pass(self._embeddings, self._pass, pending, lambda p: [p.content])
        if done is None:
            return 0
        embedded, rejected = done
        async with self._database.transaction() as tx:
            if rejected:
                await vectors.defer(tx, [p.memory_id for p in rejected])
            # A memory edited or forgotten while we embedded must not get a stale vector or state.
            current = {
                row[0]: (row[1], row[2] == "active")
                for row in await tx.fetchall(
                    "SELECT id, content_hash, status FROM memories "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([p.memory_id for p, _ in embedded]),),
                )
            }
            rows = [
                vectors.VectorRow(p.memory_id, found[0], p.namespace, p.system, current[p.memory_id][1])
                for p, found in embedded
                if p.memory_id in current and current[p.memory_id][0] == content_hash(p.content)
            ]
            await vectors.write_vectors(tx, rows, self._embeddings.identity)
        await self._semantic.check_owed_duplicates({row.memory_id: row.vector for row in rows})
        return len(rows)

    async def run_until_caught_up(self) -> None:
        """A tick of the background loop (worker/loop.run_every): passes until nothing is due, after
        asking a model that failed to load to try again, at most every MAX_LOAD_RETRY seconds."""
        if self._embeddings.state == "failed" and time.monotonic() >= self._next_load:
            self._embeddings.start_loading()
            self._next_load = time.monotonic() + self._load_retry
            self._load_retry = min(self._load_retry * 2, MAX_LOAD_RETRY)
        while await self.run_once():
            pass
