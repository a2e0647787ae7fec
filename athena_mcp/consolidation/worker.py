"""The consolidation worker: reads settled events a chunk at a time, plans (planner.py), writes.

Namespaces are consolidated one at a time: a chunk holds one namespace's events, and its plan reads
that namespace's procedures, waiting sessions and earlier events only.

Crash-safe and idempotent: a chunk's products, their provenance and the marks on its events are
written in one transaction, so a run killed at any point leaves each chunk either done or untouched,
and the next run resumes with what is unmarked. One process consolidates at a time, by a lease in
the database; the write transaction also re-checks the marks, so two processes can never take in
the same events twice. After the chunks, a run compacts old low-value events (decay.py) and deletes
compacted events whose retention period is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import anyio
import numpy as np
from pydantic import BaseModel, Field

from athena_mcp.consolidation.decay import COMPACT_BELOW, importance_score
from athena_mcp.consolidation.planner import (
    FACT_MATCH,
    STEP_KIND,
    Event,
    Plan,
    counts,
    plan_chunk,
    session_key,
)
from athena_mcp.consolidation.products import write_products
from athena_mcp.consolidation.review import ProposedFact, Verdict, apply_answers
from athena_mcp.consolidation.sequences import similar_pairs
from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.retrieval.usage import UsageLog
from athena_mcp.retrieval.vector_mirror import VectorMirror
from athena_mcp.store import compaction, procedures, vectors
from athena_mcp.store import consolidation as store
from athena_mcp.store.database import Database, Row
from athena_mcp.store.filters import MemoryFilter

CHUNK_SESSIONS = 400
CHUNK_LOOSE_EVENTS = 2_000
LEASE_SECONDS = 60.0
COMPACTION_PAGE = 5_000
VECTOR_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ConsolidationPolicy:
    """When events are taken in and when they are compacted (from Settings)."""

    settle_seconds: float  # a session is consolidated once its last event is this old, or it has an outcome
    compaction_age_days: float
    retention_days: float
    flashbulb_importance: float
    # A requested run whose settled events still wait for vectors waits this long for them.
    vector_wait: float = 0.0


@dataclass(frozen=True)
class _Chunk:
    events: list[Event]  # of one namespace
    waiting: int  # settled events left for later: no vector yet


class RunReport(BaseModel):
    run_id: int | None = Field(
        default=None, description="The recorded run; null for a dry run or a skipped one"
    )
    status: Literal["done", "nothing_taken", "dry_run", "skipped", "failed"] = Field(
        description="nothing_taken: no event taken in and none compacted; the notice says why"
    )
    notice: str | None = None
    events: int = Field(default=0, description="Events taken in")
    facts_created: int = 0
    facts_reinforced: int = Field(default=0, description="Recurrences linked to a fact that already existed")
    facts_extracted: int = Field(
        default=0, description="Facts the client's model read in the sessions' statements (System 2)"
    )
    procedures_proposed: int = 0
    procedures_reinforced: int = Field(default=0, description="Successful sessions that repeated a procedure")
    procedures_weakened: int = Field(default=0, description="Failed sessions that repeated a procedure")
    candidate_sessions: int = Field(default=0, description="Sessions now waiting for a similar one")
    digests: int = Field(default=0, description="Session digests written")
    graph_candidates: int = Field(default=0, description="Name pairs seen together")
    rejected: int = Field(default=0, description="Proposals the client's model rejected (System 2)")
    validated: int = Field(default=0, description="Proposals the client's model confirmed (System 2)")
    compacted: int = Field(default=0, description="Old low-value events folded into their session digests")
    purged: int = Field(
        default=0, description="Compacted events deleted at the end of their retention period"
    )
    waiting_for_vectors: int = Field(default=0, description="Settled events left for later: no vector yet")
    settling: int = Field(
        default=0,
        description="Sessions left for later: their last event is younger than the settle time and "
        "carries no outcome",
    )
    proposals: list[str] = Field(default_factory=list, description="What a dry run would create")

    @property
    def proposed(self) -> int:
        """New facts and procedures this run stored, or a dry run would store."""
        return self.facts_created + self.procedures_proposed


class ConsolidationWorker:
    def __init__(
        self,
        database: Database,
        embeddings: EmbeddingService,
        vectors: VectorMirror,
        usage: UsageLog,
        policy: ConsolidationPolicy,
    ) -> None:
        self._database = database
        self._embeddings = embeddings
        self._vectors = vectors
        self._usage = usage
        self.policy = policy
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._run_lock = asyncio.Lock()

    async def plan(self, namespace: str, settle_seconds: float | None = None) -> Plan:
        """What the namespace's next chunk would consolidate into, written nowhere (dry runs, System 2)."""
        settled_before = time.time() - self._settle_seconds(settle_seconds)
        return await self._plan(namespace, await self._next_chunk(namespace, settled_before))

    async def run_once(
        self,
        *,
        trigger: Literal["schedule", "request"] = "schedule",
        namespace: str | None = None,
        settle_seconds: float | None = None,
        dry_run: bool = False,
        verdicts: Mapping[str, Verdict] | None = None,
        proposed_facts: Sequence[ProposedFact] = (),
    ) -> RunReport:
        """Consolidate every settled event of one namespace, or of each namespace in turn, then compact
        and purge; the report's notice says what was left for later and why.

        Each namespace is planned and written apart, so no product of one is made from, matched against
        or reviewed with another's events; `verdicts` and `proposed_facts` (System 2's answers about
        one namespace's proposals and statements) need that namespace."""
        if (verdicts or proposed_facts) and namespace is None:
            raise ValueError("System 2's answers concern one namespace: run_once needs that namespace")
        settle = self._settle_seconds(settle_seconds)
        settled_before = time.time() - settle
        if dry_run:
            return await self._dry_run(namespace, settled_before, settle)
        if trigger == "request":
            await self._wait_for_vectors(namespace, settled_before)
        async with self._run_lock:
            now = time.time()
            async with self._database.transaction() as tx:
                if not await store.take_lease(tx, self.holder, now, LEASE_SECONDS, _holder_gone):
                    return RunReport(
                        status="skipped",
                        notice="Another server process is consolidating this database; try again shortly.",
                    )
                run_id = await store.start_run(tx, trigger, self.holder, now, namespace)
            reports: dict[str, Counter[str]] = defaultdict(Counter)
            try:
                for space in await self._namespaces(namespace):
                    reports[space] += await self._consolidate(
                        run_id, space, settled_before, verdicts or {}, proposed_facts
                    )
                for space, decayed in (await self._decay(namespace)).items():
                    reports[space] += decayed
            except BaseException as exc:
                # Shielded: a cancelled call must still record its run and hand the lease back.
                status = "failed" if isinstance(exc, Exception) else "interrupted"
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    async with self._database.transaction() as tx:
                        await store.finish_run(tx, run_id, status, reports, type(exc).__name__)
                        await store.release_lease(tx, self.holder)
                raise
            async with self._database.transaction() as tx:
                await store.finish_run(tx, run_id, "done", reports, None)
                await store.release_lease(tx, self.holder)
            totals = sum(reports.values(), Counter())
            done = RunReport.model_validate(
                {
                    "run_id": run_id,
                    "status": "done"
                    if totals["events"] or totals["compacted"] or totals["purged"]
                    else "nothing_taken",
                    "settling": await store.settling(self._database, namespace, settled_before),
                    **totals,
                }
            )
            done.notice = _left_for_later(done, settle)
            return done

    async def _wait_for_vectors(self, namespace: str | None, settled_before: float) -> None:
        """Until no settled event of the namespace(s) waits for its vector (the vector backlog
        computes them), or `policy.vector_wait` seconds have passed. An empty backlog answers at
        once: reading the next chunks to count what waits would double a requested run's reads."""
        deadline = time.monotonic() + self.policy.vector_wait
        while await vectors.backlog_size(self._database):
            waiting = 0
            for space in await self._namespaces(namespace):
                waiting += (await self._next_chunk(space, settled_before)).waiting
            if not waiting or time.monotonic() >= deadline:
                return
            await asyncio.sleep(min(VECTOR_POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    async def _dry_run(self, namespace: str | None, settled_before: float, settle: float) -> RunReport:
        counted: Counter[str] = Counter()
        proposals: list[str] = []
        for space in await self._namespaces(namespace):
            chunk = await self._next_chunk(space, settled_before)
            plan = await self._plan(space, chunk)
            counted += counts(plan)
            counted["waiting_for_vectors"] += chunk.waiting
            proposals += _describe(plan)
        dry = RunReport.model_validate(
            {
                "status": "dry_run",
                "settling": await store.settling(self._database, namespace, settled_before),
                "proposals": proposals,
                **counted,
            }
        )
        dry.notice = _left_for_later(dry, settle)
        return dry

    async def _namespaces(self, namespace: str | None) -> list[str]:
        """The namespace asked for, or every namespace with events to take in."""
        return [namespace] if namespace is not None else await store.pending_namespaces(self._database)

    def _settle_seconds(self, settle_seconds: float | None) -> float:
        return self.policy.settle_seconds if settle_seconds is None else settle_seconds

    async def _consolidate(
        self,
        run_id: int,
        namespace: str,
        settled_before: float,
        verdicts: Mapping[str, Verdict],
        proposed_facts: Sequence[ProposedFact] = (),
    ) -> Counter[str]:
        report: Counter[str] = Counter()
        while True:
            chunk = await self._next_chunk(namespace, settled_before)
            report["waiting_for_vectors"] = chunk.waiting
            if not chunk.events:
                return report
            plan = await self._plan(namespace, chunk, verdicts, proposed_facts)
            proposed_facts = ()  # they cite the first chunk's statements, the ones System 2 was shown
            if not await self._write(plan, run_id):
                return report  # another process took these events in: it owns the rest too
            report += counts(plan)

    async def _next_chunk(self, namespace: str, settled_before: float) -> _Chunk:
        """The namespace's next settled sessions whose events all have vectors, and how many events wait
        for one."""
        rows = await store.pending_events(
            self._database, namespace, settled_before, CHUNK_SESSIONS, CHUNK_LOOSE_EVENTS
        )
        if not rows:
            return _Chunk([], 0)
        ids, matrix = await self._vectors.vectors_of([int(row["id"]) for row in rows], _events_of(namespace))
        slot = {int(memory_id): index for index, memory_id in enumerate(ids.tolist())}
        blocked = {_unit_key(row) for row in rows if int(row["id"]) not in slot}
        events = [_event(row, matrix[slot[int(row["id"])]]) for row in rows if _unit_key(row) not in blocked]
        return _Chunk(events, len(rows) - len(events))

    async def _plan(
        self,
        namespace: str,
        chunk: _Chunk,
        verdicts: Mapping[str, Verdict] | None = None,
        proposed_facts: Sequence[ProposedFact] = (),
    ) -> Plan:
        if not chunk.events:
            return Plan()
        fresh = [e for e in chunk.events if e.kind != STEP_KIND]
        repeats = await self._repeats(namespace, fresh)
        chunk_ids = {event.id for event in chunk.events}
        earlier = await store.earlier_events(
            self._database, namespace, sorted({b for _, b in repeats if b not in chunk_ids})
        )
        plan = plan_chunk(
            chunk.events,
            repeats,
            earlier,
            {namespace: await procedures.step_embeddings(self._database, namespace)},
            {namespace: await store.candidate_sessions(self._database, namespace)},
        )
        apply_answers(plan, chunk.events, verdicts or {}, proposed_facts)
        return plan

    async def _repeats(self, namespace: str, fresh: list[Event]) -> list[tuple[int, int]]:
        """Pairs (new event, new or consolidated event) of the namespace whose texts match."""
        if not fresh:
            return []
        earlier = set(await store.consolidated_fact_sources(self._database, namespace, STEP_KIND))
        ids, matrix = await self._vectors.vectors_of(earlier | {e.id for e in fresh}, _events_of(namespace))
        rows = np.stack([e.vector for e in fresh])
        row_ids = np.array([e.id for e in fresh], dtype=np.int64)
        # Off the event loop: at 10k events this is a second of matrix products.
        return await asyncio.to_thread(similar_pairs, rows, row_ids, matrix, ids, FACT_MATCH)

    async def _write(self, plan: Plan, run_id: int) -> bool:
        """Write the plan in one transaction, renewing the lease; False when the lease passed to another
        process (this one stalled past it) or the events were taken in meanwhile."""
        async with self._database.transaction() as tx:
            now = time.time()
            if not await store.take_lease(
                tx, self.holder, now, LEASE_SECONDS, _holder_gone
            ) or await store.already_consolidated(tx, plan.event_ids):
                return False
            await write_products(tx, plan, run_id, self._embeddings.identity, now)
            await store.mark_consolidated(tx, plan.event_ids, run_id)
        return True

    async def _decay(self, namespace: str | None) -> dict[str, Counter[str]]:
        """Record search usage, compact what decayed (in `namespace`, or all), purge what is past its
        retention; what it did, by namespace. Nothing when the lease passed to another process meanwhile."""
        now = time.time()
        accesses = self._usage.drain()
        chosen = []
        namespace_of: dict[int, str] = {}
        after = (float("-inf"), 0)
        # Every candidate is scored, a page at a time: events that never decay (high importance,
        # often searched) must not hold back the ones behind them.
        while rows := await compaction.compactable(
            self._database,
            namespace,
            now - self.policy.compaction_age_days * 86_400,
            self.policy.flashbulb_importance,
            after,
            COMPACTION_PAGE,
        ):
            after = (rows[-1]["occurred_at"], rows[-1]["id"])
            for row in rows:
                score = importance_score(
                    row["importance"],
                    row["occurred_at"],
                    row["last_accessed_at"],
                    row["access_count"] + accesses.get(row["id"], (0, 0.0))[0],
                    row["helpful"],
                    row["unhelpful"],
                    now,
                )
                if score < COMPACT_BELOW:
                    chosen.append((int(row["id"]), int(row["digest_id"]), score))
                    namespace_of[int(row["id"])] = row["namespace"]
        async with self._database.transaction() as tx:
            await compaction.record_usage(tx, accesses)
            if not await store.take_lease(tx, self.holder, now, LEASE_SECONDS, _holder_gone):
                return {}
            compacted = await compaction.compact(tx, chosen, now, now + self.policy.retention_days * 86_400)
            purged = await compaction.purge_expired(tx, now, namespace)
        done: dict[str, Counter[str]] = defaultdict(Counter)
        for memory_id in compacted:
            done[namespace_of[memory_id]]["compacted"] += 1
        for space, count in purged.items():
            done[space]["purged"] += count
        return done


def _events_of(namespace: str) -> MemoryFilter:
    return MemoryFilter(namespaces=(namespace,), systems=("episodic",))


def _event(row: Row, vector: np.ndarray) -> Event:
    return Event(
        id=int(row["id"]),
        namespace=row["namespace"],
        kind=row["kind"],
        content=row["content"],
        session_id=row["session_id"],
        outcome=row["outcome"],
        occurred_at=float(row["occurred_at"]),
        importance=float(row["importance"]),
        vector=vector,
    )


def _unit_key(row: Row) -> tuple[str, str]:
    """A session is taken in whole or not at all; an event without a session stands alone."""
    return (row["namespace"], session_key(row["session_id"], row["id"]))


def _holder_gone(holder: str) -> bool:
    """Whether a lease holder on this machine has exited (killed mid-run), so its lease is void."""
    host, pid, _ = holder.rsplit(":", 2)
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _left_for_later(report: RunReport, settle_seconds: float) -> str | None:
    """Why events were left for later (sessions still settling, events without a vector), or that
    there was nothing to take in; None when the run took events in and left none behind."""
    reasons = []
    if report.settling:
        reasons.append(
            f"Sessions still settling: {report.settling} (the last event of each is younger than "
            f"{settle_seconds:g} s and carries no outcome); record the outcome, or pass "
            "settle_seconds=0, to take them in now."
        )
    if report.waiting_for_vectors:
        reasons.append(
            f"Events waiting for vectors: {report.waiting_for_vectors} (the embedding backlog); "
            "consolidate again once it has caught up."
        )
    if report.events:
        return " ".join(reasons) or None
    if reasons:
        return " ".join(["Nothing taken in.", *reasons])
    return "Nothing to take in: every event is consolidated already."


def _describe(plan: Plan) -> list[str]:
    described = [
        f"procedure {p.name!r}: {len(p.steps)} steps from {p.support} successful sessions"
        for p in plan.procedures
    ]
    described += [
        f"fact {f.content[:120]!r} from {f.sessions} sessions"
        for f in plan.facts
        if f.existing_fact_id is None
    ]
    return described + [f"digest of session {d.session_id} ({len(d.event_ids)} events)" for d in plan.digests]
