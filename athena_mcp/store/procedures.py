"""SQL for procedures and their runs (schema/0003_procedural.sql).

Statistics are updated in the transaction that records a run, with the procedure's confidence
(models.confidence, the domain's rule) kept beside them for ranking and sorting.

Every insert and update sets `revision` to the table's maximum plus one. Writers are serialised, so
revisions grow in commit order and a reader that has seen up to revision R finds everything changed
since by asking for revision > R: that is how each process's search copy (procedure_mirror.py)
stays current with what other processes write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from athena_mcp.models import (
    Procedure,
    ProcedureRun,
    ProcedureStats,
    confidence,
    to_datetime,
    to_datetime_or_none,
)
from athena_mcp.store import fts
from athena_mcp.store.database import Database, Row, Transaction

_COLUMNS = (
    "id, namespace, name, goal, steps, preconditions, expected_outcome, tags, origin, status, validation, "
    "source_session_id, source_event_ids, runs, successes, failures, timed_runs, total_duration, "
    "confidence, last_used_at, created_at, updated_at, retired_at, retire_reason"
)
_NEXT_REVISION = "(SELECT coalesce(max(revision), 0) + 1 FROM procedures)"
# BM25 weights of the indexed columns: name, goal, steps, tags. The name and goal say what a
# procedure is for, which is what a search for a goal asks; steps mention tools and files in
# passing. Chosen by judgement: there is no procedure benchmark to tune them on.
_INDEX = fts.RankedIndex("procedures_fts", "procedures", "p", "2.0, 2.0, 1.0, 1.0")
# What list_page sorts by, each descending; id last so that the order is total. Effectiveness is the
# observed success rate (a procedure never run comes last), then the number of runs behind it.
SORT_KEYS = {
    "effectiveness": (
        "CASE WHEN runs = 0 THEN -1.0 ELSE (successes + 0.5 * (runs - successes - failures)) / runs END",
        "runs",
        "id",
    ),
    "confidence": ("confidence", "runs", "id"),
    "recency": ("coalesce(last_used_at, created_at)", "id"),
}


@dataclass(frozen=True)
class NewProcedure:
    namespace: str
    name: str
    goal: str
    steps: tuple[str, ...]
    preconditions: tuple[str, ...] = ()
    expected_outcome: str | None = None
    tags: tuple[str, ...] = ()
    origin: str = "saved"
    embedding: np.ndarray | None = None
    step_embeddings: np.ndarray | None = None
    source_session_id: str | None = None
    source_event_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProcedureQuery:
    """Which procedures a listing shows."""

    namespace: str
    statuses: tuple[str, ...] = ("active",)
    origin: str | None = None
    tags: tuple[str, ...] = ()  # every listed tag must be present


@dataclass(frozen=True)
class MissingVectors:
    """A procedure whose vectors are not computed yet, with the texts that are missing theirs."""

    procedure_id: int
    texts: list[str]
    whole: bool  # texts[0] is the whole procedure's text
    steps: int  # the last `steps` texts are its steps


def embedding_texts(name: str, goal: str, steps: Sequence[str]) -> list[str]:
    """The texts whose vectors a procedure stores, in order: the whole procedure, then each step. Name
    and goal come first in the whole, because an embedder truncates a long text at its end."""
    return ["\n".join([f"{name}: {goal}", *steps]), *steps]


async def name_taken(db: Database | Transaction, namespace: str, name: str) -> bool:
    """Whether a procedure of that name (any status, letter case ignored) exists in the namespace."""
    return await named(db, namespace, name) is not None


async def insert_procedure(tx: Transaction, procedure: NewProcedure) -> int:
    """Store a new procedure with no runs (confidence 0.5). Its name must be free in its namespace
    (checked by the caller in the same transaction; the unique index refuses it otherwise)."""
    now = time.time()
    return await tx.execute(
        "INSERT INTO procedures (namespace, name, goal, steps, preconditions, expected_outcome, tags, "
        "origin, source_session_id, source_event_ids, confidence, created_at, updated_at, revision, "
        f"embedding, step_embeddings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_REVISION}, ?, ?)",
        (
            procedure.namespace,
            procedure.name,
            procedure.goal,
            _json(procedure.steps),
            _json(procedure.preconditions),
            procedure.expected_outcome,
            _json(procedure.tags),
            procedure.origin,
            procedure.source_session_id,
            _json(procedure.source_event_ids),
            confidence(0, 0, 0),
            now,
            now,
            _blob(procedure.embedding),
            _blob(procedure.step_embeddings),
        ),
    )


async def get_procedures(db: Database | Transaction, ids: Sequence[int]) -> dict[int, Procedure]:
    if not ids:
        return {}
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM procedures WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )
    return {int(row["id"]): procedure_from_row(row) for row in rows}


async def get_procedure(db: Database | Transaction, namespace: str, procedure_id: int) -> Procedure | None:
    """The namespace's procedure `procedure_id`; None when it does not exist there (here or anywhere
    else: the two read alike, so that an id never tells a caller about another namespace)."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM procedures WHERE id = ? AND namespace = ?", (procedure_id, namespace)
    )
    return None if row is None else procedure_from_row(row)


