"""The prospective toolset: tasks, goals, triggers, and what is due now (also as a resource)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.shared.uri_template import UriTemplate
from pydantic import Field, TypeAdapter, ValidationError

from athena_mcp.caller import WORKER, acting_as, reset_caller
from athena_mcp.errors import AthenaError, InvalidInput
from athena_mcp.fields import (
    MAX_LIMIT,
    Content,
    Cursor,
    Kind,
    Limit,
    Namespace,
    ShortText,
    Timestamp,
    Title,
)
from athena_mcp.memory.cursors import MAX_ID
from athena_mcp.memory.prospective import TaskChanges, TaskDraft, TaskQuery, TriggerDraft
from athena_mcp.models import to_seconds_or_none
from athena_mcp.prospective_models import (
    OPEN_STATUSES,
    DismissResult,
    DueResult,
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
from athena_mcp.services import Services
from athena_mcp.tools.common import ServicesDep, ToolSpec, services_of, tool_errors, tool_hints
from athena_mcp.worker.triggers import FiringListener

DUE_URI = UriTemplate.parse("athena://prospective/{namespace}/due")
MAX_DEPENDENCIES = 50
MAX_DELAY_SECONDS = 10 * 366 * 24 * 3600
MAX_LOOKAHEAD_MINUTES = 7 * 24 * 60

TaskId = Annotated[int, Field(ge=1, le=MAX_ID, description="A task id")]
GoalId = Annotated[int, Field(ge=1, le=MAX_ID, description="A goal id")]
TriggerId = Annotated[
    int, Field(ge=1, le=MAX_ID, description="A trigger id from create_trigger or list_triggers")
]
FiringId = Annotated[int, Field(ge=1, le=MAX_ID)]
Dependencies = Annotated[
    list[TaskId],
    Field(max_length=MAX_DEPENDENCIES, description="Tasks it waits for"),
]
Notes = Annotated[Content, Field(description="Context, links, what done looks like")]
TaskStatuses = Annotated[
    list[TaskStatus],
    Field(
        min_length=1,
        max_length=5,
        description="Statuses to list; default the open ones (todo, in_progress, blocked)",
    ),
]
TriggerStatuses = Annotated[
    list[TriggerStatus], Field(min_length=1, max_length=3, description="Statuses to list; default active")
]
Clearable = Annotated[
    list[Literal["due", "goal_id", "notes"]], Field(min_length=1, max_length=3, description="Fields to empty")
]
Cron = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="5 fields in UTC: minute hour day-of-month month day-of-week, e.g. '0 9 * * mon-fri'",
    ),
]
_NAMESPACE = TypeAdapter(Namespace)


def tools() -> tuple[ToolSpec, ...]:
    return (
        ToolSpec(create_task, tool_hints(read_only=False)),
        # Replaces fields without keeping their previous values.
        ToolSpec(update_task, tool_hints(read_only=False, destructive=True, idempotent=True)),
        ToolSpec(list_tasks, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(create_goal, tool_hints(read_only=False)),
        ToolSpec(list_goals, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(create_trigger, tool_hints(read_only=False)),
        ToolSpec(list_triggers, tool_hints(read_only=True, idempotent=True)),
        # A cancelled trigger cannot be resumed.
        ToolSpec(cancel_trigger, tool_hints(read_only=False, destructive=True, idempotent=True)),
        # Not read-only: it runs a trigger pass first, which records the firings that came due (what the
        # background worker would record on its next tick). Idempotent: a second call records nothing new.
        ToolSpec(due, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(dismiss, tool_hints(read_only=False, idempotent=True)),
    )


def register_resources(server: MCPServer) -> None:
    server.resource(
        str(DUE_URI),
        name="due",
        title="Due now",
        description="What is due or fired in a namespace (the due tool's result); updated when a "
        "trigger fires.",
        mime_type="application/json",
    )(due_resource)


def due_uri(namespace: str) -> str:
    """The URI of a namespace's due resource, as a client expands the template."""
    return DUE_URI.expand({"namespace": namespace})


