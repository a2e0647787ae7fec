"""Hybrid search: run the lexical and dense signals with the same filter, fuse, fetch, trim."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.models import Explanation, RecallHit, SearchResult, SignalExplanation
from athena_mcp.retrieval.fusion import fuse
from athena_mcp.store import fts, vectors
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import get_memories

Mode = Literal["hybrid", "lexical", "dense"]
# How deep each signal looks before fusion, relative to the number of results asked for.
CANDIDATE_FACTOR = 5
MIN_CANDIDATES = 50
SIGNAL_WEIGHTS = {"lexical": 1.0, "dense": 1.0}
# Rough size of a result in tokens: about four characters a token plus the fields around it.
CHARS_PER_TOKEN = 4
TOKENS_PER_RESULT_OVERHEAD = 40


@dataclass(frozen=True)
class SearchRequest:
    query: str
    memory_filter: MemoryFilter
    limit: int = 10
    mode: Mode = "hybrid"
    explain: bool = False
    max_tokens: int | None = None


class HybridSearcher:
    def __init__(self, database: Database, embeddings: EmbeddingService) -> None:
        self._database = database
        self._embeddings = embeddings

    async def search(self, request: SearchRequest) -> SearchResult:
        depth = max(request.limit * CANDIDATE_FACTOR, MIN_CANDIDATES)
        ranked: dict[str, list[tuple[int, float]]] = {}
        notice = None
        if request.mode in ("hybrid", "lexical"):
            ranked["lexical"] = await fts.lexical_search(
                self._database, request.query, request.memory_filter, depth
            )
        if request.mode in ("hybrid", "dense"):
            query_vector = await self._embeddings.embed_query(request.query)
            if query_vector is None:
                notice = (
                    self._embeddings.notice() or "the query could not be embedded; results are lexical-only"
                )
                if "lexical" not in ranked:
                    ranked["lexical"] = await fts.lexical_search(
                        self._database, request.query, request.memory_filter, depth
                    )
            else:
                ranked["dense"] = await vectors.nearest(
                    self._database, query_vector, request.memory_filter, depth
                )
        mode: Mode = "hybrid" if len(ranked) == 2 else ("dense" if "dense" in ranked else "lexical")

        candidates, best_possible = fuse(ranked, SIGNAL_WEIGHTS)
        top = candidates[: request.limit]
        memories = await get_memories(self._database, [c.memory_id for c in top])
        hits: list[RecallHit] = []
        budget = request.max_tokens
        truncated = False
        for candidate in top:
            memory = memories.get(candidate.memory_id)
            if memory is None or memory.status != "active":
                continue  # forgotten between the index read and this fetch
            if budget is not None:
                cost = len(memory.content) // CHARS_PER_TOKEN + TOKENS_PER_RESULT_OVERHEAD
                if cost > budget:
                    truncated = True
                    break
                budget -= cost
            explanation = None
            if request.explain:
                explanation = Explanation(
                    fused=candidate.fused,
                    **{
                        signal: SignalExplanation(rank=rank, score=score, contribution=contribution)
                        for signal, (rank, score, contribution) in candidate.signals.items()
                    },
                )
            hits.append(
                RecallHit(**memory.model_dump(), score=candidate.fused / best_possible, explain=explanation)
            )
        return SearchResult(results=hits, mode=mode, notice=notice, truncated=truncated)
