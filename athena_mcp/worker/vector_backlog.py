"""Computes the vectors that writes could not compute at once (model loading, embedder down, reembed)."""

from __future__ import annotations

import asyncio
import json
import logging

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.store import vectors
from athena_mcp.store.database import Database
from athena_mcp.store.memories import content_hash

log = logging.getLogger(__name__)


# Memories taken per pass. The model sorts one call's texts by length before batching them, so a
# larger pass pads less: 116 texts/s at 256 per call against 73 at 64 (perf/bench_core.py, LoCoMo turns).
PASS_SIZE = 256


class VectorBacklogWorker:
    def __init__(self, database: Database, embeddings: EmbeddingService, batch_size: int = PASS_SIZE) -> None:
        self._database = database
        self._embeddings = embeddings
        self._batch_size = batch_size

    async def run_once(self) -> int:
        """Embed one batch of the backlog; returns how many vectors were stored (0: nothing to do)."""
        if not self._embeddings.ready:
            return 0
        pending = await vectors.backlog(self._database, self._batch_size)
        if not pending:
            return 0
        embedded = await self._embeddings.embed_documents([content for _, content, _, _, _ in pending])
        if embedded is None:
            return 0
        async with self._database.transaction() as tx:
            # A memory edited or forgotten while we embedded must not get a stale vector or state.
            current = {
                row[0]: (row[1], row[2] == "active")
                for row in await tx.fetchall(
                    "SELECT id, content_hash, status FROM memories "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([memory_id for memory_id, *_ in pending]),),
                )
            }
            rows = [
                vectors.VectorRow(memory_id, vector, namespace, system, current[memory_id][1])
                for (memory_id, content, namespace, system, _), vector in zip(pending, embedded, strict=True)
                if memory_id in current and current[memory_id][0] == content_hash(content)
            ]
            await vectors.write_vectors(tx, rows)
        return len(rows)

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                if self._embeddings.state == "failed":
                    self._embeddings.start_loading()
                while await self.run_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failed pass (disk full, database busy) is retried on the next tick.
                log.exception("vector backlog pass failed")
            await asyncio.sleep(interval)