async def add_run(
    tx: Transaction,
    procedure_id: int,
    *,
    source: str,
    outcome: str,
    duration: float | None = None,
    notes: str | None = None,
    session_id: str | None = None,
    event_ids: Sequence[int] = (),
) -> bool:
    """Record one run of an existing procedure and update its statistics and confidence with it.
    False, changing nothing, when a run from that session is already recorded for the procedure."""
    row = await tx.fetchone("SELECT runs, successes, failures FROM procedures WHERE id = ?", (procedure_id,))
    if row is None:
        raise LookupError(f"add_run: no procedure {procedure_id}; callers look it up first")
    if session_id is not None and await tx.fetchone(
        "SELECT 1 FROM procedure_runs WHERE procedure_id = ? AND session_id = ?", (procedure_id, session_id)
    ):
        return False
    now = time.time()
    await tx.execute(
        "INSERT INTO procedure_runs (procedure_id, source, outcome, duration, notes, session_id, event_ids, "
        "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (procedure_id, source, outcome, duration, notes, session_id, _json(event_ids), now),
    )
    runs = row["runs"] + 1
    successes = row["successes"] + (outcome == "success")
    failures = row["failures"] + (outcome == "failure")
    await tx.execute(
        "UPDATE procedures SET runs = ?, successes = ?, failures = ?, timed_runs = timed_runs + ?, "
        "total_duration = total_duration + ?, confidence = ?, last_used_at = ?, updated_at = ?, "
        f"revision = {_NEXT_REVISION} WHERE id = ?",
        (
            runs,
            successes,
            failures,
            int(duration is not None),
            duration or 0.0,
            confidence(successes, failures, runs),
            now,
            now,
            procedure_id,
        ),
    )
    return True


async def recent_runs(db: Database, procedure_id: int, limit: int) -> list[ProcedureRun]:
    """The procedure's last `limit` runs, newest first."""
    rows = await db.fetchall(
        "SELECT id, source, outcome, duration, notes, session_id, event_ids, recorded_at FROM procedure_runs "
        "WHERE procedure_id = ? ORDER BY recorded_at DESC, id DESC LIMIT ?",
        (procedure_id, limit),
    )
    return [
        ProcedureRun(
            id=row["id"],
            source=row["source"],
            outcome=row["outcome"],
            duration=row["duration"],
            notes=row["notes"],
            session_id=row["session_id"],
            event_ids=json.loads(row["event_ids"]),
            recorded_at=to_datetime(row["recorded_at"]),
        )
        for row in rows
    ]


async def evidence(db: Database, procedure_id: int, limit: int) -> tuple[list[str], list[int]]:
    """The distinct sessions and events the procedure was written from or seen in, newest runs first
    after its own source; at most `limit` of each."""
    sources = (
        "SELECT 0 AS rank, source_session_id AS session_id, source_event_ids AS event_ids FROM procedures "
        "WHERE id = :id UNION ALL SELECT row_number() OVER (ORDER BY recorded_at DESC, id DESC), "
        "session_id, event_ids FROM procedure_runs WHERE procedure_id = :id"
    )
    sessions = await db.fetchall(
        f"SELECT session_id FROM ({sources}) WHERE session_id IS NOT NULL "
        "GROUP BY session_id ORDER BY min(rank) LIMIT :limit",
        {"id": procedure_id, "limit": limit},
    )
    events = await db.fetchall(
        f"SELECT e.value FROM ({sources}) s, json_each(s.event_ids) e "
        "GROUP BY e.value ORDER BY min(s.rank), min(e.key) LIMIT :limit",
        {"id": procedure_id, "limit": limit},
    )
    return [row[0] for row in sessions], [int(row[0]) for row in events]


