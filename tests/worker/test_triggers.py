"""The trigger worker, with time driven through run_once(now): each kind of trigger fires, exactly
once per occurrence, across crashes, restarts and two workers on one file."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from athena_mcp.memory.prospective import TaskChanges, TaskDraft, TriggerDraft
from athena_mcp.models import to_datetime, to_seconds
from athena_mcp.services import Services, open_services
from athena_mcp.store.memories import NewMemory
from tests.conftest import services_for

T0 = to_seconds(datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC))
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@pytest.fixture
async def services(settings, minilm):
    async with services_for(settings, minilm) as opened:
        yield opened


async def record(services: Services, *events: tuple[str, str], namespace: str = "default") -> list[int]:
    """Record (event type, text) events as record_event does."""
    recorded = await services.episodic.record(
        [NewMemory(system="episodic", namespace=namespace, kind=kind, content=text) for kind, text in events]
    )
    return recorded.ids


async def firings(services: Services) -> list[tuple[int, float]]:
    rows = await services.database.fetchall("SELECT trigger_id, occurrence FROM trigger_firings ORDER BY id")
    return [(row[0], row[1]) for row in rows]


async def test_an_at_trigger_fires_once_when_its_time_comes(services):
    trigger = await services.prospective.create_trigger(
        TriggerDraft("default", "at", reminder="call the bank", at=T0 + HOUR), T0
    )
    assert await services.triggers.run_once(T0 + HOUR - 1) == 0
    assert await services.triggers.run_once(T0 + HOUR) == 1
    assert await services.triggers.run_once(T0 + 2 * HOUR) == 0
    [item] = (await services.prospective.due("default", T0 + 2 * HOUR, 0, 10)).fired
    assert (item.trigger_id, item.kind, item.reminder) == (trigger.id, "at", "call the bank")
    assert item.scheduled_for == to_datetime(T0 + HOUR) and item.fired_at == to_datetime(T0 + HOUR)
    [done] = (await services.prospective.list_triggers("default", ("done",), None, None, 10)).triggers
    assert (done.fired, done.next_fire_at, done.last_fired_at) == (1, None, to_datetime(T0 + HOUR))


async def test_an_after_trigger_fires_its_delay_after_it_was_made(services):
    task = await services.prospective.create_task(TaskDraft("default", "water the plants"), T0)
    await services.prospective.create_trigger(
        TriggerDraft("default", "after", task_id=task.id, after_seconds=90), T0
    )
    assert await services.triggers.run_once(T0 + 89) == 0
    assert await services.triggers.run_once(T0 + 90) == 1
    [item] = (await services.prospective.due("default", T0 + 90, 0, 10)).fired
    assert item.task is not None and item.task.title == "water the plants" and item.reminder is None


async def test_a_cron_trigger_fires_on_each_occurrence_and_keeps_its_schedule(services):
    trigger = await services.prospective.create_trigger(
        TriggerDraft("default", "cron", reminder="stretch", cron="*/15 * * * *"), T0
    )
    assert trigger.next_fire_at == to_datetime(T0 - 30 + 15 * MINUTE)
    for quarter in range(1, 5):
        moment = T0 - 30 + quarter * 15 * MINUTE
        assert await services.triggers.run_once(moment - 1) == 0
        assert await services.triggers.run_once(moment) == 1
    assert [occurrence for _, occurrence in await firings(services)] == [
        T0 - 30 + quarter * 15 * MINUTE for quarter in range(1, 5)
    ]
    [active] = (await services.prospective.list_triggers("default", ("active",), None, None, 10)).triggers
    assert active.next_fire_at == to_datetime(T0 - 30 + 75 * MINUTE) and active.fired == 4


async def test_a_trigger_missed_while_no_server_ran_fires_once_after_the_restart(settings, minilm):
    async with services_for(settings, minilm) as before:
        at = await before.prospective.create_trigger(
            TriggerDraft("default", "at", reminder="stand-up", at=T0 + MINUTE), T0
        )
        cron = await before.prospective.create_trigger(
            TriggerDraft("default", "cron", reminder="every ten minutes", cron="*/10 * * * *"), T0
        )
        assert await before.triggers.run_once(T0 + 1) == 0
    # A day and a bit passes with no server; then one starts.
    later = T0 + DAY + 125
    async with services_for(settings, minilm) as after:
        assert await after.triggers.run_once(later) == 2
        assert await after.triggers.run_once(later) == 0
        assert await after.triggers.run_once(later + MINUTE) == 0
        latest = T0 - 30 + DAY  # 12:00 the next day: the last of the missed occurrences
        assert await firings(after) == [(at.id, T0 + MINUTE), (cron.id, latest)]
        [active] = (await after.prospective.list_triggers("default", ("active",), None, None, 10)).triggers
        assert active.id == cron.id and active.next_fire_at == to_datetime(latest + 10 * MINUTE)


async def test_a_pass_that_fails_before_its_commit_fires_nothing_and_the_next_pass_fires_once(services):
    await services.prospective.create_trigger(TriggerDraft("default", "at", reminder="r", at=T0 + MINUTE), T0)

    def crash_while_advancing(sql: str) -> None:
        if sql.startswith("UPDATE triggers SET next_fire_at"):
            raise OSError("power cut")

    services.database.statement_hook = crash_while_advancing
    with pytest.raises(OSError, match="power cut"):
        await services.triggers.run_once(T0 + MINUTE)
    services.database.statement_hook = None
    assert await firings(services) == []
    assert await services.triggers.run_once(T0 + MINUTE) == 1
    assert await services.triggers.run_once(T0 + MINUTE) == 0
    assert len(await firings(services)) == 1


async def test_an_event_trigger_fires_on_the_first_later_event_that_matches(services):
    await record(services, ("error", "Deploy failed: TIMEOUT talking to the registry"))
    trigger = await services.prospective.create_trigger(
        TriggerDraft(
            "default", "event", reminder="look at the registry", event_type="error", text_contains="timeout"
        ),
        T0,
    )
    await record(
        services,
        ("observation", "the timeout was raised to 30s"),  # right text, wrong type
        ("error", "disk full"),  # right type, wrong text
    )
    await record(services, ("error", "timeout again"), namespace="elsewhere")  # another namespace
    assert await services.triggers.run_once(T0) == 0
    [matching, _] = await record(services, ("error", "Request Timeout in CI"), ("error", "timeout, twice"))
    assert await services.triggers.run_once(T0) == 1
    assert await services.triggers.run_once(T0) == 0
    [item] = (await services.prospective.due("default", T0, 0, 10)).fired
    assert item.trigger_id == trigger.id and item.scheduled_for is None
    assert item.event is not None and (item.event.id, item.event.content) == (
        matching,
        "Request Timeout in CI",
    )
    [done] = (await services.prospective.list_triggers("default", ("done",), None, None, 10)).triggers
    assert done.id == trigger.id


async def test_a_repeating_event_trigger_fires_on_every_match_and_hides_forgotten_events(services):
    await services.prospective.create_trigger(
        TriggerDraft("default", "event", reminder="an error", event_type="error", repeat=True), T0
    )
    ids = await record(services, *[("error", f"error {n}") for n in range(3)], ("message", "hello"))
    assert await services.triggers.run_once(T0) == 3
    await services.semantic.forget("default", ids[0], "pasted a secret")
    events = [item.event for item in (await services.prospective.due("default", T0, 0, 10)).fired]
    assert [None if e is None else e.id for e in events] == [None, ids[1], ids[2]]
    await record(services, ("error", "error 3"))
    assert await services.triggers.run_once(T0) == 1


async def test_closing_a_task_ends_its_triggers_and_dismisses_what_they_fired(services):
    p = services.prospective
    task = await p.create_task(TaskDraft("default", "renew the certificate"), T0)
    await p.create_trigger(TriggerDraft("default", "cron", task_id=task.id, cron="@hourly"), T0)
    assert await services.triggers.run_once(T0 + HOUR) == 1
    [item] = (await p.due("default", T0 + HOUR, 0, 10)).fired
    assert item.task is not None and item.task.id == task.id
    await p.update_task("default", task.id, TaskChanges(status="done"), T0 + HOUR)
    assert (await p.due("default", T0 + HOUR, 0, 10)).fired == []
    assert await services.triggers.run_once(T0 + 3 * HOUR) == 0
    [trigger] = (await p.list_triggers("default", ("done",), task.id, None, 10)).triggers
    assert trigger.next_fire_at is None


async def test_two_workers_on_one_file_fire_every_occurrence_exactly_once(settings, minilm):
    async with services_for(settings, minilm) as a, services_for(settings, minilm) as b:
        await a.prospective.create_trigger(TriggerDraft("default", "at", reminder="once", at=T0 + 90), T0)
        await b.prospective.create_trigger(
            TriggerDraft("default", "cron", reminder="each minute", cron="* * * * *"), T0
        )
        await a.prospective.create_trigger(
            TriggerDraft("default", "event", reminder="each error", event_type="error", repeat=True), T0
        )
        fired = 0
        for minute in range(1, 6):
            await record(a if minute % 2 else b, *[("error", f"minute {minute} error {n}") for n in range(7)])
            # Both workers, twice each, at the same moment; each process's own passes run one at a time.
            counts = await asyncio.gather(*(w.triggers.run_once(T0 + minute * MINUTE) for w in (a, b, a, b)))
            fired += sum(counts)
        assert fired == 1 + 5 + 35
        rows = await a.database.fetchall(
            "SELECT trigger_id, count(*), count(DISTINCT occurrence) FROM trigger_firings GROUP BY trigger_id"
        )
        assert [tuple(row) for row in rows] == [(1, 1, 1), (2, 5, 5), (3, 35, 35)]


async def test_each_process_announces_firings_recorded_by_any_process(settings, minilm):
    heard: dict[str, list[list[str]]] = {"a": [], "b": []}

    def listener(name: str):
        async def on_fired(namespaces: Sequence[str]) -> None:
            heard[name].append(list(namespaces))

        return on_fired

    async with (
        open_services(settings, minilm, background=False, on_fired=listener("a")) as a,
        open_services(settings, minilm, background=False, on_fired=listener("b")) as b,
    ):
        # Each starts following the firings on its first pass; what came before is not news.
        assert await a.triggers.run_once(T0) == await b.triggers.run_once(T0) == 0
        await a.prospective.create_trigger(TriggerDraft("team", "at", reminder="retro", at=T0 + MINUTE), T0)
        await a.prospective.create_trigger(TriggerDraft("solo", "at", reminder="gym", at=T0 + MINUTE), T0)
        assert await a.triggers.run_once(T0 + MINUTE) == 2
        assert await b.triggers.run_once(T0 + MINUTE) == 0
        assert heard == {"a": [["solo", "team"]], "b": [["solo", "team"]]}
        await a.triggers.run_once(T0 + HOUR)
        await b.triggers.run_once(T0 + HOUR)
        assert heard == {"a": [["solo", "team"]], "b": [["solo", "team"]]}
