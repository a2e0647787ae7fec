"""SQL for the canonical `memories` table, its tags and its version history."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from athena_mcp.errors import StoreFault
from athena_mcp.models import Memory, MemoryVersion, to_datetime
from athena_mcp.store.database import Database, Row, Transaction
from athena_mcp.store.filters import MemoryFilter

T = TypeVar("T")

_COLUMNS = (
    "id, system, namespace, kind, content, tags, importance, source, session_id, outcome, context, "
    "occurred_at, created_at, updated_at, version, status, forget_reason, origin"
)

# Rows of a batch sent to SQLite's thread in one call (insert_memories).
INSERT_SLICE = 8


@dataclass(frozen=True)
class NewMemory:
    system: str
    namespace: str
    kind: str
    content: str
    tags: tuple[str, ...] = ()
    importance: float = 0.5
    source: str | None = None
    session_id: str | None = None
    outcome: str | None = None
    context: dict[str, Any] | None = None
    occurred_at: float | None = None


def content_hash(content: str) -> str:
    """Identity of a fact's text for exact-duplicate detection (surrounding whitespace ignored)."""
    return hashlib.sha256(content.strip().encode("utf-8")).hexdigest()


async def insert_memories(tx: Transaction, memories: Sequence[NewMemory]) -> list[int]:
    """Insert the memories; their ids, in order. Rows go to SQLite's thread a slice at a time, not one
    call each: at 256 events a call, the round trips were a twentieth of a batch's time."""
    now = time.time()
    # Read inside the write transaction, so no other writer can add rows meanwhile: each new row
    # then takes the next id above this (SQLite gives an INTEGER PRIMARY KEY left out max(id) + 1).
    last = await tx.fetchone("SELECT coalesce(max(id), 0) FROM memories")
    rows = [
        (
            memory.system,
            memory.namespace,
            memory.kind,
            memory.content,
            content_hash(memory.content),
            _tags_json(memory.tags),
            memory.importance,
            memory.source,
            memory.session_id,
            memory.outcome,
            None if memory.context is None else json.dumps(memory.context, allow_nan=False),
            now if memory.occurred_at is None else memory.occurred_at,
            now,
            now,
        )
        for memory in memories
    ]
    # In slices, so that a call cancelled meanwhile (its client gone) stops within a slice and
    # frees the writer: one call of 40 rows held it through every row on a slow disk.
    for start in range(0, len(rows), INSERT_SLICE):
        await tx.executemany(
            "INSERT INTO memories (system, namespace, kind, content, content_hash, tags, importance, "
            "source, session_id, outcome, context, occurred_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows[start : start + INSERT_SLICE],
        )
    found = await tx.fetchall("SELECT id FROM memories WHERE id > ? ORDER BY id", (last[0] if last else 0,))
    ids = [int(row[0]) for row in found]
    if len(ids) != len(memories):
        # Only when ids ran out (SQLite then picks free ones at random): never silently misnumber.
        raise StoreFault("The memory database has run out of ids in order; nothing was written.")
    await _write_tags(tx, [(memory_id, memory.tags) for memory_id, memory in zip(ids, memories, strict=True)])
    await refresh_preceding(
        tx,
        [
            memory_id
            for memory_id, memory in zip(ids, memories, strict=True)
            if memory.system == "episodic" and memory.session_id is not None
        ],
    )
    return ids


async def active_fact_with_content(db: Database | Transaction, namespace: str, content: str) -> int | None:
    row = await db.fetchone(
        "SELECT id FROM memories WHERE namespace = ? AND content_hash = ? AND system = 'semantic' "
        "AND status = 'active'",
        (namespace, content_hash(content)),
    )
    return None if row is None else int(row[0])


async def get_memories(db: Database | Transaction, ids: Sequence[int]) -> dict[int, Memory]:
    if not ids:
        return {}
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM memories WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(ids)),),
    )
    return {int(row["id"]): memory_from_row(row) for row in rows}