def due_notifier(bus: SubscriptionBus) -> FiringListener:
    """Tells clients listening to a namespace's due resource that something new fired there."""

    async def announce(namespaces: Sequence[str]) -> None:
        for namespace in namespaces:
            await bus.publish(ResourceUpdated(uri=due_uri(namespace)))

    return announce


@tool_errors
async def create_task(
    services: ServicesDep,
    title: Title,
    notes: Notes | None = None,
    status: TaskStatus = "todo",
    priority: Priority = "normal",
    due: Timestamp | None = None,
    goal_id: GoalId | None = None,
    depends_on: Dependencies | None = None,
    namespace: Namespace = "default",
) -> Task:
    """Add a task you mean to do, with an optional due time, priority, goal and dependencies."""
    return await services.prospective.create_task(
        TaskDraft(
            namespace=namespace,
            title=title,
            notes=notes,
            status=status,
            priority=priority,
            due_at=to_seconds_or_none(due),
            goal_id=goal_id,
            depends_on=tuple(depends_on or ()),
        ),
        time.time(),
    )


@tool_errors
async def update_task(
    services: ServicesDep,
    id: TaskId,
    title: Title | None = None,
    notes: Notes | None = None,
    status: TaskStatus | None = None,
    priority: Priority | None = None,
    due: Timestamp | None = None,
    goal_id: GoalId | None = None,
    depends_on: Dependencies | None = None,
    clear: Clearable | None = None,
    namespace: Namespace = "default",
) -> Task:
    """Record a task's progress (status done or cancelled ends its reminders) or change its fields;
    `clear` empties some."""
    changes = TaskChanges(
        title=title,
        notes=notes,
        status=status,
        priority=priority,
        due_at=to_seconds_or_none(due),
        goal_id=goal_id,
        depends_on=None if depends_on is None else tuple(depends_on),
        clear=frozenset(clear or ()),
    )
    if changes == TaskChanges():
        raise InvalidInput(
            "update_task needs at least one of title, notes, status, priority, due, goal_id, depends_on "
            "or clear."
        )
    return await services.prospective.update_task(namespace, id, changes, time.time())


@tool_errors
async def list_tasks(
    services: ServicesDep,
    status: TaskStatuses | None = None,
    due_before: Timestamp | None = None,
    overdue: bool = False,
    goal_id: GoalId | None = None,
    namespace: Namespace = "default",
    limit: Limit = 20,
    cursor: Cursor | None = None,
) -> TaskPage:
    """List tasks soonest due first (undated last), by default the open ones, optionally only overdue, due
    before a time or serving one goal; a page at a time."""
    query = TaskQuery(
        namespace=namespace,
        statuses=tuple(dict.fromkeys(status or OPEN_STATUSES)),
        due_before=to_seconds_or_none(due_before),
        overdue=overdue,
        goal_id=goal_id,
    )
    return await services.prospective.list_tasks(query, cursor, limit, time.time())


@tool_errors
async def create_goal(
    services: ServicesDep,
    title: Title,
    notes: Notes | None = None,
    due: Timestamp | None = None,
    namespace: Namespace = "default",
) -> Goal:
    """Add a goal for tasks to serve (goal_id on create_task); its progress is worked out from those tasks."""
    due_at = to_seconds_or_none(due)
    return await services.prospective.create_goal(namespace, title, notes, due_at, time.time())


@tool_errors
async def list_goals(
    services: ServicesDep,
    namespace: Namespace = "default",
    limit: Limit = 20,
    cursor: Cursor | None = None,
) -> GoalPage:
    """List goals with their progress: how many of their tasks are done out of those not cancelled."""
    return await services.prospective.list_goals(namespace, cursor, limit)


