"""SQL for tasks, the dependencies between them and the goals they serve."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from athena_mcp.models import to_datetime, to_datetime_or_none
from athena_mcp.prospective_models import CLOSED_STATUSES, OPEN_STATUSES, PRIORITIES, Goal, Task
from athena_mcp.store.database import Database, Row, Transaction

_TASK_COLUMNS = (
    "t.id, t.namespace, t.title, t.notes, t.status, t.priority, t.due_at, t.goal_id, t.created_at, "
    "t.updated_at, t.closed_at"
)
_GOAL_COUNTS = ", ".join(
    f"(SELECT count(*) FROM tasks t WHERE t.goal_id = g.id{condition}) AS {name}"
    for name, condition in (
        ("tasks", ""),
        ("done", " AND t.status = 'done'"),
        ("cancelled", " AND t.status = 'cancelled'"),
    )
)


@dataclass(frozen=True)
class NewTask:
    namespace: str
    title: str
    notes: str | None
    status: str
    priority: int
    due_at: float | None
    goal_id: int | None


@dataclass(frozen=True)
class TaskFilter:
    namespace: str
    statuses: tuple[str, ...]
    due_before: float | None = None  # exclusive; a task without a due time never matches
    goal_id: int | None = None


async def insert_task(tx: Transaction, task: NewTask, now: float) -> int:
    return await tx.execute(
        "INSERT INTO tasks (namespace, title, notes, status, priority, due_at, goal_id, created_at, "
        "updated_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task.namespace,
            task.title,
            task.notes,
            task.status,
            task.priority,
            task.due_at,
            task.goal_id,
            now,
            now,
            now if task.status in CLOSED_STATUSES else None,
        ),
    )


async def update_task(tx: Transaction, task_id: int, columns: dict[str, Any], now: float) -> None:
    """Set `columns` (column -> value) on the task."""
    assignments = "".join(f"{column} = ?, " for column in columns)
    await tx.execute(
        f"UPDATE tasks SET {assignments}updated_at = ? WHERE id = ?", (*columns.values(), now, task_id)
    )


async def existing_ids(
    db: Database | Transaction, table: Literal["tasks", "goals"], namespace: str, ids: Sequence[int]
) -> set[int]:
    """Which of `ids` are rows of `table` in the namespace."""
    rows = await db.fetchall(
        f"SELECT id FROM {table} WHERE +namespace = ? AND id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(ids))),
    )
    return {int(row[0]) for row in rows}


async def get_tasks(
    db: Database | Transaction, namespace: str, ids: Sequence[int], now: float
) -> dict[int, Task]:
    rows = await db.fetchall(
        # `+` keeps the planner off the namespace indexes: the ids are the way in.
        f"SELECT {_TASK_COLUMNS} FROM tasks t "
        "WHERE +t.namespace = ? AND t.id IN (SELECT value FROM json_each(?))",
        (namespace, json.dumps(list(ids))),
    )
    return {task.id: task for task in await _tasks_from_rows(db, rows, now)}


async def page(
    db: Database, task_filter: TaskFilter, after_id: int | None, limit: int, now: float
) -> list[Task]:
    """Soonest due first, tasks without a due time last, then by id; keyset-paginated after `after_id`."""
    where = f"t.namespace = ? AND t.status IN ({', '.join('?' * len(task_filter.statuses))})"
    params: list[Any] = [task_filter.namespace, *task_filter.statuses]
    if task_filter.due_before is not None:
        where += " AND t.due_order < ?"
        params.append(task_filter.due_before)
    if task_filter.goal_id is not None:
        where += " AND t.goal_id = ?"
        params.append(task_filter.goal_id)
    if after_id is not None:
        # The stored position of the cursor's task, not a copy carried in the cursor, as in timeline;
        # looked up in the namespace only, so another's task gives no position.
        where += (
            " AND (t.due_order, t.id) > ((SELECT due_order FROM tasks WHERE id = ? AND namespace = ?), ?)"
        )
        params += [after_id, task_filter.namespace, after_id]
    rows = await db.fetchall(
        f"SELECT {_TASK_COLUMNS} FROM tasks t WHERE {where} ORDER BY t.due_order, t.id LIMIT ?",
        [*params, limit],
    )
    return await _tasks_from_rows(db, rows, now)


async def set_dependencies(tx: Transaction, task_id: int, depends_on: Sequence[int]) -> None:
    await tx.execute("DELETE FROM task_dependencies WHERE task_id = ?", (task_id,))
    await tx.executemany(
        "INSERT INTO task_dependencies (task_id, depends_on) VALUES (?, ?)",
        [(task_id, dependency) for dependency in dict.fromkeys(depends_on)],
    )


async def dependency_path(tx: Transaction, starts: Sequence[int], target: int) -> list[int] | None:
    """A chain of dependencies from one of `starts` to `target` (both ends included), or None.

    Breadth first, one query per level, each task visited once: the shortest chain, and no
    blow-up on graphs where many chains meet."""
    came_from: dict[int, int | None] = dict.fromkeys(starts)
    level = list(came_from)
    while level and target not in came_from:
        rows = await tx.fetchall(
            "SELECT task_id, depends_on FROM task_dependencies "
            "WHERE task_id IN (SELECT value FROM json_each(?))",
            (json.dumps(level),),
        )
        level = []
        for task_id, dependency in rows:
            if dependency not in came_from:
                came_from[dependency] = task_id
                level.append(dependency)
    if target not in came_from:
        return None
    path = [target]
    while (previous := came_from[path[-1]]) is not None:
        path.append(previous)
    return path[::-1]


async def insert_goal(
    tx: Transaction, namespace: str, title: str, notes: str | None, due_at: float | None, now: float
) -> int:
    return await tx.execute(
        "INSERT INTO goals (namespace, title, notes, due_at, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (namespace, title, notes, due_at, now, now),
    )


async def goal_page(db: Database, namespace: str, after_id: int, limit: int) -> list[Goal]:
    """Goals by id with their task counts; `after_id` 0 starts at the first."""
    return await _goals(
        db, "g.namespace = ? AND g.id > ? ORDER BY g.id LIMIT ?", (namespace, after_id, limit)
    )


async def get_goal(db: Database | Transaction, namespace: str, goal_id: int) -> Goal | None:
    found = await _goals(db, "g.namespace = ? AND g.id = ?", (namespace, goal_id))
    return found[0] if found else None


async def _goals(db: Database | Transaction, where: str, params: tuple[Any, ...]) -> list[Goal]:
    rows = await db.fetchall(
        f"SELECT g.id, g.namespace, g.title, g.notes, g.due_at, g.created_at, g.updated_at, {_GOAL_COUNTS} "
        f"FROM goals g WHERE {where}",
        params,
    )
    return [_goal(row) for row in rows]


def _goal(row: Row) -> Goal:
    counted = row["tasks"] - row["cancelled"]
    return Goal(
        id=row["id"],
        namespace=row["namespace"],
        title=row["title"],
        notes=row["notes"],
        due=to_datetime_or_none(row["due_at"]),
        tasks=row["tasks"],
        done=row["done"],
        cancelled=row["cancelled"],
        progress=row["done"] / counted if counted else None,
        complete=bool(counted) and row["done"] == counted,
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
    )


async def _tasks_from_rows(db: Database | Transaction, rows: list[Row], now: float) -> list[Task]:
    dependencies: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if rows:
        for task_id, dependency, status in await db.fetchall(
            "SELECT d.task_id, d.depends_on, p.status FROM task_dependencies d "
            "JOIN tasks p ON p.id = d.depends_on WHERE d.task_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY d.task_id, d.depends_on",
            (json.dumps([row["id"] for row in rows]),),
        ):
            dependencies[task_id].append((dependency, status))
    return [_task(row, dependencies[row["id"]], now) for row in rows]


def _task(row: Row, dependencies: list[tuple[int, str]], now: float) -> Task:
    due_at = row["due_at"]
    return Task(
        id=row["id"],
        namespace=row["namespace"],
        title=row["title"],
        notes=row["notes"],
        status=row["status"],
        priority=PRIORITIES[row["priority"]],
        due=to_datetime_or_none(due_at),
        overdue=row["status"] in OPEN_STATUSES and due_at is not None and due_at < now,
        goal_id=row["goal_id"],
        depends_on=[dependency for dependency, _ in dependencies],
        blocked_by=[dependency for dependency, status in dependencies if status not in CLOSED_STATUSES],
        created_at=to_datetime(row["created_at"]),
        updated_at=to_datetime(row["updated_at"]),
        closed_at=to_datetime_or_none(row["closed_at"]),
    )
