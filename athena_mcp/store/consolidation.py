"""SQL of the consolidation worker: pending events, marks, provenance, runs, its lease, candidate
sessions, graph candidates, usage and compaction; and the records of these that the planner reads
and proposes, shared with it (earlier events, sessions as workflows, name pairs)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from athena_mcp.store.database import Database, Row, Transaction

LEASE_KEY = "consolidation_lease"

_EVENT_COLUMNS = "m.id, m.namespace, m.kind, m.content, m.session_id, m.outcome, m.occurred_at, m.importance"
_UNCONSOLIDATED = (
    "m.system = 'episodic' AND m.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM consolidated_events c WHERE c.memory_id = m.id)"
)

# Of a group of events: the last is older than the bound, or the last recorded how the session ended
# (an outcome on an earlier step, such as a failed test run, does not end the session).
_SETTLED = (
    "(max(m.occurred_at) < ? "
    "OR max(m.occurred_at) = max(CASE WHEN m.outcome IS NOT NULL THEN m.occurred_at END))"
)


@dataclass(frozen=True)
class EarlierEvent:
    """An already consolidated event that a new one repeats, and the fact it fed, if any."""

    id: int
    namespace: str
    session_id: str | None
    occurred_at: float
    fact_id: int | None


@dataclass(frozen=True, eq=False)  # compared by identity: it holds an array
class SessionSteps:
    """A session read as a workflow: a candidate for a procedure, or evidence for one."""

    namespace: str
    session_id: str
    outcome: str  # success, failure or partial
    goal: str
    steps: tuple[str, ...]
    step_event_ids: tuple[int, ...]
    event_ids: tuple[int, ...]
    step_embeddings: np.ndarray
    duration: float | None
    ended_at: float


@dataclass(frozen=True)
class PairPlan:
    """Two names mentioned together in the events `event_ids`: a graph candidate."""

    namespace: str
    source_name: str
    target_name: str
    event_ids: tuple[int, ...]


def _namespace_clause(namespace: str | None) -> tuple[str, list[Any]]:
    return ("", []) if namespace is None else (" AND m.namespace = ?", [namespace])


async def pending_events(
    db: Database, namespace: str | None, settled_before: float, max_sessions: int, max_loose: int
) -> list[Row]:
    """Unconsolidated events of up to `max_sessions` whole settled sessions, oldest session first, and
    up to `max_loose` settled events that belong to no session. Settled: the last event is older than
    `settled_before` (a session still being written waits), or its latest event recorded an outcome
    (the session is finished)."""
    where, params = _namespace_clause(namespace)
    sessions = await db.fetchall(
        f"WITH pending AS (SELECT m.namespace, m.session_id FROM memories m WHERE {_UNCONSOLIDATED} "
        f"AND m.session_id IS NOT NULL{where} GROUP BY m.namespace, m.session_id "
        f"HAVING {_SETTLED} ORDER BY max(m.occurred_at), m.session_id LIMIT ?) "
        # The session index, not the namespace one SQLite prefers: 0.03 s instead of 0.7 s a chunk at 10k.
        f"SELECT {_EVENT_COLUMNS} FROM pending p JOIN memories m INDEXED BY memories_by_session "
        "ON m.session_id = p.session_id AND m.namespace = p.namespace "
        f"WHERE m.session_id IS NOT NULL AND {_UNCONSOLIDATED} "
        "ORDER BY m.namespace, m.session_id, m.occurred_at, m.id",
        [*params, settled_before, max_sessions],
    )
    loose = await db.fetchall(
        f"SELECT {_EVENT_COLUMNS} FROM memories m WHERE {_UNCONSOLIDATED} AND m.session_id IS NULL{where} "
        "AND (m.occurred_at < ? OR m.outcome IS NOT NULL) ORDER BY m.occurred_at, m.id LIMIT ?",
        [*params, settled_before, max_loose],
    )
    return [*sessions, *loose]


async def settling(db: Database, namespace: str | None, settled_before: float) -> int:
    """Sessions (an event without a session counts as one) with unconsolidated events that are not
    settled yet: the ones `pending_events` leaves for later."""
    where, params = _namespace_clause(namespace)
    row = await db.fetchone(
        f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {_UNCONSOLIDATED}{where} "
        "GROUP BY m.namespace, m.session_id, CASE WHEN m.session_id IS NULL THEN m.id END "
        f"HAVING NOT ({_SETTLED}))",
        [*params, settled_before],
    )
    return int(row[0]) if row else 0


async def pending_namespaces(db: Database) -> list[str]:
    """The namespaces with events not consolidated yet, settled or not, by name."""
    rows = await db.fetchall(
        f"SELECT DISTINCT m.namespace FROM memories m WHERE {_UNCONSOLIDATED} ORDER BY m.namespace"
    )
    return [row[0] for row in rows]


async def backlog(db: Database, namespace: str | None = None) -> int:
    """Events not consolidated yet."""
    where, params = _namespace_clause(namespace)
    row = await db.fetchone(f"SELECT count(*) FROM memories m WHERE {_UNCONSOLIDATED}{where}", params)
    return int(row[0]) if row else 0


async def consolidated_fact_sources(db: Database, namespace: str, step_kind: str) -> list[int]:
    """Consolidated events of the namespace that can recur as facts (every kind but steps)."""
    rows = await db.fetchall(
        "SELECT c.memory_id FROM consolidated_events c JOIN memories m ON m.id = c.memory_id "
        "WHERE m.namespace = ? AND m.status = 'active' AND m.kind != ?",
        (namespace, step_kind),
    )
    return [int(row[0]) for row in rows]


async def earlier_events(db: Database, namespace: str, ids: Sequence[int]) -> dict[int, EarlierEvent]:
    """The namespace's events among `ids`, each with the active fact it already fed, if any."""
    rows = await db.fetchall(
        "SELECT m.id, m.namespace, m.session_id, m.occurred_at, "
        "(SELECT p.product_id FROM provenance p JOIN memories f ON f.id = p.product_id "
        "WHERE p.product_type = 'memory' AND p.memory_id = m.id AND f.kind = 'fact' AND f.status = 'active' "
        "ORDER BY p.product_id LIMIT 1) FROM memories m "
        "WHERE m.namespace = ? AND m.id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(ids))),
    )
    return {
        int(row[0]): EarlierEvent(int(row[0]), row[1], row[2], float(row[3]), row[4] and int(row[4]))
        for row in rows
    }