@tool_errors
async def create_trigger(
    services: ServicesDep,
    kind: Annotated[
        TriggerKind,
        Field(description="Implied by at, after_seconds, cron or event_type/text_contains when omitted"),
    ]
    | None = None,
    task_id: TaskId | None = None,
    reminder: ShortText | None = None,
    at: Timestamp | None = None,
    after_seconds: Annotated[int, Field(ge=1, le=MAX_DELAY_SECONDS, description="Delay from now")]
    | None = None,
    cron: Cron | None = None,
    event_type: Kind | None = None,
    text_contains: Annotated[ShortText, Field(description="Case-insensitive text the event must contain")]
    | None = None,
    repeat: Annotated[
        bool, Field(description="event kind: fire on every matching event, not just the first")
    ] = False,
    namespace: Namespace = "default",
) -> Trigger:
    """Get reminded of a task and/or a reminder text at a time (at), after_seconds, on a cron schedule (UTC)
    or when a newly recorded event matches event_type and/or text_contains; what fires shows in `due`."""
    return await services.prospective.create_trigger(
        TriggerDraft(
            namespace=namespace,
            kind=kind,
            task_id=task_id,
            reminder=reminder,
            at=to_seconds_or_none(at),
            after_seconds=after_seconds,
            cron=cron,
            event_type=event_type,
            text_contains=text_contains,
            repeat=repeat,
        ),
        time.time(),
    )


@tool_errors
async def list_triggers(
    services: ServicesDep,
    status: TriggerStatuses | None = None,
    task_id: TaskId | None = None,
    namespace: Namespace = "default",
    limit: Limit = 20,
    cursor: Cursor | None = None,
) -> TriggerPage:
    """List triggers (active ones unless status says otherwise) with when each fires next and how often it
    has fired."""
    statuses = tuple(dict.fromkeys(status or ("active",)))
    return await services.prospective.list_triggers(namespace, statuses, task_id, cursor, limit)


@tool_errors
async def cancel_trigger(
    services: ServicesDep, id: TriggerId, namespace: Namespace = "default"
) -> TriggerStatusResult:
    """Stop a trigger for good; what it already fired stays in `due` until dismissed."""
    return await services.prospective.cancel_trigger(namespace, id, time.time())


@tool_errors
async def due(
    services: ServicesDep,
    namespace: Namespace = "default",
    lookahead_minutes: Annotated[
        int, Field(ge=0, le=MAX_LOOKAHEAD_MINUTES, description="Also list tasks due within this many minutes")
    ] = 0,
    limit: Limit = 20,
) -> DueResult:
    """What needs acting on now: fired reminders and overdue tasks. Check it when a session starts."""
    return await _current_due(services, namespace, lookahead_minutes, limit)


@tool_errors
async def dismiss(
    services: ServicesDep,
    firing_ids: Annotated[
        list[FiringId], Field(min_length=1, max_length=MAX_LIMIT, description="firing_id values from due")
    ],
    namespace: Namespace = "default",
) -> DismissResult:
    """Acknowledge fired items from `due` once handled, so they stop showing there."""
    return await services.prospective.dismiss(namespace, tuple(firing_ids), time.time())


async def due_resource(namespace: str, ctx: Context) -> str:
    """What is due or fired in the namespace, as the due tool reports it (JSON)."""
    try:
        _NAMESPACE.validate_python(namespace)
    except ValidationError:
        raise ResourceError(
            f"namespace: {namespace!r} is not a namespace name (letters, digits and _.:/@- only)."
        ) from None
    try:
        return (await _current_due(services_of(ctx), namespace, 0, MAX_LIMIT)).model_dump_json()
    except AthenaError as exc:
        raise ResourceError(str(exc)) from exc


async def _current_due(services: Services, namespace: str, lookahead_minutes: int, limit: int) -> DueResult:
    now = time.time()
    # A pass first, so that what came due since the worker's last tick has fired. It is the worker's
    # work, done early, in every namespace: recorded as the worker's, not as this caller's.
    token = acting_as(WORKER)
    try:
        await services.triggers.run_once(now)
    finally:
        reset_caller(token)
    return await services.prospective.due(namespace, now, lookahead_minutes * 60, limit)