async def get_memory(db: Database | Transaction, namespace: str, memory_id: int) -> Memory | None:
    """The namespace's memory `memory_id`; None when it does not exist there (here or anywhere else: the
    two read alike, so that an id never tells a caller about another namespace)."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM memories WHERE id = ? AND namespace = ?", (memory_id, namespace)
    )
    return None if row is None else memory_from_row(row)


async def events_in(db: Database | Transaction, namespace: str, ids: Sequence[int]) -> set[int]:
    """Which of `ids` are events (any status) of the namespace."""
    rows = await db.fetchall(
        "SELECT id FROM memories WHERE namespace = ? AND system = 'episodic' "
        "AND id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(ids))),
    )
    return {int(row[0]) for row in rows}


@dataclass(frozen=True)
class FactChanges:
    """New values for a fact's fields; None leaves a field as it is."""

    content: str | None = None
    kind: str | None = None
    tags: tuple[str, ...] | None = None
    importance: float | None = None
    source: str | None = None

    def against(self, current: Memory) -> FactChanges:
        """Only the changes that differ from `current`."""
        return FactChanges(
            content=_differing(self.content, current.content),
            kind=_differing(self.kind, current.kind),
            tags=_differing(self.tags, tuple(current.tags)),
            importance=_differing(self.importance, current.importance),
            source=_differing(self.source, current.source),
        )

    def __bool__(self) -> bool:
        return self != FactChanges()


def _differing(new: T | None, current: T | None) -> T | None:
    return None if new == current else new


async def update_memory(
    tx: Transaction, current: Memory, changes: FactChanges, change_reason: str | None
) -> None:
    """Keep the current state as a version, then apply `changes` as the next one."""
    now = time.time()
    await tx.execute(
        "INSERT INTO memory_versions (memory_id, version, kind, content, tags, importance, source, "
        "valid_from, superseded_at, change_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            current.id,
            current.version,
            current.kind,
            current.content,
            _tags_json(current.tags),
            current.importance,
            current.source,
            current.updated_at.timestamp(),
            now,
            change_reason,
        ),
    )
    if changes.tags is not None:
        await tx.execute("DELETE FROM memory_tags WHERE memory_id = ?", (current.id,))
        await _write_tags(tx, [(current.id, changes.tags)])
    await tx.execute(
        "UPDATE memories SET content = coalesce(?, content), content_hash = coalesce(?, content_hash), "
        "kind = coalesce(?, kind), tags = coalesce(?, tags), importance = coalesce(?, importance), "
        "source = coalesce(?, source), version = version + 1, updated_at = ? WHERE id = ?",
        (
            changes.content,
            None if changes.content is None else content_hash(changes.content),
            changes.kind,
            None if changes.tags is None else _tags_json(changes.tags),
            changes.importance,
            changes.source,
            now,
            current.id,
        ),
    )


async def set_status(tx: Transaction, memory_id: int, status: str, reason: str | None) -> None:
    await set_statuses(tx, [(memory_id, reason)], status)


async def set_statuses(tx: Transaction, changes: Sequence[tuple[int, str | None]], status: str) -> None:
    """Give these memories (id, reason) the status, then bring the preceding text up to date once:
    once per memory, folding an 8,000-event session into its digest took 4.6 s instead of 0.8."""
    forgotten_at = time.time() if status == "forgotten" else None
    await tx.executemany(
        "UPDATE memories SET status = ?, forgotten_at = ?, forget_reason = ? WHERE id = ?",
        [(status, forgotten_at, reason, memory_id) for memory_id, reason in changes],
    )
    await refresh_preceding(tx, [memory_id for memory_id, _ in changes])


async def versions(db: Database, memory_id: int) -> list[MemoryVersion]:
    rows = await db.fetchall(
        "SELECT version, content, kind, tags, importance, source, valid_from, superseded_at, change_reason "
        "FROM memory_versions WHERE memory_id = ? ORDER BY version",
        (memory_id,),
    )
    return [
        MemoryVersion(
            version=row["version"],
            content=row["content"],
            kind=row["kind"],
            tags=json.loads(row["tags"]),
            importance=row["importance"],
            source=row["source"],
            valid_from=to_datetime(row["valid_from"]),
            superseded_at=to_datetime(row["superseded_at"]),
            change_reason=row["change_reason"],
        )
        for row in rows
    ]


