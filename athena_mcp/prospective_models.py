"""Prospective memory's domain models: tasks, goals, triggers and what is due, as the tools return them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.models import Memory

TaskStatus = Literal["todo", "in_progress", "blocked", "done", "cancelled"]
OPEN_STATUSES: tuple[TaskStatus, ...] = ("todo", "in_progress", "blocked")
CLOSED_STATUSES: tuple[TaskStatus, ...] = ("done", "cancelled")
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")  # stored as the index
TriggerKind = Literal["at", "after", "event", "cron"]
TriggerStatus = Literal["active", "done", "cancelled"]


class Task(BaseModel):
    id: int
    namespace: str
    title: str
    notes: str | None
    status: TaskStatus
    priority: Priority
    due: datetime | None = Field(description="When it is due (UTC)")
    overdue: bool = Field(description="Still open and past its due time")
    goal_id: int | None
    depends_on: list[int] = Field(description="Tasks this one waits for")
    blocked_by: list[int] = Field(description="Those of depends_on that are neither done nor cancelled")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = Field(description="When it became done or cancelled")


class TaskPage(BaseModel):
    tasks: list[Task]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class Goal(BaseModel):
    id: int
    namespace: str
    title: str
    notes: str | None
    due: datetime | None
    tasks: int = Field(description="Tasks linked to this goal")
    done: int
    cancelled: int
    progress: float | None = Field(
        description="done / (tasks - cancelled), from 0 to 1; null while no task counts"
    )
    complete: bool = Field(description="Every task that counts is done")
    created_at: datetime
    updated_at: datetime


class GoalPage(BaseModel):
    goals: list[Goal]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class Trigger(BaseModel):
    id: int
    namespace: str
    kind: TriggerKind
    status: TriggerStatus = Field(description="done: fired its last time (or its task was closed)")
    task_id: int | None
    reminder: str | None
    at: datetime | None = Field(description="at and after: the time it fires")
    cron: str | None
    event_type: str | None
    text_contains: str | None
    repeat: bool = Field(description="event: fires on every matching event, not only the first")
    next_fire_at: datetime | None = Field(description="The next scheduled time, for active time triggers")
    fired: int = Field(description="How many times it has fired")
    last_fired_at: datetime | None
    created_at: datetime


class TriggerPage(BaseModel):
    triggers: list[Trigger]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class TriggerStatusResult(BaseModel):
    id: int
    status: TriggerStatus
    changed: bool = Field(description="False when the trigger was no longer active")


class FiredItem(BaseModel):
    firing_id: int = Field(description="Pass to dismiss once handled")
    trigger_id: int
    kind: TriggerKind
    fired_at: datetime
    scheduled_for: datetime | None = Field(description="The occurrence that fired (at, after, cron)")
    reminder: str | None
    task: Task | None = Field(description="The task the trigger is attached to, as it is now")
    event: Memory | None = Field(
        description="The event that fired it (event triggers), unless since forgotten"
    )


class DueResult(BaseModel):
    now: datetime
    fired: list[FiredItem] = Field(description="Triggers that fired and are not dismissed, oldest first")
    tasks: list[Task] = Field(description="Open tasks due by now (or within the lookahead), soonest first")
    truncated: bool = Field(
        description="True when limit cut either list short; handle and dismiss, then ask again"
    )
    notice: str | None = Field(
        default=None, description="Set when the namespace holds the most fired items it may: dismiss some"
    )


class DismissResult(BaseModel):
    dismissed: list[int] = Field(description="Fired items dismissed by this call")
    already_dismissed: list[int]
