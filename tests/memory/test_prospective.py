"""Prospective memory's rules, with time passed in: due and overdue, goal progress, dependency cycles,
impossible dates, triggers' fields, and namespaces that never leak."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from athena_mcp.errors import Conflict, InvalidInput, NotFound
from athena_mcp.memory.prospective import TaskChanges, TaskDraft, TaskQuery, TriggerDraft
from athena_mcp.models import to_datetime, to_seconds
from athena_mcp.services import Services
from tests.conftest import services_for

T0 = to_seconds(datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC))
HOUR = 3600.0


@pytest.fixture
async def services(settings, minilm):
    async with services_for(settings, minilm) as opened:
        yield opened


async def add(services: Services, title: str, namespace: str = "default", **fields) -> int:
    return (await services.prospective.create_task(TaskDraft(namespace, title, **fields), T0)).id


async def test_overdue_tasks_are_the_open_ones_past_their_due_time(services):
    p = services.prospective
    late = await add(services, "late", due_at=T0 + HOUR)
    soon = await add(services, "soon", due_at=T0 + 3 * HOUR)
    await add(services, "whenever")
    finished = await add(services, "finished", due_at=T0 + HOUR)
    await p.update_task("default", finished, TaskChanges(status="done"), T0)

    now = T0 + 2 * HOUR
    overdue = await p.list_tasks(TaskQuery("default", overdue=True), None, 10, now)
    assert [(t.id, t.overdue) for t in overdue.tasks] == [(late, True)]
    due = await p.due("default", now, 0, 10)
    assert [t.id for t in due.tasks] == [late] and due.fired == [] and not due.truncated
    ahead = await p.due("default", now, 2 * HOUR, 10)
    assert [t.id for t in ahead.tasks] == [late, soon]
    done = await p.list_tasks(TaskQuery("default", statuses=("done",)), None, 10, now)
    assert [(t.id, t.overdue, t.closed_at) for t in done.tasks] == [(finished, False, to_datetime(T0))]
    with pytest.raises(InvalidInput, match="overdue: only open tasks"):
        await p.list_tasks(TaskQuery("default", statuses=("done",), overdue=True), None, 10, now)


async def test_tasks_list_soonest_due_first_and_page_through_ties_exactly_once(services):
    dues = [T0 + 5 * HOUR, None, T0 + HOUR, T0 + HOUR, None, T0 + 2 * HOUR, T0 + HOUR]
    ids = [await add(services, f"task {n}", due_at=due) for n, due in enumerate(dues)]
    expected = [ids[2], ids[3], ids[6], ids[5], ids[0], ids[1], ids[4]]
    seen, cursor = [], None
    while True:
        page = await services.prospective.list_tasks(TaskQuery("default"), cursor, 2, T0)
        seen += [t.id for t in page.tasks]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == expected
    before = await services.prospective.list_tasks(
        TaskQuery("default", due_before=T0 + 2 * HOUR), None, 10, T0
    )
    assert [t.id for t in before.tasks] == expected[:3]


async def test_goal_progress_counts_done_tasks_out_of_those_not_cancelled(services):
    p = services.prospective
    goal = (await p.create_goal("default", "Launch", "v1 out", T0 + 24 * HOUR, T0)).id
    empty = (await p.create_goal("default", "Someday", None, None, T0)).id
    tasks = [await add(services, f"step {n}", goal_id=goal) for n in range(4)]
    await p.update_task("default", tasks[0], TaskChanges(status="done"), T0)
    await p.update_task("default", tasks[1], TaskChanges(status="cancelled"), T0)
    goals = {g.id: g for g in (await p.list_goals("default", None, 10)).goals}
    assert (goals[goal].tasks, goals[goal].done, goals[goal].cancelled) == (4, 1, 1)
    assert goals[goal].progress == pytest.approx(1 / 3) and not goals[goal].complete
    assert goals[empty].progress is None and not goals[empty].complete

    for task in tasks[2:]:
        await p.update_task("default", task, TaskChanges(status="done"), T0)
    [launch] = [g for g in (await p.list_goals("default", None, 10)).goals if g.id == goal]
    assert launch.progress == 1 and launch.complete
    listed = await p.list_tasks(TaskQuery("default", statuses=("done",), goal_id=goal), None, 10, T0)
    assert {t.id for t in listed.tasks} == {tasks[0], *tasks[2:]}


async def test_a_dependency_that_would_close_a_cycle_is_refused_naming_the_chain(services):
    p = services.prospective
    a = await add(services, "a")
    b = await add(services, "b", depends_on=(a,))
    c = await add(services, "c", depends_on=(b,))
    with pytest.raises(Conflict) as refused:
        await p.update_task("default", a, TaskChanges(depends_on=(c,)), T0)
    assert f"task {c} already depends on task {a} ({c} → {b} → {a})" in str(refused.value)
    with pytest.raises(InvalidInput, match="cannot depend on itself"):
        await p.update_task("default", a, TaskChanges(depends_on=(a,)), T0)
    # The refused change left everything as it was.
    assert (await p.list_tasks(TaskQuery("default"), None, 10, T0)).tasks[0].depends_on == []

    # Once c no longer waits for b (and so, through b, for a), a may depend on c.
    await p.update_task("default", c, TaskChanges(depends_on=()), T0)
    updated = await p.update_task("default", a, TaskChanges(depends_on=(c,)), T0)
    assert updated.depends_on == [c] and updated.blocked_by == [c]
    await p.update_task("default", c, TaskChanges(status="done"), T0)
    [after] = [t for t in (await p.list_tasks(TaskQuery("default"), None, 10, T0)).tasks if t.id == a]
    assert after.depends_on == [c] and after.blocked_by == []


async def test_impossible_dates_are_refused_saying_what_time_it_is(services):
    p = services.prospective
    # A reminder set in the past would never remind: it is refused, where a late task is not.
    with pytest.raises(
        InvalidInput,
        match=r"at: 2030-01-01T11:59:30Z is before the time now \(2030-01-01T12:00:30Z\); .*after_seconds",
    ):
        await p.create_trigger(TriggerDraft("default", "at", reminder="r", at=T0 - 60), T0)
    with pytest.raises(InvalidInput, match=r"cron: .* never fires"):
        await p.create_trigger(TriggerDraft("default", "cron", reminder="r", cron="0 9 30 2 *"), T0)


async def test_a_due_time_in_the_past_is_recorded_and_the_task_is_overdue(services):
    p = services.prospective
    late = await p.create_task(TaskDraft("default", "late already", due_at=T0 - HOUR), T0)
    assert late.due == to_datetime(T0 - HOUR) and late.overdue
    goal = await p.create_goal("default", "g", None, T0 - 1, T0)
    assert goal.due == to_datetime(T0 - 1)
    # Even before the task was created: it was due then, and is overdue now.
    task = await add(services, "t")
    moved = await p.update_task("default", task, TaskChanges(due_at=T0 - 2 * HOUR), T0 + HOUR)
    assert moved.due == to_datetime(T0 - 2 * HOUR) and moved.overdue
    assert [t.id for t in (await p.due("default", T0 + HOUR, 0, 10)).tasks] == [moved.id, late.id]


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        (TriggerDraft("default", "at", reminder="r"), "at: required for a trigger of kind at"),
        (TriggerDraft("default", "event", reminder="r"), "event_type or text_contains: required"),
        (
            TriggerDraft("default", "cron", reminder="r", cron="* * * * *", at=T0 + 60),
            "at: only for at triggers",
        ),
        (
            TriggerDraft("default", "after", reminder="r", after_seconds=5, repeat=True),
            "repeat: only for event",
        ),
        (TriggerDraft("default", "at", at=T0 + 60), "task_id or reminder"),
    ],
)
async def test_a_trigger_takes_exactly_the_fields_of_its_kind(services, draft, message):
    with pytest.raises(InvalidInput, match=message):
        await services.prospective.create_trigger(draft, T0)


async def test_clear_empties_fields_and_cannot_be_combined_with_setting_them(services):
    p = services.prospective
    goal = (await p.create_goal("default", "g", None, None, T0)).id
    task = await add(services, "t", notes="n", due_at=T0 + HOUR, goal_id=goal)
    cleared = await p.update_task(
        "default", task, TaskChanges(clear=frozenset({"due", "goal_id", "notes"})), T0
    )
    assert (cleared.due, cleared.goal_id, cleared.notes) == (None, None, None)
    with pytest.raises(InvalidInput, match="due: given and also listed in clear"):
        await p.update_task("default", task, TaskChanges(due_at=T0 + HOUR, clear=frozenset({"due"})), T0)


async def test_no_id_crosses_namespaces(services):
    p = services.prospective
    theirs = await add(services, "private", namespace="alice")
    goal = (await p.create_goal("alice", "secret goal", None, None, T0)).id
    trigger = (await p.create_trigger(TriggerDraft("alice", "at", task_id=theirs, at=T0 + 60), T0)).id
    await services.triggers.run_once(T0 + 61)
    [fired] = (await p.due("alice", T0 + 61, 0, 10)).fired

    attempts = [
        (lambda: p.update_task("bob", theirs, TaskChanges(title="mine now"), T0), "id: no task"),
        (lambda: p.create_task(TaskDraft("bob", "x", depends_on=(theirs,)), T0), "depends_on: no task"),
        (lambda: p.create_task(TaskDraft("bob", "x", goal_id=goal), T0), "goal_id: no goal"),
        (lambda: p.list_tasks(TaskQuery("bob", goal_id=goal), None, 10, T0), "goal_id: no goal"),
        (
            lambda: p.create_trigger(TriggerDraft("bob", "at", task_id=theirs, at=T0 + 60), T0),
            "task_id: no task",
        ),
        (lambda: p.cancel_trigger("bob", trigger, T0), "id: no trigger"),
        (lambda: p.dismiss("bob", (fired.firing_id,), T0), "firing_ids: no fired item"),
    ]
    for attempt, message in attempts:
        with pytest.raises(NotFound) as refused:
            await attempt()
        assert message in str(refused.value) and "'bob'" in str(refused.value)
        assert "alice" not in str(refused.value) and "private" not in str(refused.value)
    assert (await p.due("bob", T0 + 61, 0, 10)).fired == []
    assert (await p.list_tasks(TaskQuery("bob"), None, 10, T0)).tasks == []
    assert (await p.list_goals("bob", None, 10)).goals == []
    assert (await p.list_triggers("bob", ("active", "done", "cancelled"), None, None, 10)).triggers == []


async def test_a_closed_task_takes_no_new_trigger(services):
    task = await add(services, "t", status="done")
    with pytest.raises(Conflict, match=r"task_id: task .* is done; reopen it"):
        await services.prospective.create_trigger(
            TriggerDraft("default", "after", task_id=task, after_seconds=60), T0
        )


async def test_cancelling_a_trigger_is_reported_once_and_keeps_what_it_fired(services):
    p = services.prospective
    trigger = (
        await p.create_trigger(TriggerDraft("default", "cron", reminder="hourly", cron="@hourly"), T0)
    ).id
    await services.triggers.run_once(T0 + HOUR)
    first = await p.cancel_trigger("default", trigger, T0 + HOUR)
    again = await p.cancel_trigger("default", trigger, T0 + HOUR)
    assert (first.status, first.changed, again.status, again.changed) == (
        "cancelled",
        True,
        "cancelled",
        False,
    )
    assert await services.triggers.run_once(T0 + 5 * HOUR) == 0
    [item] = (await p.due("default", T0 + 5 * HOUR, 0, 10)).fired
    assert item.reminder == "hourly" and item.scheduled_for == to_datetime(T0 - 30 + HOUR)
    dismissed = await p.dismiss("default", (item.firing_id, item.firing_id), T0)
    assert dismissed.dismissed == [item.firing_id] and dismissed.already_dismissed == []
    assert (await p.dismiss("default", (item.firing_id,), T0)).already_dismissed == [item.firing_id]
    assert (await p.due("default", T0 + 5 * HOUR, 0, 10)).fired == []
