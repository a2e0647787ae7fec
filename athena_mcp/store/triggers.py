"""SQL for triggers and their firings: the schedule, the event watermarks and the exactly-once record."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from athena_mcp.models import to_datetime, to_datetime_or_none
from athena_mcp.prospective_models import Trigger
from athena_mcp.store.database import Database, Row, Transaction

_COLUMNS = (
    "r.id, r.namespace, r.kind, r.status, r.task_id, r.reminder, r.fire_at, r.cron, r.event_type, "
    "r.text_contains, r.repeat, r.next_fire_at, r.created_at, "
    "(SELECT count(*) FROM trigger_firings f WHERE f.trigger_id = r.id) AS fired, "
    "(SELECT max(f.fired_at) FROM trigger_firings f WHERE f.trigger_id = r.id) AS last_fired_at"
)


@dataclass(frozen=True)
class NewTrigger:
    namespace: str
    kind: str
    task_id: int | None
    reminder: str | None
    fire_at: float | None = None
    cron: str | None = None
    event_type: str | None = None
    text_contains: str | None = None
    repeat: bool = False
    next_fire_at: float | None = None


async def insert_trigger(tx: Transaction, trigger: NewTrigger, now: float) -> int:
    # An event trigger watches the events recorded after it: its watermark starts at the newest id.
    return await tx.execute(
        "INSERT INTO triggers (namespace, kind, task_id, reminder, fire_at, cron, event_type, text_contains, "
        "repeat, next_fire_at, watermark, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "CASE WHEN ? = 'event' THEN (SELECT coalesce(max(id), 0) FROM memories) END, ?, ?)",
        (
            trigger.namespace,
            trigger.kind,
            trigger.task_id,
            trigger.reminder,
            trigger.fire_at,
            trigger.cron,
            trigger.event_type,
            trigger.text_contains,
            trigger.repeat,
            trigger.next_fire_at,
            trigger.kind,
            now,
            now,
        ),
    )


async def get_trigger(db: Database | Transaction, namespace: str, trigger_id: int) -> Trigger | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM triggers r WHERE r.namespace = ? AND r.id = ?", (namespace, trigger_id)
    )
    return None if row is None else _trigger(row)


async def page(
    db: Database, namespace: str, statuses: tuple[str, ...], task_id: int | None, after_id: int, limit: int
) -> list[Trigger]:
    """Triggers by id; `after_id` 0 starts at the first."""
    where = f"r.namespace = ? AND r.status IN ({', '.join('?' * len(statuses))}) AND r.id > ?"
    params: list[Any] = [namespace, *statuses, after_id]
    if task_id is not None:
        where += " AND r.task_id = ?"
        params.append(task_id)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM triggers r WHERE {where} ORDER BY r.id LIMIT ?", [*params, limit]
    )
    return [_trigger(row) for row in rows]


async def set_status(tx: Transaction, trigger_id: int, status: str, now: float) -> None:
    await tx.execute(
        "UPDATE triggers SET status = ?, next_fire_at = NULL, updated_at = ? WHERE id = ?",
        (status, now, trigger_id),
    )


async def close_for_task(tx: Transaction, task_id: int, now: float) -> None:
    """A closed task needs no more reminders: its active triggers are done, what they fired dismissed."""
    await tx.execute(
        "UPDATE triggers SET status = 'done', next_fire_at = NULL, updated_at = ? "
        "WHERE task_id = ? AND status = 'active'",
        (now, task_id),
    )
    await tx.execute(
        "UPDATE trigger_firings SET dismissed_at = ? WHERE dismissed_at IS NULL "
        "AND trigger_id IN (SELECT id FROM triggers WHERE task_id = ?)",
        (now, task_id),
    )


async def count_active(tx: Transaction, namespace: str) -> int:
    row = await tx.fetchone(
        "SELECT count(*) FROM triggers WHERE namespace = ? AND status = 'active'", (namespace,)
    )
    return int(row[0]) if row else 0


async def earliest_scheduled(db: Database, skip: Sequence[str] = ()) -> float | None:
    """The earliest next occurrence of an active time trigger outside the `skip` namespaces."""
    row = await db.fetchone(
        "SELECT min(next_fire_at) FROM triggers WHERE status = 'active' AND next_fire_at IS NOT NULL "
        "AND namespace NOT IN (SELECT value FROM json_each(?))",
        (json.dumps(list(skip)),),
    )
    return None if row is None else row[0]


async def scheduled_by(tx: Transaction, now: float, limit: int, skip: Sequence[str] = ()) -> list[Row]:
    """Active time triggers outside the `skip` namespaces whose next occurrence is at or before `now`,
    earliest first."""
    return await tx.fetchall(
        "SELECT id, namespace, kind, cron, next_fire_at FROM triggers "
        "WHERE status = 'active' AND next_fire_at <= ? AND namespace NOT IN (SELECT value FROM json_each(?)) "
        "ORDER BY next_fire_at, id LIMIT ?",
        (now, json.dumps(list(skip)), limit),
    )


async def watching_behind(db: Database | Transaction, limit: int, skip: Sequence[str] = ()) -> list[Row]:
    """Active event triggers outside the `skip` namespaces with active events in their namespace newer
    than their watermark."""
    return await db.fetchall(
        "SELECT r.id, r.namespace, r.event_type, r.text_contains, r.repeat, r.watermark FROM triggers r "
        "WHERE r.status = 'active' AND r.kind = 'event' "
        "AND r.namespace NOT IN (SELECT value FROM json_each(?)) AND EXISTS (SELECT 1 FROM memories m "
        "WHERE m.namespace = r.namespace AND m.system = 'episodic' AND m.status = 'active' "
        "AND m.id > r.watermark) "
        "ORDER BY r.id LIMIT ?",
        (json.dumps(list(skip)), limit),
    )


async def newest_memory_id(tx: Transaction) -> int:
    row = await tx.fetchone("SELECT coalesce(max(id), 0) FROM memories")
    return int(row[0]) if row else 0


async def events_between(
    tx: Transaction, namespace: str, after_id: int, up_to: int, event_type: str | None, limit: int
) -> list[Row]:
    """Active events of the namespace with after_id < id <= up_to (of one type, if given), by id."""
    where = "m.namespace = ? AND m.system = 'episodic' AND m.status = 'active' AND m.id > ? AND m.id <= ?"
    params: list[Any] = [namespace, after_id, up_to]
    if event_type is not None:
        where += " AND m.kind = ?"
        params.append(event_type)
    return await tx.fetchall(
        f"SELECT m.id, m.content FROM memories m WHERE {where} ORDER BY m.id LIMIT ?", [*params, limit]
    )


async def record_firing(
    tx: Transaction, trigger_id: int, namespace: str, occurrence: float, event_id: int | None, now: float
) -> bool:
    """Record that an occurrence fired; False (and no change) if it already had: the exactly-once key."""
    inserted = await tx.fetchone(
        "INSERT OR IGNORE INTO trigger_firings (trigger_id, namespace, occurrence, event_id, fired_at) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        (trigger_id, namespace, occurrence, event_id, now),
    )
    return inserted is not None


async def advance(
    tx: Transaction,
    trigger_id: int,
    now: float,
    *,
    next_fire_at: float | None = None,
    watermark: int | None = None,
    done: bool,
) -> None:
    """Move a trigger past what it has fired: its next occurrence or its watermark, or finish it."""
    await tx.execute(
        "UPDATE triggers SET next_fire_at = ?, watermark = ?, "
        "status = CASE WHEN ? THEN 'done' ELSE status END, updated_at = ? WHERE id = ?",
        (next_fire_at, watermark, done, now, trigger_id),
    )


async def newest_firing_id(db: Database) -> int:
    row = await db.fetchone("SELECT coalesce(max(id), 0) FROM trigger_firings")
    return int(row[0]) if row else 0


async def firings_after(db: Database, after_id: int) -> dict[str, int]:
    """Namespace -> newest firing id, over the firings recorded after `after_id` by any process."""
    rows = await db.fetchall(
        "SELECT namespace, max(id) FROM trigger_firings WHERE id > ? GROUP BY namespace", (after_id,)
    )
    return {row[0]: int(row[1]) for row in rows}


async def count_pending(db: Database | Transaction, namespace: str, up_to: int) -> int:
    """Firings of the namespace not dismissed yet, counted up to `up_to` (enough to compare with a cap)."""
    row = await db.fetchone(
        "SELECT count(*) FROM (SELECT 1 FROM trigger_firings WHERE namespace = ? AND dismissed_at IS NULL "
        "LIMIT ?)",
        (namespace, up_to),
    )
    return int(row[0]) if row else 0


async def pending_firings(db: Database, namespace: str, limit: int) -> list[Row]:
    """Firings of the namespace not dismissed yet, oldest first, with their trigger's kind and target."""
    return await db.fetchall(
        "SELECT f.id, f.trigger_id, f.occurrence, f.event_id, f.fired_at, r.kind, r.task_id, r.reminder "
        "FROM trigger_firings f JOIN triggers r ON r.id = f.trigger_id "
        "WHERE f.namespace = ? AND f.dismissed_at IS NULL ORDER BY f.id LIMIT ?",
        (namespace, limit),
    )