async def set_status(tx: Transaction, procedure_id: int, status: str, reason: str | None) -> None:
    now = time.time()
    await tx.execute(
        "UPDATE procedures SET status = ?, retired_at = ?, retire_reason = ?, updated_at = ?, "
        f"revision = {_NEXT_REVISION} WHERE id = ?",
        (status, now if status == "retired" else None, reason, now, procedure_id),
    )


async def set_validation(tx: Transaction, procedure_id: int, validation: str) -> None:
    """Record System 2's verdict on a learned procedure: unvalidated, validated or rejected."""
    await tx.execute(
        f"UPDATE procedures SET validation = ?, updated_at = ?, revision = {_NEXT_REVISION} WHERE id = ?",
        (validation, time.time(), procedure_id),
    )


async def list_page(
    db: Database, query: ProcedureQuery, sort: str, after_id: int | None, limit: int
) -> list[Procedure]:
    """Best first by `sort` (a key of SORT_KEYS), keyset-paginated after the procedure `after_id`.

    The position is that procedure's current sort key: a procedure whose statistics changed between
    two pages may be shown twice or skipped, as with any live ranking."""
    key = ", ".join(SORT_KEYS[sort])
    where = [
        "namespace = ?",
        f"status IN ({', '.join('?' * len(query.statuses))})",
    ]
    params: list[Any] = [query.namespace, *query.statuses]
    if query.origin is not None:
        where.append("origin = ?")
        params.append(query.origin)
    if query.tags:
        where.append(
            f"(SELECT count(DISTINCT value) FROM json_each(tags) WHERE value IN "
            f"({', '.join('?' * len(query.tags))})) = ?"
        )
        params += [*query.tags, len(set(query.tags))]
    if after_id is not None:
        # Unqualified names in the subquery resolve to its own row: the cursor's procedure, looked up
        # in the namespace only (another's gives no position, as an unknown id does).
        where.append(f"({key}) < (SELECT {key} FROM procedures WHERE id = ? AND namespace = ?)")
        params += [after_id, query.namespace]
    descending = ", ".join(f"{part} DESC" for part in SORT_KEYS[sort])
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM procedures WHERE {' AND '.join(where)} ORDER BY {descending} LIMIT ?",
        [*params, limit],
    )
    return [procedure_from_row(row) for row in rows]


async def lexical_search(
    db: Database, query: str, namespace: str, statuses: Sequence[str], k: int
) -> list[tuple[int, float]]:
    """Top-k procedures of the namespace by BM25 over name, goal, steps and tags: (id, score, higher
    is better). The query is cut into literal terms (fts.match_expression), never read as FTS5 syntax.

    As for memories (fts.lexical_search), the index ranks its best matches on its own and only those
    are checked against the namespace and status, unless too few of them pass: at 10k procedures of
    real text, joining every match to its row took several times longer."""
    expression = fts.match_expression(query)
    if expression is None:
        return []
    where = f"p.namespace = ? AND p.status IN ({', '.join('?' * len(statuses))})"
    return await fts.ranked_matches(db, _INDEX, expression, where, [namespace, *statuses], k)


async def changes_since(db: Database, namespace: str, revision: int) -> list[Row]:
    """The namespace's procedures changed after `revision`, in revision order, with what a search copy
    holds: id, revision, status, confidence, last_used_at, created_at, embedding."""
    return await db.fetchall(
        "SELECT id, revision, status, confidence, last_used_at, created_at, embedding FROM procedures "
        "WHERE namespace = ? AND revision > ? ORDER BY revision",
        (namespace, revision),
    )


