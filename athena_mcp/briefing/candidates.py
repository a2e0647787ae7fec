"""What a briefing may show, gathered from every memory system and valued for one request.

Each candidate's value is relevance x importance x recency x confidence, each part in [0, 1]:

- relevance: with a task, a memory's calibrated recall score (retrieval/calibration.py) or a
  procedure's search score; an item no search returned (a recent session, an open task) counts by
  the share of the task's words it holds, from NO_MATCH up; without a task every item is relevant;
- importance: a memory's own, as 0.75 + 0.25 x importance (a task-found memory) or in full (a fact
  chosen for its importance alone);
- recency: halves every RECENT_HALF_LIFE for sessions, every FACT_HALF_LIFE for facts;
- confidence: a procedure's chance that the next run succeeds (its Beta posterior mean).

Open items that are due now (fired reminders, overdue tasks) are worth the most whatever the task:
they are what the agent must not miss.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from athena_mcp.briefing.models import BriefingRequest, ItemKind, SectionName
from athena_mcp.governance import quoted
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.procedural import ProceduralMemory
from athena_mcp.memory.prospective import ProspectiveMemory, TaskQuery
from athena_mcp.memory.working import WorkingMemory
from athena_mcp.models import Memory, Procedure, RecallHit
from athena_mcp.prospective_models import Task
from athena_mcp.retrieval.procedure_search import ProcedureSearch
from athena_mcp.retrieval.search import HybridSearcher, SearchRequest
from athena_mcp.store import memories, sessions
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.fts import query_terms
from athena_mcp.store.procedures import ProcedureQuery

DAY = 86400.0
RECENT_HALF_LIFE = 7 * DAY
FACT_HALF_LIFE = 90 * DAY
# Sessions looked back on, and how far back.
RECENT_SESSIONS = 3
RECENT_WINDOW = 30 * DAY
KEY_EVENTS_PER_SESSION = 4
# Memories a task's search brings (a budget's worth: about one per TOKENS_PER_MEMORY, within the
# bounds), procedures, open tasks and entities considered, at most.
TOKENS_PER_MEMORY = 25
SEARCHED = (10, 100)
LEADING_FACTS = 30
PROCEDURES = 5
OPEN_TASKS = 20
ENTITIES = 6
OBSERVATIONS_SHOWN = 3
STEPS_SHOWN = 8
# The least relevance of an item no search returned, when it shares no word with the task.
NO_MATCH = 0.3
DUE_SOON = DAY


@dataclass
class Candidate:
    section: SectionName
    kind: ItemKind
    ref: str
    line: str  # what the briefing shows, stored text quoted
    value: float
    why: str
    words: frozenset[str]  # its content words, for merging near-duplicates
    memory_id: int | None = None
    merged: list[str] = field(default_factory=list)


def recency(moment: float, now: float, half_life: float) -> float:
    return math.pow(0.5, max(0.0, now - moment) / half_life)


def overlap(task_terms: frozenset[str], text: str) -> float:
    """The share of the task's words that the text holds."""
    if not task_terms:
        return 1.0
    return len(task_terms & frozenset(query_terms(text))) / len(task_terms)


def _day(moment: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(moment))


