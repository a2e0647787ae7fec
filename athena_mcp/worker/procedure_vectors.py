"""Computes the vectors of procedures stored without them: saved while the embedding model was not
ready, learned without a whole-procedure vector, or cleared by `reembed`.

Their queue is the procedures rows themselves (the partial index procedures_missing_vectors), so
there is nothing to enqueue and nothing to lose. A procedure whose texts the embedder rejects is
found as memories' are (worker/embedding_pass) and retried after a back-off kept in this process:
it never holds up the others.
"""

from __future__ import annotations

import time

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.store import procedures
from athena_mcp.store.database import Database
from athena_mcp.worker.embedding_pass import PassSize, embed_pass, ready_for_a_pass

# Procedures taken per pass; each brings its whole text and its steps, about ten texts.
PASS_SIZE = 32
FIRST_RETRY = 30.0
LAST_RETRY = 3600.0


class ProcedureVectorWorker:
    def __init__(self, database: Database, embeddings: EmbeddingService, pass_size: int = PASS_SIZE) -> None:
        self._database = database
        self._embeddings = embeddings
        self._pass = PassSize(pass_size)
        self._retry: dict[int, tuple[float, float]] = {}  # procedure id -> (retry at, last delay)

    async def run_once(self) -> int:
        """Fill in the missing vectors of one pass of procedures; returns how many procedures got them
        (0: nothing to do now)."""
        if not await ready_for_a_pass(self._embeddings):
            return 0
        now = time.monotonic()
        waiting = [procedure_id for procedure_id, (at, _) in self._retry.items() if at > now]
        pending = await procedures.missing_vectors(self._database, self._pass.now, waiting)
        if not pending:
            return 0
        done = await embed_pass(self._embeddings, self._pass, pending, lambda p: list(p.texts))
        if done is None:
            return 0
        embedded, rejected = done
        for missing in rejected:
            self._defer(missing.procedure_id)
        async with self._database.transaction() as tx:
            for missing, vectors in embedded:
                await procedures.store_vectors(
                    tx,
                    missing.procedure_id,
                    vectors[0] if missing.whole else None,
                    vectors[len(vectors) - missing.steps :] if missing.steps else None,
                )
        for missing, _ in embedded:
            self._retry.pop(missing.procedure_id, None)
        return len(embedded)

    def _defer(self, procedure_id: int) -> None:
        _, last = self._retry.get(procedure_id, (0.0, FIRST_RETRY / 2))
        delay = min(last * 2, LAST_RETRY)
        self._retry[procedure_id] = (time.monotonic() + delay, delay)