async def list_page(
    db: Database, memory_filter: MemoryFilter, before_id: int | None, limit: int
) -> list[Memory]:
    """Newest first, keyset-paginated by id."""
    where, params = memory_filter.memory_clause("m")
    if before_id is not None:
        where += " AND m.id < ?"
        params.append(before_id)
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m WHERE {where} ORDER BY m.id DESC LIMIT ?",
        [*params, limit],
    )
    return [memory_from_row(row) for row in rows]


async def timeline_page(
    db: Database, memory_filter: MemoryFilter, after_id: int | None, limit: int
) -> list[Memory]:
    """Chronological (timestamp, then id), keyset-paginated after the memory `after_id`."""
    where, params = memory_filter.memory_clause("m")
    if after_id is not None:
        # The stored timestamp itself, not a rounded copy carried in the cursor, marks the position.
        # Read only in the namespaces listed: a cursor naming another's event finds no position.
        where += (
            " AND (m.occurred_at, m.id) > ((SELECT x.occurred_at FROM memories x WHERE x.id = ? AND "
            "x.namespace IN (SELECT value FROM json_each(?))), ?)"
        )
        params += [after_id, json.dumps(list(memory_filter.namespaces)), after_id]
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m WHERE {where} ORDER BY m.occurred_at, m.id LIMIT ?",
        [*params, limit],
    )
    return [memory_from_row(row) for row in rows]


async def leading_facts(db: Database, namespaces: Sequence[str], limit: int) -> list[Memory]:
    """Active facts, most important first, then the latest; session digests are left out."""
    marks = ", ".join("?" * len(namespaces))
    rows = await db.fetchall(
        f"SELECT {selected_columns('m')} FROM memories m WHERE m.namespace IN ({marks}) "
        "AND m.system = 'semantic' AND m.status = 'active' AND NOT EXISTS (SELECT 1 FROM memory_tags t "
        "WHERE t.memory_id = m.id AND t.tag = 'digest') "
        "ORDER BY m.importance DESC, m.updated_at DESC LIMIT ?",
        [*namespaces, limit],
    )
    return [memory_from_row(row) for row in rows]


# The active events of event m's session and namespace (the events x around it).
_SAME_SESSION = (
    "x.session_id = m.session_id AND x.namespace = m.namespace AND x.system = 'episodic' "
    "AND x.status = 'active'"
)
_SESSIONED = "m.system = 'episodic' AND m.session_id IS NOT NULL"
_NEIGHBOUR = (
    f"(SELECT x.id FROM memories x WHERE {_SAME_SESSION} "
    "AND (x.occurred_at, x.id) {op} (m.occurred_at, m.id) "
    "ORDER BY x.occurred_at {order}, x.id {order} LIMIT 1 OFFSET {offset})"
)


@cache
def adjacent_events_sql(reach: int) -> str:
    """Columns: the id, then for each distance 1..reach the event that far before and the one that
    far after. `x.session_id = m.session_id` (not IS) lets SQLite walk the session index instead of
    every event of the namespace: 2 ms instead of 50 ms for 100 events at 10k."""
    neighbours = ", ".join(
        _NEIGHBOUR.format(op=op, order=order, offset=offset)
        for offset in range(reach)
        for op, order in (("<", "DESC"), (">", "ASC"))
    )
    return (
        f"SELECT m.id, {neighbours} FROM memories m WHERE m.id IN (SELECT value FROM json_each(?)) "
        f"AND {_SESSIONED}"
    )


