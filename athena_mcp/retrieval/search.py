"""Hybrid search: run the lexical and dense signals with the same filter, fuse, fetch, trim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.models import (
    ContextExplanation,
    Explanation,
    GraphExplanation,
    RecallHit,
    SearchResult,
    SignalExplanation,
)
from athena_mcp.retrieval.calibration import ceiling, evidence_of
from athena_mcp.retrieval.context import add_neighbour_context
from athena_mcp.retrieval.fusion import FusedCandidate, Signal, fuse
from athena_mcp.retrieval.graph_expansion import add_graph_expansion
from athena_mcp.retrieval.time_window import named_window
from athena_mcp.retrieval.usage import UsageLog
from athena_mcp.retrieval.vector_mirror import VectorMirror
from athena_mcp.store import consolidation, fts
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import get_memories, ids_matching

# How deep each signal looks before fusion, relative to the number of results asked for.
CANDIDATE_FACTOR = 5
MIN_CANDIDATES = 50
SIGNAL_WEIGHTS: dict[Signal, float] = {"lexical": 0.6, "dense": 0.4}
# Rough size of a result in tokens: about four characters of its JSON a token.
CHARS_PER_TOKEN = 4
# How many times its relative part a memory of the time the query names (time_window.py) counts
# for in the ordering. On the LoCoMo dev conversations, where 103 of 997 questions name a day or a
# month, 2 / 3 / 5 took hybrid recall@5 / @10 from 0.721 / 0.806 to 0.734 / 0.817, 0.735 / 0.823
# and 0.738 / 0.824 (PRODUCTION_READINESS, "Ranking").
TIME_LIFT = 3.0


@dataclass(frozen=True)
class SearchRequest:
    query: str
    memory_filter: MemoryFilter
    limit: int = 10
    # Which signals to run; the retrieval evaluation compares each alone with both fused.
    signals: tuple[Signal, ...] = ("lexical", "dense")
    explain: bool = False
    max_tokens: int | None = None
    # Add memories linked to the entities the best results mention (retrieval/graph_expansion.py).
    expand_graph: bool = False
    # A session's working memory (memory/working.py): each held memory's lift in the ordering, as a
    # share of its relevance. The scores themselves stay calibrated.
    lift: Mapping[int, float] = field(default_factory=dict)
    # Whether the hits count as used (decay keeps used memories raw longer): a person browsing the
    # store with the viewer or the explorer is not the agent using its memory.
    counts_as_use: bool = True
    # The time "yesterday" or "3 days ago" in the query counts back from; None: now. The
    # evaluation sets it to when the dataset's question was asked.
    now: float | None = None


class HybridSearcher:
    def __init__(
        self,
        database: Database,
        embeddings: EmbeddingService,
        vectors: VectorMirror,
        usage: UsageLog | None = None,
    ) -> None:
        self._database = database
        self._embeddings = embeddings
        self._vectors = vectors
        self._usage = usage  # told which memories each search returns, for decay
        self._term_statistics = fts.TermStatistics()

    async def search(self, request: SearchRequest) -> SearchResult:
        """The requested signals, fused; without a query vector the dense signal is replaced by the
        lexical one and `notice` says why."""
        depth = max(request.limit * CANDIDATE_FACTOR, MIN_CANDIDATES)
        ranked: dict[Signal, list[tuple[int, float]]] = {}
        notice = None
        # The lexical search runs in SQLite's thread while the model embeds the query: at 100k
        # memories that took recall through MCP from p95 28.5-33.0 to 23.9-25.4 ms (ONNX model, 2 cores).
        lexical = (
            asyncio.ensure_future(self._lexical(request.query, request.memory_filter, depth))
            if "lexical" in request.signals
            else None
        )
        best_lexical = 0.0
        try:
            if "dense" in request.signals:
                query_vector = await self._embeddings.embed_query(request.query)
                if query_vector is None:
                    notice = (
                        self._embeddings.notice()
                        or "the query could not be embedded; results are lexical-only"
                    )
                else:
                    ranked["dense"] = await self._vectors.nearest(query_vector, request.memory_filter, depth)
            if lexical is not None:
                ranked["lexical"], best_lexical = await lexical
        except BaseException:
            if lexical is not None:
                lexical.cancel()
                await asyncio.gather(lexical, return_exceptions=True)
            raise
        if not ranked:  # no query vector, and lexical was not asked for: it stands in for dense
            ranked["lexical"], best_lexical = await self._lexical(request.query, request.memory_filter, depth)
        candidates, best_possible = fuse(ranked, SIGNAL_WEIGHTS)
        candidates = await add_neighbour_context(self._database, candidates, request.memory_filter)
        if request.expand_graph:
            candidates = await add_graph_expansion(
                self._database, candidates, request.memory_filter, request.limit
            )
        evidence = {c.id: evidence_of(c, ranked, best_lexical, best_possible, depth) for c in candidates}
        window = named_window(request.query, time.time() if request.now is None else request.now)
        in_window = (
            await ids_matching(
                self._database,
                [c.id for c in candidates],
                replace(request.memory_filter, since=window.start, until=window.end),
            )
            if window is not None
            else set()
        )
        # The named time raises a memory's relative part for the ordering; its reported score stays
        # the calibrated one. Stable: equal relevance keeps the fused order (ties: the newer memory).
        ordering = {
            c.id: evidence[c.id].lifted(TIME_LIFT) if c.id in in_window else evidence[c.id]
            for c in candidates
        }
        candidates.sort(key=lambda c: -ordering[c.id].relevance * (1 + request.lift.get(c.id, 0.0)))
        top = await self._first_hand(candidates, request.limit)
        memories = await get_memories(self._database, [c.id for c in top])
        hits: list[RecallHit] = []
        budget = request.max_tokens
        truncated = False
        for candidate in top:
            memory = memories.get(candidate.id)
            if memory is None or memory.status != "active":
                continue  # forgotten between the index read and this fetch
            parts = evidence[candidate.id]
            explanation = None
            if request.explain:
                explanation = Explanation(
                    fused=candidate.fused,
                    coverage=parts.coverage,
                    relative=parts.relative,
                    context=None
                    if candidate.context is None
                    else ContextExplanation(
                        neighbour=candidate.context[0], contribution=candidate.context[1]
                    ),
                    window=None if window is None or candidate.id not in in_window else window.describe(),
                    graph=None
                    if candidate.graph is None
                    else GraphExplanation(
                        via=candidate.graph.via,
                        entity=candidate.graph.name,
                        entity_id=candidate.graph.entity_id,
                        contribution=candidate.graph.contribution,
                    ),
                    **{
                        signal: SignalExplanation(rank=rank, score=score, contribution=contribution)
                        for signal, (rank, score, contribution) in candidate.signals.items()
                    },
                )
            hit = RecallHit(**memory.model_dump(), score=parts.relevance, explain=explanation)
            if budget is not None:
                # The whole hit counts (context, tags, metadata), as the caller will read all of it.
                cost = len(hit.model_dump_json()) // CHARS_PER_TOKEN
                if cost > budget:
                    truncated = True
                    break
                budget -= cost
            hits.append(hit)
        if self._usage is not None and request.counts_as_use:
            self._usage.note(hit.id for hit in hits)
        mode: Literal["hybrid", "lexical", "dense"] = "hybrid" if len(ranked) == 2 else next(iter(ranked))
        return SearchResult(results=hits, mode=mode, notice=notice, truncated=truncated)

    async def _first_hand(self, candidates: list[FusedCandidate], limit: int) -> list[FusedCandidate]:
        """The best `limit` candidates, leaving out a consolidation product (a fact or digest made
        from events) ranked below an event it came from: the agent has that first-hand already, and
        the place goes to the next memory. Without this, products pushed the evidence of 0.5 % of the
        LoCoMo dev questions out of the top 10; with it, 0.1 % (perf.eval_consolidation)."""
        sources = await consolidation.sources_of(self._database, [c.id for c in candidates])
        kept: list[FusedCandidate] = []
        for candidate in candidates:
            if len(kept) == limit:
                break
            if sources.get(candidate.id, set()).isdisjoint(above.id for above in kept):
                kept.append(candidate)
        return kept

    async def relevance_ceiling(self, query: str, memory_filter: MemoryFilter) -> float:
        """The highest relevance any memory passing the filter can score for the query, read from the
        lexical index alone: below a threshold, the search (and the model it needs) can be skipped."""
        found, best = await self._lexical(query, memory_filter, 1)
        return ceiling(found[0][1] / best if found and best > 0 else 0.0)

    async def _lexical(
        self, query: str, memory_filter: MemoryFilter, depth: int
    ) -> tuple[list[tuple[int, float]], float]:
        """The lexical candidates, and the best BM25 score possible for the query (calibration.py)."""
        statistics = self._term_statistics
        found = await fts.lexical_search(self._database, query, memory_filter, depth, statistics)
        return found, (await statistics.best_possible(self._database, query)) if found else 0.0
