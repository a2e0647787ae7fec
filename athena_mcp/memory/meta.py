"""Meta-memory: what the memory knows about a topic and how sure it can be, and what it was asked and
could not answer.

"About the topic" means a calibrated recall score of at least ABOUT (retrieval/calibration.py: about
the chance a memory is what the topic asks for), or holding at least ABOUT_COVERAGE of the topic's
words (weighted by rarity, as the score's coverage part): the score is relative to the best hit, and a
topic is about all of its memories, not only the best. Sureness reads the evidence a memory system keeps
anyway: how many memories bear on it and how fresh they are, what callers said of them
(`rate_memory`), how often searches returned them, and the success statistics of the procedures for
it. Two facts contradict each other when they speak of the same thing (cosine at least SAME_SUBJECT)
and differ in a number or in a negation: "the API limit is 100
requests" against "the API limit is 250 requests".
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.caller import current_caller
from athena_mcp.governance import redact
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.procedural import ProceduralMemory
from athena_mcp.models import RecallHit, to_datetime
from athena_mcp.retrieval.procedure_search import ProcedureSearch
from athena_mcp.retrieval.search import HybridSearcher, SearchRequest
from athena_mcp.retrieval.vector_mirror import VectorMirror
from athena_mcp.store import compaction
from athena_mcp.store import working as store
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter

ABOUT = 0.25
ABOUT_COVERAGE = 0.35
DEPTH = 50
SAME_SUBJECT = 0.75
MAX_CONTRADICTIONS = 5
MAX_GAPS = 10
# A question whose best hit scores under this found nothing (meta-memory lists it as a gap).
MISS_SCORE = 0.1
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|cannot|can't|don't|doesn't|isn't|aren't|won't|without)\b", re.I
)


class Contradiction(BaseModel):
    ids: list[int]
    contents: list[str]
    similarity: float
    differs_in: Literal["numbers", "negation"]


class Gap(BaseModel):
    query: str = Field(description="A question asked here that found nothing")
    asked: int
    last_asked: datetime


class Knowledge(BaseModel):
    namespace: str
    topic: str
    facts: int = Field(description="Facts about the topic")
    events: int
    procedures: int
    entities: int
    first_seen: datetime | None = Field(description="Earliest of those memories' times")
    last_seen: datetime | None
    last_changed: datetime | None = Field(description="When one of them last changed: freshness")
    times_used: int = Field(description="How often searches returned them")
    rated_helpful: int
    rated_unhelpful: int
    procedure_confidence: float | None = Field(description="Mean chance the procedures for it succeed")
    sureness: Literal["nothing", "little", "some", "much"]
    contradictions: list[Contradiction]
    gaps: list[Gap] = Field(description="Recent questions here that found nothing")


class MetaMemory:
    def __init__(
        self,
        database: Database,
        search: HybridSearcher,
        mirror: VectorMirror,
        procedural: ProceduralMemory,
        graph: GraphMemory,
    ) -> None:
        self._database = database
        self._search = search
        self._mirror = mirror
        self._procedural = procedural
        self._graph = graph
        # (namespace, question) -> (best score of its last search, when, misses since the last flush)
        self._searches: dict[tuple[str, str], tuple[float, float, int]] = {}

    async def know(self, namespace: str, topic: str) -> Knowledge:
        """What the namespace holds about `topic`, how sure it can be, and its gaps."""
        memory_filter = MemoryFilter(namespaces=(namespace,))
        found = await self._search.search(SearchRequest(topic, memory_filter, limit=DEPTH, explain=True))
        hits = [hit for hit in found.results if hit.score >= ABOUT or _coverage(hit) >= ABOUT_COVERAGE]
        search = ProcedureSearch(query=topic, namespace=namespace, limit=10)
        procedures = [
            hit.stats.confidence
            for hit in (await self._procedural.find(search)).results
            if hit.score >= ABOUT
        ]
        entities = len((await self._graph.about(namespace, topic, [hit.id for hit in hits], 20)).entities)
        facts = [hit for hit in hits if hit.system == "semantic"]
        usage = [await compaction.usage(self._database, hit.id) for hit in hits]
        times = [hit.timestamp for hit in hits]
        report = Knowledge(
            namespace=namespace,
            topic=topic,
            facts=len(facts),
            events=len(hits) - len(facts),
            procedures=len(procedures),
            entities=entities,
            first_seen=min(times, default=None),
            last_seen=max(times, default=None),
            last_changed=max((hit.updated_at for hit in hits), default=None),
            times_used=sum(int(row["access_count"]) for row in usage if row is not None),
            rated_helpful=sum(int(row["helpful"]) for row in usage if row is not None),
            rated_unhelpful=sum(int(row["unhelpful"]) for row in usage if row is not None),
            procedure_confidence=round(sum(procedures) / len(procedures), 3) if procedures else None,
            sureness="nothing",
            contradictions=await self._contradictions(facts, memory_filter),
            gaps=await self._gaps(namespace),
        )
        report.sureness = _sureness(report)
        return report

    def note_search(self, namespaces: tuple[str, ...], query: str, best: float) -> None:
        """Note how a search went: a question that found nothing is a gap, one that now finds
        something is none any more. Kept in memory until flush_searches (searches only read), and
        only for callers that may write the namespace: a read-only token leaves no trace."""
        caller = current_caller()
        # A read tool's arguments pass no content policy: a secret in a question is not kept.
        query = redact(query)
        for namespace in namespaces:
            if caller.may_write(namespace):
                _, _, times = self._searches.get((namespace, query), (0.0, 0.0, 0))
                # Found now: whatever was missed before is answered; missed: once more.
                self._searches[(namespace, query)] = (
                    best,
                    time.time(),
                    times + 1 if best < MISS_SCORE else 0,
                )

    async def flush_searches(self) -> None:
        """Write the searches noted since the last flush (the background loop's tick)."""
        if not self._searches:
            return
        # Kept in memory until written: `know` meanwhile reads them from here, not yet from the store.
        noted = dict(self._searches)
        async with self._database.transaction() as tx:
            for (namespace, query), (best, when, times) in noted.items():
                if best < MISS_SCORE:
                    await store.note_miss(tx, namespace, query, best, when, times)
                else:
                    await store.forget_miss(tx, namespace, query)
        for key, (_, _, times) in noted.items():
            best, when, now_times = self._searches[key]
            if now_times == times and (best, when) == noted[key][:2]:
                del self._searches[key]
            else:  # searched again while writing: only the misses since are still to write
                self._searches[key] = (best, when, max(0, now_times - times))

    async def _gaps(self, namespace: str) -> list[Gap]:
        """The stored gaps, with this process's questions not yet written (read, never written here:
        `know` only reads)."""
        gaps = {
            miss.query: Gap(query=miss.query, asked=miss.asked, last_asked=to_datetime(miss.last_at))
            for miss in await store.misses(self._database, namespace, MAX_GAPS)
        }
        for (space, query), (best, when, times) in self._searches.items():
            if space != namespace:
                continue
            if best >= MISS_SCORE:
                gaps.pop(query, None)
            else:
                asked = (gaps[query].asked if query in gaps else 0) + times
                gaps[query] = Gap(query=query, asked=asked, last_asked=to_datetime(when))
        return sorted(gaps.values(), key=lambda gap: gap.last_asked, reverse=True)[:MAX_GAPS]

    async def _contradictions(
        self, facts: list[RecallHit], memory_filter: MemoryFilter
    ) -> list[Contradiction]:
        if len(facts) < 2:
            return []
        ids, matrix = await self._mirror.vectors_of([fact.id for fact in facts], memory_filter)
        by_id = {fact.id: fact for fact in facts}
        position = {int(memory_id): n for n, memory_id in enumerate(ids)}
        found = []
        for a, b in itertools.combinations([fact for fact in facts if fact.id in position], 2):
            similarity = float(matrix[position[a.id]] @ matrix[position[b.id]])
            if similarity < SAME_SUBJECT:
                continue
            differs = _differs(a.content, b.content)
            if differs is not None:
                found.append(
                    Contradiction(
                        ids=[a.id, b.id],
                        contents=[by_id[a.id].content, by_id[b.id].content],
                        similarity=round(similarity, 3),
                        differs_in=differs,
                    )
                )
        found.sort(key=lambda c: -c.similarity)
        return found[:MAX_CONTRADICTIONS]


def _coverage(hit: RecallHit) -> float:
    return (hit.explain.coverage if hit.explain is not None else None) or 0.0


def _differs(a: str, b: str) -> Literal["numbers", "negation"] | None:
    numbers_a, numbers_b = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return "numbers"
    if bool(_NEGATION.search(a)) != bool(_NEGATION.search(b)):
        return "negation"
    return None


def _sureness(report: Knowledge) -> Literal["nothing", "little", "some", "much"]:
    held = report.facts + report.events + report.procedures
    if held == 0:
        return "nothing"
    if report.contradictions or report.rated_unhelpful > report.rated_helpful or held < 3:
        return "little"
    return "much" if report.facts >= 3 and report.rated_helpful >= report.rated_unhelpful else "some"