async def already_consolidated(tx: Transaction, ids: Sequence[int]) -> int:
    row = await tx.fetchone(
        "SELECT count(*) FROM consolidated_events WHERE memory_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )
    return int(row[0]) if row else 0


async def mark_consolidated(tx: Transaction, ids: Sequence[int], run_id: int) -> None:
    now = time.time()
    await tx.executemany(
        "INSERT INTO consolidated_events (memory_id, run_id, at) VALUES (?, ?, ?)",
        [(memory_id, run_id, now) for memory_id in ids],
    )


Link = tuple[str, int, int]  # (product type, product id, event id)


async def add_provenance(tx: Transaction, links: Iterable[Link], run_id: int) -> None:
    await tx.executemany(
        "INSERT OR IGNORE INTO provenance (product_type, product_id, memory_id, run_id) VALUES (?, ?, ?, ?)",
        [(*link, run_id) for link in dict.fromkeys(links)],
    )


# Candidate sessions


async def candidate_sessions(db: Database, namespace: str) -> list[SessionSteps]:
    rows = await db.fetchall(
        "SELECT namespace, session_id, outcome, goal, steps, step_event_ids, event_ids, step_embeddings, "
        "duration, ended_at FROM candidate_sessions WHERE namespace = ? ORDER BY ended_at",
        (namespace,),
    )
    return [
        SessionSteps(
            namespace=row[0],
            session_id=row[1],
            outcome=row[2],
            goal=row[3],
            steps=tuple(json.loads(row[4])),
            step_event_ids=tuple(json.loads(row[5])),
            event_ids=tuple(json.loads(row[6])),
            step_embeddings=np.frombuffer(row[7], dtype=np.float32).reshape(len(json.loads(row[4])), -1),
            duration=row[8],
            ended_at=row[9],
        )
        for row in rows
    ]


async def save_candidates(tx: Transaction, sessions: Sequence[SessionSteps]) -> None:
    # REPLACE: a session that went on after it was consolidated waits with its latest part.
    await tx.executemany(
        "INSERT OR REPLACE INTO candidate_sessions (namespace, session_id, outcome, goal, steps, "
        "step_event_ids, event_ids, step_embeddings, duration, ended_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                s.namespace,
                s.session_id,
                s.outcome,
                s.goal,
                json.dumps(list(s.steps), ensure_ascii=False),
                json.dumps(list(s.step_event_ids)),
                json.dumps(list(s.event_ids)),
                np.ascontiguousarray(s.step_embeddings, dtype=np.float32).tobytes(),
                s.duration,
                s.ended_at,
            )
            for s in sessions
        ],
    )