async def firings_dismissed(tx: Transaction, namespace: str, ids: Sequence[int]) -> dict[int, bool]:
    """For those of `ids` that are firings of the namespace: whether each is already dismissed."""
    rows = await tx.fetchall(
        "SELECT id, dismissed_at IS NOT NULL FROM trigger_firings "
        "WHERE namespace = ? AND id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(ids))),
    )
    return {int(row[0]): bool(row[1]) for row in rows}


async def dismiss(tx: Transaction, ids: Sequence[int], now: float) -> None:
    await tx.execute(
        "UPDATE trigger_firings SET dismissed_at = ? "
        "WHERE id IN (SELECT value FROM json_each(?)) AND dismissed_at IS NULL",
        (now, json.dumps(list(ids))),
    )


def _trigger(row: Row) -> Trigger:
    return Trigger(
        id=row["id"],
        namespace=row["namespace"],
        kind=row["kind"],
        status=row["status"],
        task_id=row["task_id"],
        reminder=row["reminder"],
        at=to_datetime_or_none(row["fire_at"]),
        cron=row["cron"],
        event_type=row["event_type"],
        text_contains=row["text_contains"],
        repeat=bool(row["repeat"]),
        next_fire_at=to_datetime_or_none(row["next_fire_at"]),
        fired=row["fired"],
        last_fired_at=to_datetime_or_none(row["last_fired_at"]),
        created_at=to_datetime(row["created_at"]),
    )