class CandidateGatherer:
    """Gathers every section's candidates for one request."""

    def __init__(
        self,
        database: Database,
        search: HybridSearcher,
        procedural: ProceduralMemory,
        prospective: ProspectiveMemory,
        graph: GraphMemory,
        working: WorkingMemory,
    ) -> None:
        self._database = database
        self._working = working
        self._search = search
        self._procedural = procedural
        self._prospective = prospective
        self._graph = graph

    async def gather(self, request: BriefingRequest, now: float) -> tuple[list[Candidate], str | None]:
        """The candidates, and a notice when the search ran in a reduced mode."""
        terms = frozenset(query_terms(request.task or ""))
        found: list[Candidate] = []
        notice = None
        if request.task:
            fewest, most = SEARCHED
            depth = max(fewest, min(most, request.max_tokens // TOKENS_PER_MEMORY))
            lift: dict[int, float] = {}
            if request.session_id:  # what the session has in mind ranks a little higher
                for namespace in request.namespaces:
                    lift |= await self._working.bias(namespace, request.session_id)
            result = await self._search.search(
                SearchRequest(
                    request.task, MemoryFilter(namespaces=request.namespaces), limit=depth, lift=lift
                )
            )
            notice = result.notice
            found = [_found(hit) for hit in result.results]
        else:
            found = [
                _leading_fact(fact, now)
                for fact in await memories.leading_facts(self._database, request.namespaces, LEADING_FACTS)
            ]
        lately = await self._lately(request, terms, now)
        memory_ids = [c.memory_id for c in found + lately if c.memory_id is not None]
        return (
            found
            + lately
            + await self._open(request, terms, now)
            + await self._procedures(request, now)
            + await self._involved(request, memory_ids)
        ), notice

    async def _lately(self, request: BriefingRequest, terms: frozenset[str], now: float) -> list[Candidate]:
        recent = await sessions.recent_sessions(
            self._database, request.namespaces, now - RECENT_WINDOW, request.session_id, RECENT_SESSIONS
        )
        digests = await sessions.session_digests(self._database, recent)
        candidates = []
        for span in recent:
            fresh = recency(span.last, now, RECENT_HALF_LIFE)
            digest = digests.get((span.namespace, span.session_id))
            shown = [digest] if digest is not None else []
            shown += await sessions.key_events(self._database, span, KEY_EVENTS_PER_SESSION)
            for memory in shown:
                relevance = max(NO_MATCH, overlap(terms, memory.content))
                value = relevance * fresh * (0.6 + 0.4 * memory.importance)
                why = f"session {span.session_id}, last active {_day(span.last)}"
                candidates.append(_memory_candidate(memory, "lately", value, why))
        return candidates

    async def _open(self, request: BriefingRequest, terms: frozenset[str], now: float) -> list[Candidate]:
        candidates = []
        for namespace in request.namespaces:
            due = await self._prospective.due(namespace, now, DUE_SOON, OPEN_TASKS)
            for fired in due.fired:
                what = fired.reminder or (fired.task.title if fired.task else fired.kind)
                line = f"[firing {fired.firing_id}] reminder: {quoted(what)} (dismiss once handled)"
                candidates.append(
                    Candidate(
                        "open", "reminder", f"firing {fired.firing_id}", line, 1.0, "fired", _words(what)
                    )
                )
            page = await self._prospective.list_tasks(TaskQuery(namespace), None, OPEN_TASKS, now)
            for task in page.tasks:
                candidates.append(_task(task, terms, now))
        return candidates

    async def _procedures(self, request: BriefingRequest, now: float) -> list[Candidate]:
        candidates = []
        for namespace in request.namespaces:
            if request.task:
                search = ProcedureSearch(query=request.task, namespace=namespace, limit=PROCEDURES)
                for hit in (await self._procedural.find(search)).results:
                    candidates.append(_procedure(hit, hit.score, f"matched the task {hit.score:.2f}"))
            else:
                page = await self._procedural.list_page(
                    ProcedureQuery(namespace), "confidence", None, PROCEDURES
                )
                for summary in page.items:
                    procedure = await self._procedural.get(namespace, summary.id, runs=0)
                    last = procedure.stats.last_used_at or procedure.created_at
                    fresh = recency(last.timestamp(), now, FACT_HALF_LIFE)
                    value = 0.8 * procedure.stats.confidence * (0.5 + 0.5 * fresh)
                    candidates.append(_procedure(procedure, value, "among the most reliable"))
        return candidates

    async def _involved(self, request: BriefingRequest, memory_ids: list[int]) -> list[Candidate]:
        candidates = []
        for namespace in request.namespaces:
            found = await self._graph.about(namespace, request.task or "", memory_ids, ENTITIES)
            task = (request.task or "").lower()
            values: dict[str, float] = {}
            for entity in found.entities:
                in_task = entity.name.lower() in task
                value = 0.8 if in_task else 0.5
                values[entity.name] = value
                shown = "; ".join(quoted(o) for o in entity.observations[:OBSERVATIONS_SHOWN])
                line = f"{entity.name} ({entity.entityType})" + (f": {shown}" if shown else "")
                why = "named in the task" if in_task else "mentioned by the memories shown"
                text = " ".join([entity.name, *entity.observations])
                candidates.append(
                    Candidate("involved", "entity", entity.name, line, value, why, _words(text))
                )
            for relation in found.relations:
                value = 0.9 * min(values.get(relation.from_, 0.5), values.get(relation.to, 0.5))
                line = f"{relation.from_} -{relation.relationType}-> {relation.to}"
                ref = f"{relation.from_} {relation.relationType} {relation.to}"
                candidates.append(
                    Candidate("involved", "relation", ref, line, value, "relates entities shown", _words(ref))
                )
        return candidates


def _words(text: str) -> frozenset[str]:
    return frozenset(query_terms(text))


def memory_line(memory: Memory) -> str:
    """`[id] date kind (outcome): "content"`: the date for events and session digests, the kind for
    events that are not plain messages."""
    digest = "digest" in memory.tags
    head = [f"[{memory.id}]"]
    if memory.system == "episodic" or digest:
        head.append(memory.timestamp.strftime("%Y-%m-%d"))
    if memory.system == "episodic":
        # "message", the commonest kind, says nothing the text does not: only other kinds are named.
        outcome = f" ({memory.outcome})" if memory.outcome not in (None, "unknown") else ""
        head.append(((memory.kind if memory.kind != "message" else "") + outcome).strip())
    elif digest:
        head.append("session digest")
    return f"{' '.join(part for part in head if part)}: {quoted(memory.content, memory.flags)}"


def _memory_candidate(memory: Memory, section: SectionName, value: float, why: str) -> Candidate:
    digest = "digest" in memory.tags
    kind: ItemKind = "digest" if digest else ("event" if memory.system == "episodic" else "fact")
    line = memory_line(memory)
    return Candidate(
        section, kind, f"memory {memory.id}", line, value, why, _words(memory.content), memory.id
    )


def _found(hit: RecallHit) -> Candidate:
    section: SectionName = "known" if hit.system == "semantic" and "digest" not in hit.tags else "lately"
    value = hit.score * (0.75 + 0.25 * hit.importance)
    return _memory_candidate(hit, section, value, f"matched the task {hit.score:.2f}")


def _leading_fact(fact: Memory, now: float) -> Candidate:
    fresh = recency(fact.updated_at.timestamp(), now, FACT_HALF_LIFE)
    value = fact.importance * (0.5 + 0.5 * fresh)
    return _memory_candidate(fact, "known", value, f"importance {fact.importance:.2f}")


PRIORITY_VALUE = {"urgent": 0.8, "high": 0.7, "normal": 0.5, "low": 0.3}


def _task(task: Task, terms: frozenset[str], now: float) -> Candidate:
    due = task.due.timestamp() if task.due is not None else None
    if task.overdue:
        value, why = 0.95, "overdue"
    elif due is not None and due <= now + DUE_SOON:
        value, why = 0.9, "due within a day"
    else:
        relevance = max(NO_MATCH, overlap(terms, f"{task.title} {task.notes or ''}"))
        value, why = PRIORITY_VALUE.get(task.priority, 0.5) * relevance, f"open, {task.priority} priority"
    line = f"[task {task.id}] {quoted(task.title)} ({task.status}"
    line += "" if task.priority == "normal" else f", {task.priority}"
    line += ")" + ("" if task.due is None else f" due {task.due:%Y-%m-%d %H:%M}")
    line += " OVERDUE" if task.overdue else ""
    return Candidate("open", "task", f"task {task.id}", line, value, why, _words(task.title))


def _procedure(procedure: Procedure, value: float, why: str) -> Candidate:
    stats = procedure.stats
    record = "never run" if stats.success_rate is None else f"{stats.success_rate:.0%} of {stats.runs} runs"
    steps = " > ".join(quoted(step) for step in procedure.steps[:STEPS_SHOWN])
    more = f" (+{len(procedure.steps) - STEPS_SHOWN} steps)" if len(procedure.steps) > STEPS_SHOWN else ""
    line = f"[procedure {procedure.id}] {procedure.name} ({record}): {quoted(procedure.goal)}"
    line += f"; steps: {steps}{more}" if steps else ""
    text = " ".join([procedure.name, procedure.goal, *procedure.steps])
    return Candidate("procedures", "procedure", f"procedure {procedure.id}", line, value, why, _words(text))
