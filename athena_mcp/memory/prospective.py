"""Prospective memory: what the agent means to do (tasks, under goals) and when to remind it (triggers).

Every method takes `now` (seconds since the epoch) from its caller, so that time can be driven in
tests. Ids are looked up within the caller's namespace only: a task, goal, trigger or fired item
of another namespace is reported as not found, never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from athena_mcp.errors import Conflict, InvalidInput, NotFound
from athena_mcp.memory.cron import parse_cron
from athena_mcp.memory.cursors import decode_cursor, encode_cursor
from athena_mcp.models import to_datetime, to_seconds
from athena_mcp.prospective_models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    PRIORITIES,
    DismissResult,
    DueResult,
    FiredItem,
    Goal,
    GoalPage,
    Priority,
    Task,
    TaskPage,
    TaskStatus,
    Trigger,
    TriggerKind,
    TriggerPage,
    TriggerStatus,
    TriggerStatusResult,
)
from athena_mcp.store import memories, tasks, triggers
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.tasks import NewTask, TaskFilter
from athena_mcp.store.triggers import NewTrigger

# Which trigger kind each kind-specific field belongs to, and what each kind needs at least one of
# (the fields that imply the kind when a draft names none).
_FIELD_KIND = {
    "at": "at",
    "after_seconds": "after",
    "cron": "cron",
    "event_type": "event",
    "text_contains": "event",
    "repeat": "event",
}
_KIND_NEEDS: dict[TriggerKind, tuple[str, ...]] = {
    "at": ("at",),
    "after": ("after_seconds",),
    "cron": ("cron",),
    "event": ("event_type", "text_contains"),
}
_CLEARABLE = {"due": "due_at", "goal_id": "goal_id", "notes": "notes"}


@dataclass(frozen=True)
class TriggerLimits:
    """What one namespace may hold, so that no caller can make the worker fire without bound
    (400 repeating triggers meeting a 500-event batch would otherwise be 200,000 firings)."""

    active: int = 200  # active triggers
    pending: int = 1000  # fired items not dismissed; beyond, its triggers wait
    per_pass: int = 200  # firings one trigger pass records; the rest wait for the next pass


@dataclass(frozen=True)
class TaskDraft:
    namespace: str
    title: str
    notes: str | None = None
    status: TaskStatus = "todo"
    priority: Priority = "normal"
    due_at: float | None = None
    goal_id: int | None = None
    depends_on: tuple[int, ...] = ()


@dataclass(frozen=True)
class TaskChanges:
    """What update_task replaces; None leaves a field as it is, `clear` empties due, goal_id or notes."""

    title: str | None = None
    notes: str | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    due_at: float | None = None
    goal_id: int | None = None
    depends_on: tuple[int, ...] | None = None
    clear: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaskQuery:
    namespace: str
    statuses: tuple[TaskStatus, ...] = OPEN_STATUSES
    due_before: float | None = None
    overdue: bool = False
    goal_id: int | None = None


@dataclass(frozen=True)
class TriggerDraft:
    namespace: str
    kind: TriggerKind | None = None  # None: worked out from the one kind whose fields are given
    task_id: int | None = None
    reminder: str | None = None
    at: float | None = None
    after_seconds: int | None = None
    cron: str | None = None
    event_type: str | None = None
    text_contains: str | None = None
    repeat: bool = False


class ProspectiveMemory:
    def __init__(self, database: Database, limits: TriggerLimits | None = None) -> None:
        self._database = database
        self._limits = limits or TriggerLimits()

    async def create_task(self, draft: TaskDraft, now: float) -> Task:
        # A due time in the past is allowed: the task is recorded as overdue and shows in `due`.
        async with self._database.transaction() as tx:
            if draft.goal_id is not None:
                await _require(tx, "goals", draft.namespace, [draft.goal_id], "goal_id")
            await _require(tx, "tasks", draft.namespace, draft.depends_on, "depends_on")
            task_id = await tasks.insert_task(
                tx,
                NewTask(
                    namespace=draft.namespace,
                    title=draft.title,
                    notes=draft.notes,
                    status=draft.status,
                    priority=PRIORITIES.index(draft.priority),
                    due_at=draft.due_at,
                    goal_id=draft.goal_id,
                ),
                now,
            )
            # A new task has nothing depending on it yet, so its dependencies cannot close a cycle.
            await tasks.set_dependencies(tx, task_id, draft.depends_on)
            created = (await tasks.get_tasks(tx, draft.namespace, [task_id], now))[task_id]
        return created

    async def update_task(self, namespace: str, task_id: int, changes: TaskChanges, now: float) -> Task:
        for field in changes.clear:
            if getattr(changes, _CLEARABLE[field]) is not None:
                raise InvalidInput(f"{field}: given and also listed in clear; pass one or the other.")
        async with self._database.transaction() as tx:
            current = await _task(tx, namespace, task_id, now)
            columns: dict[str, Any] = {_CLEARABLE[field]: None for field in changes.clear}
            if changes.title is not None:
                columns["title"] = changes.title
            if changes.notes is not None:
                columns["notes"] = changes.notes
            if changes.priority is not None:
                columns["priority"] = PRIORITIES.index(changes.priority)
            if changes.due_at is not None:
                columns["due_at"] = changes.due_at
            if changes.goal_id is not None:
                await _require(tx, "goals", namespace, [changes.goal_id], "goal_id")
                columns["goal_id"] = changes.goal_id
            if changes.status is not None and changes.status != current.status:
                columns["status"] = changes.status
                columns["closed_at"] = now if changes.status in CLOSED_STATUSES else None
                if changes.status in CLOSED_STATUSES:
                    await triggers.close_for_task(tx, task_id, now)
            if changes.depends_on is not None:
                await _require(tx, "tasks", namespace, changes.depends_on, "depends_on")
                await _refuse_cycle(tx, task_id, changes.depends_on)
                await tasks.set_dependencies(tx, task_id, changes.depends_on)
            await tasks.update_task(tx, task_id, columns, now)
            updated = await _task(tx, namespace, task_id, now)
        return updated

    async def list_tasks(self, query: TaskQuery, cursor: str | None, limit: int, now: float) -> TaskPage:
        after_id = decode_cursor(cursor, "list_tasks")
        statuses, due_before = query.statuses, query.due_before
        if query.overdue:
            statuses = tuple(status for status in statuses if status in OPEN_STATUSES)
            if not statuses:
                raise InvalidInput(
                    "overdue: only open tasks (todo, in_progress, blocked) can be overdue; drop overdue "
                    "or list an open status."
                )
            due_before = now if due_before is None else min(due_before, now)
        if query.goal_id is not None:
            await _require(self._database, "goals", query.namespace, [query.goal_id], "goal_id")
        found = await tasks.page(
            self._database,
            TaskFilter(query.namespace, statuses, due_before, query.goal_id),
            after_id,
            limit + 1,
            now,
        )
        next_cursor = encode_cursor(found[limit - 1].id) if len(found) > limit else None
        return TaskPage(tasks=found[:limit], next_cursor=next_cursor)

    async def create_goal(
        self, namespace: str, title: str, notes: str | None, due_at: float | None, now: float
    ) -> Goal:
        async with self._database.transaction() as tx:
            goal_id = await tasks.insert_goal(tx, namespace, title, notes, due_at, now)
            goal = await tasks.get_goal(tx, namespace, goal_id)
        assert goal is not None  # inserted in the same transaction
        return goal

    async def list_goals(self, namespace: str, cursor: str | None, limit: int) -> GoalPage:
        after_id = decode_cursor(cursor, "list_goals") or 0
        found = await tasks.goal_page(self._database, namespace, after_id, limit + 1)
        next_cursor = encode_cursor(found[limit - 1].id) if len(found) > limit else None
        return GoalPage(goals=found[:limit], next_cursor=next_cursor)

    async def create_trigger(self, draft: TriggerDraft, now: float) -> Trigger:
        new = _new_trigger(draft, now)
        async with self._database.transaction() as tx:
            if draft.task_id is not None:
                task = await _task(tx, draft.namespace, draft.task_id, now, field="task_id")
                if task.status in CLOSED_STATUSES:
                    raise Conflict(
                        f"task_id: task {task.id} is {task.status}; reopen it with update_task before "
                        "attaching a trigger."
                    )
            if await triggers.count_active(tx, draft.namespace) >= self._limits.active:
                raise Conflict(
                    f"namespace {draft.namespace!r} has {self._limits.active} active triggers, the most it "
                    "may hold (--max-active-triggers); cancel_trigger the ones no longer needed first."
                )
            trigger_id = await triggers.insert_trigger(tx, new, now)
            created = await triggers.get_trigger(tx, draft.namespace, trigger_id)
        assert created is not None  # inserted in the same transaction
        return created

    async def list_triggers(
        self,
        namespace: str,
        statuses: tuple[TriggerStatus, ...],
        task_id: int | None,
        cursor: str | None,
        limit: int,
    ) -> TriggerPage:
        after_id = decode_cursor(cursor, "list_triggers") or 0
        found = await triggers.page(self._database, namespace, statuses, task_id, after_id, limit + 1)
        next_cursor = encode_cursor(found[limit - 1].id) if len(found) > limit else None
        return TriggerPage(triggers=found[:limit], next_cursor=next_cursor)

    async def cancel_trigger(self, namespace: str, trigger_id: int, now: float) -> TriggerStatusResult:
        async with self._database.transaction() as tx:
            trigger = await triggers.get_trigger(tx, namespace, trigger_id)
            if trigger is None:
                raise NotFound(
                    f"id: no trigger {trigger_id} in namespace {namespace!r}; list_triggers shows them."
                )
            changed = trigger.status == "active"
            if changed:
                await triggers.set_status(tx, trigger_id, "cancelled", now)
        return TriggerStatusResult(
            id=trigger_id, status="cancelled" if changed else trigger.status, changed=changed
        )

    async def due(self, namespace: str, now: float, lookahead: float, limit: int) -> DueResult:
        """Fired items not yet dismissed, and open tasks due before now + lookahead (seconds)."""
        firings = await triggers.pending_firings(self._database, namespace, limit + 1)
        due_tasks = await tasks.page(
            self._database,
            TaskFilter(namespace, OPEN_STATUSES, due_before=now + lookahead),
            None,
            limit + 1,
            now,
        )
        shown = firings[:limit]
        waiting = await triggers.count_pending(self._database, namespace, self._limits.pending)
        notice = (
            f"{waiting} fired items wait undismissed here, the most a namespace may hold "
            "(--max-pending-firings): its triggers wait, and fire once you dismiss some."
            if waiting >= self._limits.pending
            else None
        )
        linked = await tasks.get_tasks(
            self._database, namespace, [row["task_id"] for row in shown if row["task_id"] is not None], now
        )
        events = await memories.get_memories(
            self._database, [row["event_id"] for row in shown if row["event_id"] is not None]
        )
        # An event forgotten since it fired stays hidden, as it is everywhere else.
        shown_events = {event_id: event for event_id, event in events.items() if event.status == "active"}
        fired = [
            FiredItem(
                firing_id=row["id"],
                trigger_id=row["trigger_id"],
                kind=row["kind"],
                fired_at=to_datetime(row["fired_at"]),
                scheduled_for=None if row["kind"] == "event" else to_datetime(row["occurrence"]),
                reminder=row["reminder"],
                task=linked.get(row["task_id"]),
                event=shown_events.get(row["event_id"]),
            )
            for row in shown
        ]
        return DueResult(
            now=to_datetime(now),
            fired=fired,
            tasks=due_tasks[:limit],
            truncated=len(firings) > limit or len(due_tasks) > limit,
            notice=notice,
        )

    async def dismiss(self, namespace: str, firing_ids: tuple[int, ...], now: float) -> DismissResult:
        ids = list(dict.fromkeys(firing_ids))
        async with self._database.transaction() as tx:
            dismissed = await triggers.firings_dismissed(tx, namespace, ids)
            unknown = [firing_id for firing_id in ids if firing_id not in dismissed]
            if unknown:
                raise NotFound(
                    f"firing_ids: no fired item {', '.join(map(str, unknown))} in namespace {namespace!r}; "
                    "take firing_id from due."
                )
            fresh = [firing_id for firing_id in ids if not dismissed[firing_id]]
            await triggers.dismiss(tx, fresh, now)
        return DismissResult(dismissed=fresh, already_dismissed=[i for i in ids if dismissed[i]])


def _new_trigger(draft: TriggerDraft, now: float) -> NewTrigger:
    """Check that the draft has the fields of its kind and no others, and work out when it fires."""
    kind = draft.kind or _implied_kind(draft)
    for field, field_kind in _FIELD_KIND.items():
        if getattr(draft, field) not in (None, False) and field_kind != kind:
            raise InvalidInput(f"{field}: only for {field_kind} triggers; this one is kind {kind}.")
    needs = _KIND_NEEDS[kind]
    if all(getattr(draft, field) is None for field in needs):
        raise InvalidInput(f"{' or '.join(needs)}: required for a trigger of kind {kind}.")
    if draft.task_id is None and draft.reminder is None:
        raise InvalidInput("task_id or reminder: say what to remind of (a task, a reminder text, or both).")
    fire_at = None
    if draft.at is not None:
        _refuse_earlier("at", draft.at, now, "the time now", hint=", or after_seconds for a delay")
        fire_at = draft.at
    elif draft.after_seconds is not None:
        fire_at = now + draft.after_seconds
    next_fire_at = fire_at
    if draft.cron is not None:
        next_fire_at = to_seconds(parse_cron(draft.cron).next_after(to_datetime(now)))
    return NewTrigger(
        namespace=draft.namespace,
        kind=kind,
        task_id=draft.task_id,
        reminder=draft.reminder,
        fire_at=fire_at,
        cron=None if draft.cron is None else draft.cron.strip(),
        event_type=draft.event_type,
        text_contains=draft.text_contains,
        repeat=draft.repeat,
        next_fire_at=next_fire_at,
    )


def _implied_kind(draft: TriggerDraft) -> TriggerKind:
    """The kind of a draft that names none: the one kind whose fields it gives."""
    given = {
        kind: [field for field in fields if getattr(draft, field) is not None]
        for kind, fields in _KIND_NEEDS.items()
    }
    kinds = [kind for kind, fields in given.items() if fields]
    if len(kinds) == 1:
        return kinds[0]
    if not kinds:
        raise InvalidInput(
            "at, after_seconds, cron, event_type or text_contains: give one to say when the trigger fires "
            "(a time, a delay, a UTC schedule, or a matching event); its kind follows from it."
        )
    fields = ", ".join(field for kind in kinds for field in given[kind])
    raise InvalidInput(
        f"{fields}: these belong to different kinds of trigger ({', '.join(kinds)}); give the fields of "
        "one kind only."
    )


def _refuse_earlier(field: str, moment: float | None, limit: float, what: str, hint: str = "") -> None:
    if moment is not None and moment < limit:
        raise InvalidInput(
            f"{field}: {_iso(moment)} is before {what} ({_iso(limit)}); give a later time{hint}."
        )


async def _require(
    db: Database | Transaction,
    table: Literal["tasks", "goals"],
    namespace: str,
    ids: tuple[int, ...] | list[int],
    field: str,
) -> None:
    """NotFound naming `field` unless every id is a row of `table` in the namespace."""
    found = await tasks.existing_ids(db, table, namespace, ids)
    missing = [str(item) for item in dict.fromkeys(ids) if item not in found]
    if missing:
        raise NotFound(
            f"{field}: no {table[:-1]} {', '.join(missing)} in namespace {namespace!r}; "
            f"list_{table} shows them."
        )


async def _task(tx: Transaction, namespace: str, task_id: int, now: float, field: str = "id") -> Task:
    task = (await tasks.get_tasks(tx, namespace, [task_id], now)).get(task_id)
    if task is None:
        raise NotFound(f"{field}: no task {task_id} in namespace {namespace!r}; list_tasks shows them.")
    return task


async def _refuse_cycle(tx: Transaction, task_id: int, depends_on: tuple[int, ...]) -> None:
    if task_id in depends_on:
        raise InvalidInput(f"depends_on: task {task_id} cannot depend on itself.")
    path = await tasks.dependency_path(tx, depends_on, task_id)
    if path is not None:
        chain = " → ".join(map(str, path))
        raise Conflict(
            f"depends_on: task {path[0]} already depends on task {task_id} ({chain}), so task {task_id} "
            f"depending on it would make a cycle; remove a dependency on that chain first."
        )


def _iso(seconds: float) -> str:
    return to_datetime(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")