async def delete_candidates(tx: Transaction, sessions: Sequence[SessionSteps]) -> None:
    await tx.executemany(
        "DELETE FROM candidate_sessions WHERE namespace = ? AND session_id = ?",
        [(s.namespace, s.session_id) for s in sessions],
    )


async def candidate_count(db: Database, namespace: str) -> int:
    row = await db.fetchone("SELECT count(*) FROM candidate_sessions WHERE namespace = ?", (namespace,))
    return int(row[0]) if row else 0


# Graph candidates


async def add_pairs(
    tx: Transaction, pairs: Sequence[PairPlan], seen_at: float
) -> dict[tuple[str, str, str], int]:
    """Count the pairs' mentions; returns each pair's id by (namespace, source, target)."""
    await tx.executemany(
        "INSERT INTO graph_candidates (namespace, source_name, target_name, support, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, source_name, target_name) DO UPDATE SET "
        "support = support + excluded.support, last_seen = max(last_seen, excluded.last_seen)",
        [(p.namespace, p.source_name, p.target_name, len(p.event_ids), seen_at, seen_at) for p in pairs],
    )
    rows = await tx.fetchall(
        "SELECT g.id, g.namespace, g.source_name, g.target_name FROM json_each(?) j "
        "JOIN graph_candidates g ON g.namespace = j.value ->> 0 AND g.source_name = j.value ->> 1 "
        "AND g.target_name = j.value ->> 2",
        (json.dumps([[p.namespace, p.source_name, p.target_name] for p in pairs], ensure_ascii=False),),
    )
    return {(row[1], row[2], row[3]): int(row[0]) for row in rows}


@dataclass(frozen=True)
class GraphCandidate:
    source_name: str
    target_name: str
    support: int


async def top_pairs(db: Database, namespace: str, limit: int) -> list[GraphCandidate]:
    rows = await db.fetchall(
        "SELECT source_name, target_name, support FROM graph_candidates WHERE namespace = ? "
        "ORDER BY support DESC, id LIMIT ?",
        (namespace, limit),
    )
    return [GraphCandidate(row[0], row[1], int(row[2])) for row in rows]


# Runs and the lease


async def take_lease(
    tx: Transaction, holder: str, now: float, seconds: float, holder_gone: Callable[[str], bool]
) -> bool:
    """Hold the right to consolidate for `seconds`, unless another holder has it that has not
    expired and is not `holder_gone` (a process that died mid-run leaves its lease behind)."""
    row = await tx.fetchone("SELECT value FROM store_meta WHERE key = ?", (LEASE_KEY,))
    if row is not None:
        lease = json.loads(row[0])
        if lease["holder"] != holder and lease["until"] > now and not holder_gone(lease["holder"]):
            return False
    await tx.execute(
        "INSERT INTO store_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (LEASE_KEY, json.dumps({"holder": holder, "until": now + seconds})),
    )
    # Runs left 'running' by a holder whose lease lapsed were killed mid-way.
    await tx.execute(
        "UPDATE consolidation_runs SET status = 'interrupted', finished_at = ? "
        "WHERE status = 'running' AND holder != ?",
        (now, holder),
    )
    return True