async def missing_vectors(db: Database, limit: int, skip: Sequence[int] = ()) -> list[MissingVectors]:
    """Up to `limit` procedures (any status, oldest first, none of `skip`) with a vector not computed."""
    rows = await db.fetchall(
        "SELECT id, name, goal, steps, embedding IS NULL, step_embeddings IS NULL FROM procedures "
        "WHERE (embedding IS NULL OR step_embeddings IS NULL) "
        "AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?",
        (json.dumps(list(skip)), limit),
    )
    found = []
    for row in rows:
        steps = json.loads(row["steps"])
        whole, *step_texts = embedding_texts(row["name"], row["goal"], steps)
        texts = ([whole] if row[4] else []) + (step_texts if row[5] else [])
        found.append(MissingVectors(int(row["id"]), texts, bool(row[4]), len(steps) if row[5] else 0))
    return found


async def store_vectors(
    tx: Transaction, procedure_id: int, embedding: np.ndarray | None, step_embeddings: np.ndarray | None
) -> None:
    """Fill in whichever of the procedure's vectors are still missing; vectors already there stay."""
    await tx.execute(
        "UPDATE procedures SET embedding = coalesce(embedding, ?), "
        f"step_embeddings = coalesce(step_embeddings, ?), revision = {_NEXT_REVISION} "
        "WHERE id = ? AND (embedding IS NULL OR step_embeddings IS NULL)",
        (_blob(embedding), _blob(step_embeddings), procedure_id),
    )


async def clear_vectors(tx: Transaction) -> None:
    """Drop every procedure's vectors (the embedding model changed); the vector worker recomputes them."""
    # Adding the old maximum keeps revisions unique and moves every changed row past what any
    # search copy has seen.
    await tx.execute(
        "UPDATE procedures SET embedding = NULL, step_embeddings = NULL, "
        "revision = revision + (SELECT max(revision) FROM procedures) "
        "WHERE embedding IS NOT NULL OR step_embeddings IS NOT NULL"
    )


async def step_embeddings(db: Database | Transaction, namespace: str) -> list[tuple[int, np.ndarray]]:
    """The namespace's active procedures that have step vectors: (id, steps x dimension float32)."""
    rows = await db.fetchall(
        "SELECT id, json_array_length(steps), step_embeddings FROM procedures "
        "WHERE namespace = ? AND status = 'active' AND step_embeddings IS NOT NULL ORDER BY id",
        (namespace,),
    )
    return [(int(row[0]), np.frombuffer(row[2], dtype=np.float32).reshape(row[1], -1)) for row in rows]


def procedure_from_row(row: Row) -> Procedure:
    runs, successes, failures = row["runs"], row["successes"], row["failures"]
    partials = runs - successes - failures
    return Procedure(
        id=row["id"],
        namespace=row["namespace"],
        name=row["name"],
        goal=row["goal"],
        steps=json.loads(row["steps"]),
        preconditions=json.loads(row["preconditions"]),
        expected_outcome=row["expected_outcome"],
        tags=json.loads(row["tags"]),
        origin=row["origin"],
        status=row["status"],
        validation=row["validation"],
        source_session_id=row["source_session_id"],
        source_event_ids=json.loads(row["source_event_ids"]),
        stats=ProcedureStats(
            runs=runs,
            successes=successes,
            failures=failures,
            partials=partials,
            success_rate=(successes + partials / 2) / runs if runs else None,
            confidence=row["confidence"],
            mean_duration=row["total_duration"] / row["timed_runs"] if row["timed_runs"] else None,
            last_used_at=to_datetime_or_none(row["last_used_at"]),
        ),
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        retired_at=to_datetime_or_none(row["retired_at"]),
        retire_reason=row["retire_reason"],
    )


async def named(db: Database | Transaction, namespace: str, name: str) -> tuple[int, str, str] | None:
    """(id, status, name as stored) of the namespace's procedure of that name, letter case ignored."""
    """(id, status, name as stored) of the procedure with that name, letter case ignored."""
    row = await db.fetchone(
        "SELECT id, status, name FROM procedures WHERE namespace = ? AND name = ?", (namespace, name)
    )
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def _json(values: Sequence[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _blob(matrix: np.ndarray | None) -> bytes | None:
    return None if matrix is None else np.ascontiguousarray(matrix, dtype=np.float32).tobytes()