async def adjacent_events(db: Database, ids: Sequence[int], reach: int) -> dict[int, list[tuple[int, int]]]:
    """For each event among `ids` that has a session: the active events up to `reach` places before
    and after it in that session and namespace (timestamp, then id), as (id, distance). Facts and
    session-less events are left out."""
    rows = await db.fetchall(adjacent_events_sql(reach), (json.dumps(list(ids)),))
    return {
        int(row[0]): [
            (int(neighbour), 1 + column // 2)
            for column, neighbour in enumerate(list(row)[1:])
            if neighbour is not None
        ]
        for row in rows
    }


# The lexical index reads each event beside the text of the active events just before it in its
# session (schema/0013_preceding_context.sql): this many of them.
PRECEDING_REACH = 2
# A forgotten event keeps no one's text: what it held must go when that event is purged.
_PRECEDING_TEXT = (
    "CASE WHEN m.status = 'active' THEN (SELECT group_concat(x.content, char(10)) FROM (SELECT x.content "
    f"FROM memories x WHERE {_SAME_SESSION} AND (x.occurred_at, x.id) < (m.occurred_at, m.id) "
    f"ORDER BY x.occurred_at DESC, x.id DESC LIMIT {PRECEDING_REACH}) x) END"
)


async def refresh_preceding(tx: Transaction, ids: Sequence[int]) -> None:
    """Bring the preceding text of these events, and of the events whose preceding text may hold
    theirs (the PRECEDING_REACH active ones after each), up to date: after events arrive, are
    forgotten or come back. Only rows whose text changes are written, so the index is touched once."""
    if not ids:
        return
    followers = await tx.fetchall(
        f"SELECT DISTINCT f.id FROM memories m JOIN memories f ON f.id IN (SELECT x.id FROM memories x "
        f"WHERE {_SAME_SESSION} AND (x.occurred_at, x.id) > (m.occurred_at, m.id) "
        f"ORDER BY x.occurred_at, x.id LIMIT {PRECEDING_REACH}) "
        f"WHERE m.id IN (SELECT value FROM json_each(?)) AND {_SESSIONED}",
        (json.dumps(list(ids)),),
    )
    every = sorted({*ids, *(int(row[0]) for row in followers)})
    await _write_preceding(tx, "m.id IN (SELECT value FROM json_each(?))", [json.dumps(every)])


async def rebuild_preceding(tx: Transaction) -> None:
    """Recompute every event's preceding text (doctor --repair)."""
    await _write_preceding(tx, "1", [])


async def _write_preceding(tx: Transaction, which: str, params: list[Any]) -> None:
    await tx.execute(
        f"UPDATE memories SET preceding = fresh.text FROM (SELECT m.id, {_PRECEDING_TEXT} AS text "
        f"FROM memories m WHERE {which} AND {_SESSIONED}) AS fresh "
        "WHERE memories.id = fresh.id AND memories.preceding IS NOT fresh.text",
        params,
    )


async def ids_matching(
    db: Database | Transaction, ids: Sequence[int], memory_filter: MemoryFilter
) -> set[int]:
    """Which of `ids` pass the filter."""
    if not ids:
        return set()
    where, params = memory_filter.memory_clause("m")
    rows = await db.fetchall(
        f"SELECT m.id FROM memories m WHERE m.id IN (SELECT value FROM json_each(?)) AND {where}",
        [json.dumps(list(ids)), *params],
    )
    return {int(row[0]) for row in rows}


async def all_ids_matching(db: Database, memory_filter: MemoryFilter) -> set[int]:
    """Every memory that passes the filter."""
    where, params = memory_filter.memory_clause("m")
    rows = await db.fetchall(f"SELECT m.id FROM memories m WHERE {where}", params)
    return {int(row[0]) for row in rows}


def memory_from_row(row: Row) -> Memory:
    episodic = row["system"] == "episodic"
    return Memory(
        id=row["id"],
        content=row["content"],
        system=row["system"],
        kind=row["kind"],
        namespace=row["namespace"],
        tags=json.loads(row["tags"]),
        importance=row["importance"],
        source=row["source"],
        timestamp=to_datetime(row["occurred_at"]),
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        status=row["status"],
        version=row["version"],
        event_type=row["kind"] if episodic else None,
        session_id=row["session_id"],
        outcome=row["outcome"],
        context=None if row["context"] is None else json.loads(row["context"]),
        forget_reason=row["forget_reason"],
        origin=row["origin"],
    )


def selected_columns(alias: str) -> str:
    """The columns `memory_from_row` reads, of the `memories` row `alias`."""
    return ", ".join(f"{alias}.{column.strip()}" for column in _COLUMNS.split(","))


def _tags_json(tags: Sequence[str]) -> str:
    return json.dumps(list(tags), ensure_ascii=False)


async def _write_tags(tx: Transaction, tagged: Sequence[tuple[int, Sequence[str]]]) -> None:
    """Each memory's tags, in one statement call for them all."""
    await tx.executemany(
        "INSERT OR IGNORE INTO memory_tags (memory_id, tag) VALUES (?, ?)",
        [(memory_id, tag) for memory_id, tags in tagged for tag in set(tags)],
    )