async def release_lease(tx: Transaction, holder: str) -> None:
    await tx.execute(
        "DELETE FROM store_meta WHERE key = ? AND json_extract(value, '$.holder') = ?", (LEASE_KEY, holder)
    )


async def start_run(tx: Transaction, trigger: str, holder: str, now: float, namespace: str | None) -> int:
    """Record a run limited to `namespace`, or over every namespace (None)."""
    return await tx.execute(
        "INSERT INTO consolidation_runs (trigger, holder, status, started_at, namespace) "
        "VALUES (?, ?, 'running', ?, ?)",
        (trigger, holder, now, namespace),
    )


async def finish_run(
    tx: Transaction,
    run_id: int,
    status: str,
    by_namespace: Mapping[str, Mapping[str, int]],
    error: str | None,
) -> None:
    """Record how the run ended and what it produced in each namespace (the run's report is their sum)."""
    total: Counter[str] = Counter()
    for report in by_namespace.values():
        total.update(report)
    await tx.execute(
        "UPDATE consolidation_runs SET status = ?, finished_at = ?, report = ?, error = ? WHERE id = ?",
        (status, time.time(), json.dumps(dict(total)), error, run_id),
    )
    await tx.executemany(
        "INSERT OR REPLACE INTO consolidation_run_namespaces (run_id, namespace, report) VALUES (?, ?, ?)",
        [(run_id, namespace, json.dumps(dict(report))) for namespace, report in by_namespace.items()],
    )


async def recent_runs(db: Database, namespace: str, limit: int) -> list[Row]:
    """The latest runs limited to the namespace or over every namespace, each with what it produced in
    this namespace only (an empty report when nothing)."""
    return await db.fetchall(
        "SELECT r.id, r.trigger, r.status, r.started_at, r.finished_at, coalesce(n.report, '{}') AS report, "
        "r.error FROM consolidation_runs r LEFT JOIN consolidation_run_namespaces n "
        "ON n.run_id = r.id AND n.namespace = :namespace "
        "WHERE r.namespace IS NULL OR r.namespace = :namespace ORDER BY r.id DESC LIMIT :limit",
        {"namespace": namespace, "limit": limit},
    )


@dataclass(frozen=True)
class Lineage:
    """Where a memory came from and what was made of it, as provenance records it."""

    sources: list[int]  # events a consolidation product was made from
    products: list[tuple[str, int]]  # (product type, id) made from this event


async def sources_of(db: Database, memory_ids: Sequence[int]) -> dict[int, set[int]]:
    """For each of `memory_ids` that is a consolidation product (a fact or digest made from events),
    the events it came from; other memories are left out."""
    rows = await db.fetchall(
        "SELECT product_id, memory_id FROM provenance WHERE product_type = 'memory' "
        "AND product_id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(memory_ids)),),
    )
    sources: dict[int, set[int]] = {}
    for product_id, memory_id in rows:
        sources.setdefault(int(product_id), set()).add(int(memory_id))
    return sources


async def lineage(db: Database, memory_id: int, limit: int) -> Lineage:
    sources = await db.fetchall(
        "SELECT memory_id FROM provenance WHERE product_type = 'memory' AND product_id = ? "
        "ORDER BY memory_id LIMIT ?",
        (memory_id, limit),
    )
    products = await db.fetchall(
        "SELECT product_type, product_id FROM provenance WHERE memory_id = ? "
        "ORDER BY product_type, product_id LIMIT ?",
        (memory_id, limit),
    )
    return Lineage([int(row[0]) for row in sources], [(row[0], int(row[1])) for row in products])
