"""Finding procedures for a goal: hybrid relevance, weighed by how well each procedure has worked.

Relevance comes from the same two signals as memory search, fused by `fuse` with the same weights:
BM25 over the procedures' name, goal, steps and tags, and cosine similarity to their vectors. One
difference: each signal's scale is anchored at zero (no match) rather than at its own last
candidate, so a candidate's rescaled score is its score over the signal's best. A namespace often
holds only a handful of procedures, and with the last of two rescaled to 0 a difference of 0.01 in
cosine would decide between them. Then

    relevance = fused / (sum of the weights of the signals that ran)                 in [0, 1]
    recency   = 0.5 ^ (days since the last run, or since saving if never run, / 30)
    score     = relevance * (0.5 + 0.4 * confidence + 0.1 * recency)                 in [0, 1]

with confidence the Beta-posterior mean of store/procedures.py. Relevance leads, because a procedure
for another goal is no help however well it works; among comparably relevant procedures the proven
one wins: one that succeeded 9 runs of 10 keeps 0.93 of its relevance when recently used, a new one
0.80, one that failed 9 of 10 0.67. The weights are a judgement, not fitted: there is no benchmark of
procedure retrieval to fit them on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.models import Procedure, SignalExplanation
from athena_mcp.retrieval.fusion import FusedCandidate, Signal, fuse
from athena_mcp.retrieval.procedure_mirror import ProcedureMirror
from athena_mcp.retrieval.search import CANDIDATE_FACTOR, MIN_CANDIDATES, SIGNAL_WEIGHTS
from athena_mcp.store import procedures
from athena_mcp.store.database import Database

BASE_WEIGHT = 0.5
CONFIDENCE_WEIGHT = 0.4
RECENCY_WEIGHT = 0.1
RECENCY_HALF_LIFE = 30 * 86_400.0  # seconds
# Each signal rescales from zero rather than from its last candidate: a saved procedure is often one of
# a few, and the only match of a search must not score as if it were the best of many.
SCORE_FLOOR = 0.0


class ProcedureExplanation(BaseModel):
    lexical: SignalExplanation | None = None
    dense: SignalExplanation | None = None
    relevance: float = Field(description="Fused relevance in [0, 1] of the signals above")
    confidence: float = Field(description="The procedure's confidence when ranked")
    recency: float = Field(description="0.5 ^ (days since its last run, or since saving if never run, / 30)")


class ProcedureHit(Procedure):
    score: float = Field(description="relevance × (0.5 + 0.4 × confidence + 0.1 × recency), in [0, 1]")
    explain: ProcedureExplanation | None = None


class ProcedureSearchResult(BaseModel):
    results: list[ProcedureHit]
    mode: Literal["hybrid", "lexical"] = Field(description="Which signals produced the relevance")
    notice: str | None = Field(None, description="Why the search ran lexical-only, if it did")


@dataclass(frozen=True)
class ProcedureSearch:
    query: str
    namespace: str
    limit: int = 10
    include_retired: bool = False
    explain: bool = False


@dataclass(frozen=True)
class _Ranked:
    candidate: FusedCandidate
    score: float
    relevance: float
    confidence: float
    recency: float

    def explanation(self) -> ProcedureExplanation:
        return ProcedureExplanation(
            relevance=self.relevance,
            confidence=self.confidence,
            recency=self.recency,
            **{
                signal: SignalExplanation(rank=rank, score=score, contribution=contribution)
                for signal, (rank, score, contribution) in self.candidate.signals.items()
            },
        )


class ProcedureSearcher:
    def __init__(self, database: Database, embeddings: EmbeddingService, mirror: ProcedureMirror) -> None:
        self._database = database
        self._embeddings = embeddings
        self._mirror = mirror

    async def search(self, request: ProcedureSearch) -> ProcedureSearchResult:
        """The best procedures for the query by the score above; lexical-only, with a notice saying
        why, while there is no query vector."""
        depth = max(request.limit * CANDIDATE_FACTOR, MIN_CANDIDATES)
        statuses = ("active", "retired") if request.include_retired else ("active",)
        query_vector = await self._embeddings.embed_query(request.query)
        ranked: dict[Signal, list[tuple[int, float]]] = {
            "lexical": await procedures.lexical_search(
                self._database, request.query, request.namespace, statuses, depth
            )
        }
        # After the lexical search: the copy then holds every procedure that search returned.
        copy = await self._mirror.view(request.namespace)
        notice = None
        if query_vector is None:
            notice = self._embeddings.notice() or "the query could not be embedded; results are lexical-only"
        else:
            ranked["dense"] = copy.nearest(query_vector, depth, request.include_retired)
        candidates, best_possible = fuse(ranked, SIGNAL_WEIGHTS, floor=SCORE_FLOOR)
        now = time.time()
        scored = []
        for candidate in candidates:
            standing = copy.standing(candidate.id)  # None for one deleted since
            if standing is None or not (standing.active or request.include_retired):
                continue
            relevance = candidate.fused / best_possible
            recency = 0.5 ** (max(0.0, now - standing.last_touched) / RECENCY_HALF_LIFE)
            weight = BASE_WEIGHT + CONFIDENCE_WEIGHT * standing.confidence + RECENCY_WEIGHT * recency
            scored.append(_Ranked(candidate, relevance * weight, relevance, standing.confidence, recency))
        scored.sort(key=lambda r: (-r.score, -r.candidate.id))  # ties: newer first
        top = scored[: request.limit]
        found = await procedures.get_procedures(self._database, [r.candidate.id for r in top])
        hits = [
            ProcedureHit(
                **procedure.model_dump(),
                score=r.score,
                explain=r.explanation() if request.explain else None,
            )
            for r in top
            # Retired between the copy's read and this fetch.
            if (procedure := found.get(r.candidate.id)) is not None and procedure.status in statuses
        ]
        return ProcedureSearchResult(
            results=hits, mode="hybrid" if "dense" in ranked else "lexical", notice=notice
        )
