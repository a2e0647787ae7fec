"""Computes the vectors of procedures stored without them: saved while the embedding model was not
ready, learned without a whole-procedure vector, or cleared by `reembed`.

Their queue is the procedures rows themselves (the partial index procedures_missing_vectors), so
there is nothing to enqueue and nothing to lose. A procedure whose texts the embedder rejects is
retried after a back-off kept in this process: it never holds up the others.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from athena_mcp.embeddings.service import EmbedderDown, EmbeddingService
from athena_mcp.store import procedures
from athena_mcp.store.database import Database
from athena_mcp.store.procedures import MissingVectors
from athena_mcp.worker.embedding_pass import PassSize, ready_for_a_pass

log = logging.getLogger(__name__)

# Procedures taken per pass; each brings its whole text and its steps, about ten texts.
PASS_SIZE = 32
FIRST_RETRY = 30.0
LAST_RETRY = 3600.0

Embedded = list[tuple[MissingVectors, np.ndarray]]


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
        try:
            embedded = await self._embed(pending)
        except TimeoutError:
            log.warning("embedding %d procedures timed out", len(pending))
            if len(pending) > 1:
                self._pass.timed_out(len(pending))  # see worker/embedding_pass
                return 0
            embedded = []
        except EmbedderDown:
            return 0
        if embedded:
            self._pass.worked()
        for procedure_id in {p.procedure_id for p in pending} - {p.procedure_id for p, _ in embedded}:
            self._defer(procedure_id)
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

    async def _embed(self, pending: list[MissingVectors], whole_pass: bool = True) -> Embedded:
        """All the pass's texts in one call; if the embedder refuses it, each procedure alone, leaving
        out those it refuses."""
        try:
            vectors = await self._embeddings.embed([text for p in pending for text in p.texts])
        except TimeoutError:
            raise
        except Exception as exc:
            if whole_pass:
                await self._embeddings.check_up(exc)
            if len(pending) == 1:
                log.warning(
                    "embedding procedure %d failed (%s); retrying it later", pending[0].procedure_id, exc
                )
                return []
            return [pair for p in pending for pair in await self._embed([p], whole_pass=False)]
        ends = np.cumsum([len(p.texts) for p in pending])
        return [(p, vectors[end - len(p.texts) : end]) for p, end in zip(pending, ends, strict=True)]

    def _defer(self, procedure_id: int) -> None:
        _, last = self._retry.get(procedure_id, (0.0, FIRST_RETRY / 2))
        delay = min(last * 2, LAST_RETRY)
        self._retry[procedure_id] = (time.monotonic() + delay, delay)
