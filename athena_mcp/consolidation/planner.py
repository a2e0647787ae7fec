"""System 1: what a chunk of new events consolidates into, decided without writing or any model call.

Pure: the worker reads the events, their vectors, the procedures and the waiting candidate sessions,
and this module turns them into a `Plan` that the worker writes in one transaction.
- Facts: an event text that recurs (cosine >= FACT_MATCH) in at least two sessions and is a
  statement (extraction.is_statement) becomes a semantic fact, or is linked to the fact an earlier
  occurrence already became.
- Procedures: a session with an outcome and at least MIN_STEPS actions that repeats a procedure
  (sequences.py) is evidence for it: success raises its confidence, failure lowers it. Otherwise it
  waits as a candidate; once MIN_SUPPORT successful sessions repeat one another they become a
  learned procedure, and the failed ones among them its counter-evidence.
- Graph candidates: names mentioned together in an event.
- Digests: a session of DIGEST_MIN_EVENTS or more becomes one summary memory, the target that its
  raw events are compacted into when they age.
System 2's answers, when the client's model was asked, change the plan afterwards (review.py).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from athena_mcp.consolidation.extraction import digest_text, is_statement
from athena_mcp.consolidation.sequences import SESSION_MATCH, UnionFind, sequence_similarity
from athena_mcp.embeddings.base import normalise
from athena_mcp.memory.entity_linking import mentioned_names
from athena_mcp.store.consolidation import EarlierEvent, PairPlan, SessionSteps

FACT_MATCH = 0.9
MIN_STEPS = 2
MAX_STEPS = 50
MIN_SUPPORT = 2
# Below this many supporting sessions a product is uncertain: System 2 is asked about it.
CERTAIN_SUPPORT = 3
DIGEST_MIN_EVENTS = 3
# Statements a digest shows of a session besides its steps, decisions and errors, and how much a
# statement's likeness to those already shown counts against it (LoCoMo dev, perf.eval_consolidation).
DIGEST_TOPICS = 5
DIGEST_REDUNDANCY = 0.5
STEP_KIND = "action"
# Kinds that carry what happened, shown in a digest besides the steps.
DIGEST_KINDS = ("action", "decision", "error")
MAX_NAME_LENGTH = 80
# An event before a session's first step names its goal when it states an intent, or when its cosine
# to the steps' mean vector is at least GOAL_MATCH.
_INTENT = re.compile(
    r"^\s*(?:goal|task|objective|intent|plan)\s*:|\b(?:want|need|have|going|plan|trying|about)\s+to\b"
    r"|\b(?:want|need)\s+(?:a|an|the|some)\b"
    r"|\blet'?s\b",
    re.IGNORECASE,
)
GOAL_MATCH = 0.35

# extracted: written by System 2 itself, read in the sessions' statements it cites
Validation = Literal["unvalidated", "validated", "rejected", "extracted"]


@dataclass(frozen=True)
class Event:
    id: int
    namespace: str
    kind: str
    content: str
    session_id: str | None
    outcome: str | None
    occurred_at: float
    importance: float
    vector: np.ndarray


@dataclass
class FactPlan:
    namespace: str
    content: str
    importance: float
    vector: np.ndarray | None
    event_ids: list[int]
    sessions: int
    existing_fact_id: int | None = None  # link to this fact instead of storing a new one
    validation: Validation = "unvalidated"

    @property
    def key(self) -> str:
        return product_key("fact", self.event_ids)


@dataclass
class ProcedurePlan:
    namespace: str
    name: str
    goal: str
    steps: tuple[str, ...]
    step_embeddings: np.ndarray
    evidence: list[SessionSteps]
    validation: Validation = "unvalidated"

    @property
    def key(self) -> str:
        return product_key("procedure", [e for s in self.evidence for e in s.event_ids])

    @property
    def support(self) -> int:
        return sum(session.outcome == "success" for session in self.evidence)


@dataclass(frozen=True)
class EvidencePlan:
    procedure_id: int
    session: SessionSteps


@dataclass(frozen=True)
class DigestPlan:
    namespace: str
    session_id: str
    content: str
    importance: float
    occurred_at: float
    event_ids: tuple[int, ...]


@dataclass
class Plan:
    event_ids: list[int] = field(default_factory=list)
    facts: list[FactPlan] = field(default_factory=list)
    procedures: list[ProcedurePlan] = field(default_factory=list)
    evidence: list[EvidencePlan] = field(default_factory=list)
    new_candidates: list[SessionSteps] = field(default_factory=list)
    used_candidates: list[SessionSteps] = field(default_factory=list)  # folded into a new procedure
    digests: list[DigestPlan] = field(default_factory=list)
    pairs: list[PairPlan] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # keys System 2 rejected
    # (event id, text): statements that say what the sessions were about (the digests' own), which
    # System 2 reads facts from (review.py)
    statements: list[tuple[int, str]] = field(default_factory=list)

    def proposals(self) -> list[ProcedurePlan | FactPlan]:
        """The new procedures and the facts (new or linked), the products System 2 can judge."""
        return [*self.procedures, *self.facts]

    def uncertain(self) -> list[FactPlan | ProcedurePlan]:
        """New products with less than CERTAIN_SUPPORT sessions behind them, for System 2."""
        facts = [f for f in self.facts if f.existing_fact_id is None and f.sessions < CERTAIN_SUPPORT]
        procedures = [p for p in self.procedures if p.support < CERTAIN_SUPPORT]
        return [*procedures, *facts]


def product_key(kind: str, event_ids: Iterable[int]) -> str:
    """Stable name of a proposed product: the same events always give the same key."""
    digest = hashlib.sha256(f"{kind}:{sorted(set(event_ids))}".encode()).hexdigest()
    return f"{kind[0]}{digest[:10]}"


def plan_chunk(
    events: Sequence[Event],
    repeats: Sequence[tuple[int, int]],
    earlier: Mapping[int, EarlierEvent],
    procedures: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    candidates: Mapping[str, Sequence[SessionSteps]],
) -> Plan:
    """What `events` (new, one or more whole sessions) consolidate into.

    `repeats`: pairs (new event id, event id) of fact-eligible events whose texts match, the second
    new or `earlier`; `procedures`: each namespace's active procedures' step vectors; `candidates`:
    each namespace's waiting sessions. System 2's answers are applied to the plan afterwards
    (review.apply_answers)."""
    plan = Plan(event_ids=[event.id for event in events])
    sessions: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        if event.session_id is not None:
            sessions[(event.namespace, event.session_id)].append(event)
    _plan_procedures(plan, sessions, procedures, candidates)
    _plan_facts(plan, events, repeats, earlier)
    _plan_digests(plan, sessions)
    _plan_pairs(plan, events)
    return plan


def _plan_procedures(
    plan: Plan,
    sessions: Mapping[tuple[str, str], list[Event]],
    procedures: Mapping[str, Sequence[tuple[int, np.ndarray]]],
    candidates: Mapping[str, Sequence[SessionSteps]],
) -> None:
    # By events, not by session id: a session that went on after it was consolidated has a waiting
    # part with the same session id but other events.
    existing = {_candidate_key(c) for found in candidates.values() for c in found}
    waiting = {namespace: list(found) for namespace, found in candidates.items()}
    for (namespace, session_id), session_events in sessions.items():
        session = session_steps(namespace, session_id, session_events)
        if session is None:
            continue
        known = _best_match(session, procedures.get(namespace, ()))
        if known is not None:
            plan.evidence.append(EvidencePlan(known, session))
            continue
        proposed = next(
            (p for p in plan.procedures if p.namespace == namespace and _repeats(session, p.step_embeddings)),
            None,
        )
        if proposed is not None:
            proposed.evidence.append(session)
            continue
        pool = waiting.setdefault(namespace, [])
        # A session's own earlier part is not a second session repeating it: it is replaced.
        earlier_parts = [c for c in pool if c.session_id == session_id]
        plan.used_candidates += [c for c in earlier_parts if _candidate_key(c) in existing]
        pool[:] = [c for c in pool if c.session_id != session_id]
        similar = [c for c in pool if _repeats(session, c.step_embeddings)]
        group = [*similar, session]
        if sum(s.outcome == "success" for s in group) < MIN_SUPPORT:
            pool.append(session)
            continue
        for used in similar:
            pool.remove(used)
        plan.used_candidates += [c for c in similar if _candidate_key(c) in existing]
        plan.procedures.append(_propose(group))
    plan.new_candidates = [c for pool in waiting.values() for c in pool if _candidate_key(c) not in existing]


def _candidate_key(session: SessionSteps) -> tuple[str, str, tuple[int, ...]]:
    return session.namespace, session.session_id, session.event_ids


def _repeats(session: SessionSteps, steps: np.ndarray) -> bool:
    # Vectors of another size come from another model (a reembed is under way): never a match.
    if steps.ndim != 2 or steps.shape[1] != session.step_embeddings.shape[1]:
        return False
    return sequence_similarity(session.step_embeddings, steps) >= SESSION_MATCH


def session_steps(namespace: str, session_id: str, events: Sequence[Event]) -> SessionSteps | None:
    """The session as a workflow (its actions, goal and outcome), or None when it is not one: fewer
    than MIN_STEPS actions, or no reported outcome."""
    steps = [e for e in events if e.kind == STEP_KIND][:MAX_STEPS]
    outcomes = [e.outcome for e in events if e.outcome in ("success", "failure", "partial")]
    if len(steps) < MIN_STEPS or not outcomes:
        return None
    goal = session_goal(events, steps) or f"{steps[0].content} … {steps[-1].content}"
    duration = events[-1].occurred_at - events[0].occurred_at
    return SessionSteps(
        namespace=namespace,
        session_id=session_id,
        outcome=str(outcomes[-1]),
        goal=goal,
        steps=tuple(e.content for e in steps),
        step_event_ids=tuple(e.id for e in steps),
        event_ids=tuple(e.id for e in events),
        step_embeddings=np.stack([e.vector for e in steps]).astype(np.float32),
        duration=duration if duration > 0 else None,
        ended_at=events[-1].occurred_at,
    )


def session_goal(events: Sequence[Event], steps: Sequence[Event]) -> str | None:
    """What the session set out to do: of the events recorded before its first step, one that states
    an intent ("Goal: ...", "we need to ...") or, failing that, the one nearest the steps in meaning
    if it is near enough. Recorded order, not time, says "before": a batch's events share one time,
    and the first of them was once taken as the goal however unrelated ("The staging database
    password rotates every Monday" naming a checkout / pytest / publish workflow)."""
    first = steps[0].occurred_at, steps[0].id
    before = [e for e in events if e.kind != STEP_KIND and (e.occurred_at, e.id) < first]
    if not before:
        return None
    intents = [e for e in before if _INTENT.search(e.content)]
    if intents:
        return intents[-1].content  # the latest stated intent before the work began
    direction = mean_direction(steps)
    nearest = max(before, key=lambda e: float(e.vector @ direction))
    return nearest.content if float(nearest.vector @ direction) >= GOAL_MATCH else None


def mean_direction(events: Sequence[Event]) -> np.ndarray:
    """The unit vector of the events' mean: what they are about together."""
    return normalise(np.stack([e.vector for e in events]).mean(axis=0, keepdims=True))[0]


def _best_match(session: SessionSteps, known: Sequence[tuple[int, np.ndarray]]) -> int | None:
    best, best_score = None, SESSION_MATCH
    for procedure_id, steps in known:
        if not _repeats(session, steps):
            continue
        score = sequence_similarity(session.step_embeddings, steps)
        if score >= best_score:
            best, best_score = procedure_id, score
    return best


def _propose(group: Sequence[SessionSteps]) -> ProcedurePlan:
    """A procedure from similar sessions: the steps of the successful session most like the others."""
    successes = [s for s in group if s.outcome == "success"]
    model = max(
        successes,
        key=lambda s: (
            sum(sequence_similarity(s.step_embeddings, o.step_embeddings) for o in successes),
            s.ended_at,
        ),
    )
    goal = " ".join(model.goal.split())
    return ProcedurePlan(
        namespace=model.namespace,
        name=goal if len(goal) <= MAX_NAME_LENGTH else goal[: MAX_NAME_LENGTH - 1] + "…",
        goal=goal,
        steps=model.steps,
        step_embeddings=model.step_embeddings,
        evidence=list(group),
    )


def _plan_facts(
    plan: Plan,
    events: Sequence[Event],
    repeats: Sequence[tuple[int, int]],
    earlier: Mapping[int, EarlierEvent],
) -> None:
    new = {event.id: event for event in events}
    groups = UnionFind()
    for a, b in repeats:
        groups.union(a, b)
    for members in groups.groups():
        fresh = [new[m] for m in members if m in new]
        if not fresh:
            continue
        sessions = set()
        for member in members:
            event = new.get(member) or earlier[member]
            sessions.add(session_key(event.session_id, event.id))
        if len(sessions) < 2:
            continue
        facts = (earlier[m].fact_id for m in members if m in earlier)
        linked = sorted({fact for fact in facts if fact is not None})
        newest = max(fresh, key=lambda e: (e.occurred_at, e.id))
        if not linked and not is_statement(newest.content):
            continue  # a recurring status line or pleasantry ("docs published", "Thanks!") is no fact
        plan.facts.append(
            FactPlan(
                namespace=newest.namespace,
                content=newest.content,
                importance=max(e.importance for e in fresh),
                vector=newest.vector,
                event_ids=sorted(members),
                sessions=len(sessions),
                existing_fact_id=linked[0] if linked else None,
            )
        )


def session_key(session_id: str | None, event_id: int) -> str:
    """The unit events are grouped in: their session, or the event itself when it has none."""
    return session_id if session_id is not None else f"event:{event_id}"


def _plan_digests(plan: Plan, sessions: Mapping[tuple[str, str], list[Event]]) -> None:
    for (namespace, session_id), session_events in sessions.items():
        if len(session_events) < DIGEST_MIN_EVENTS:
            continue
        outcomes = [e.outcome for e in session_events if e.outcome is not None]
        shown = {e.id for e in session_events if e.kind in DIGEST_KINDS or e.outcome}
        central = central_events(session_events, exclude=shown)
        shown.update(e.id for e in central)
        plan.statements += [(e.id, e.content) for e in sorted(central, key=lambda e: (e.occurred_at, e.id))]
        content = digest_text(
            session_id,
            session_events[0].occurred_at,
            session_events[-1].occurred_at,
            len(session_events),
            outcomes[-1] if outcomes else None,
            [(e.kind, e.content) for e in session_events if e.id in shown],
        )
        plan.digests.append(
            DigestPlan(
                namespace=namespace,
                session_id=session_id,
                content=content,
                importance=max(e.importance for e in session_events),
                occurred_at=session_events[-1].occurred_at,
                event_ids=tuple(e.id for e in session_events),
            )
        )


def central_events(events: Sequence[Event], exclude: set[int]) -> list[Event]:
    """Up to DIGEST_TOPICS events that say what the session was about: statements nearest the
    session's mean vector, each new pick kept apart from those before it (maximal marginal
    relevance), so that a session of several topics shows each. Greetings and short replies lie
    far from the mean of a session's talk, and too few words make no statement at all."""
    pool = [e for e in events if e.id not in exclude and is_statement(e.content)]
    if not pool:
        return []
    vectors = np.stack([e.vector for e in pool])
    centrality = vectors @ mean_direction(events)
    picked: list[int] = []
    while len(picked) < min(DIGEST_TOPICS, len(pool)):
        redundancy = (vectors @ vectors[picked].T).max(axis=1) if picked else np.zeros(len(pool))
        gain = centrality - DIGEST_REDUNDANCY * redundancy
        gain[picked] = -np.inf
        picked.append(int(np.argmax(gain)))
    return [pool[i] for i in picked]


def _plan_pairs(plan: Plan, events: Sequence[Event]) -> None:
    seen: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for event in events:
        for a, b in itertools.combinations(sorted(mentioned_names(event.content), key=str.casefold), 2):
            seen[(event.namespace, a, b)].append(event.id)
    plan.pairs = [PairPlan(ns, a, b, tuple(ids)) for (ns, a, b), ids in seen.items()]


def counts(plan: Plan) -> Counter[str]:
    """What the plan produces, counted, for run reports."""
    return Counter(
        events=len(plan.event_ids),
        facts_created=sum(f.existing_fact_id is None for f in plan.facts),
        facts_reinforced=sum(f.existing_fact_id is not None for f in plan.facts),
        facts_extracted=sum(f.validation == "extracted" for f in plan.facts),
        procedures_proposed=len(plan.procedures),
        procedures_reinforced=sum(e.session.outcome == "success" for e in plan.evidence),
        procedures_weakened=sum(e.session.outcome != "success" for e in plan.evidence),
        candidate_sessions=len(plan.new_candidates),
        digests=len(plan.digests),
        graph_candidates=len(plan.pairs),
        rejected=len(plan.rejected),
        validated=sum(p.validation == "validated" for p in plan.proposals()),
    )
