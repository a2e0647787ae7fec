"""Quotas per namespace on triggers and firings: a namespace holds a bounded number of active
triggers, one pass records a bounded number of firings in it, and its undismissed firings are
capped, with its triggers waiting (nothing lost) until some are dismissed. Other namespaces fire on."""

from __future__ import annotations

from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.prospective import TriggerDraft
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client, services_for
from tests.worker.test_triggers import T0, record


@pytest.fixture
def limited(tmp_path: Path) -> Settings:
    return Settings(
        db=tmp_path / "athena.db",
        toolsets=("all",),
        max_active_triggers=3,
        max_pending_firings=12,
        max_firings_per_pass=5,
    )


async def test_a_namespace_holds_at_most_max_active_triggers(limited: Settings, minilm: MiniLMEmbedder):
    async with open_client(limited, minilm) as client:
        ids = [
            (await call(client, "create_trigger", reminder=f"r{n}", after_seconds=600, namespace="ops"))["id"]
            for n in range(3)
        ]
        refused = await call_error(
            client, "create_trigger", reminder="one more", after_seconds=600, namespace="ops"
        )
        assert "namespace 'ops' has 3 active triggers" in refused and "cancel_trigger" in refused
        # Another namespace has its own quota, and a cancelled trigger frees its place.
        await call(client, "create_trigger", reminder="elsewhere", after_seconds=600, namespace="dev")
        await call(client, "cancel_trigger", id=ids[0], namespace="ops")
        await call(client, "create_trigger", reminder="one more", after_seconds=600, namespace="ops")


async def test_repeating_triggers_meeting_a_batch_of_events_fire_within_the_quotas(
    limited: Settings, minilm: MiniLMEmbedder
):
    async with services_for(limited, minilm) as services:
        p = services.prospective
        for n in range(3):
            await p.create_trigger(
                TriggerDraft("ops", "event", reminder=f"r{n}", event_type="error", repeat=True), T0
            )
        await p.create_trigger(
            TriggerDraft("dev", "event", reminder="dev", event_type="error", repeat=True), T0
        )
        await record(services, *[("error", f"error {n}") for n in range(40)], namespace="ops")
        await record(services, ("error", "dev error"), namespace="dev")

        # 3 triggers x 40 events would be 120 firings: a pass records 5 in ops, the dev one fires too.
        assert await services.triggers.run_once(T0) == 5 + 1
        assert await services.triggers.run_once(T0) == 5
        assert await services.triggers.run_once(T0) == 2  # 12 undismissed: ops is full
        assert await services.triggers.run_once(T0) == 0
        due = await p.due("ops", T0, 0, 50)
        assert len(due.fired) == 12 and due.notice is not None and "--max-pending-firings" in due.notice
        assert (await p.due("dev", T0, 0, 50)).notice is None

        # Dismissing makes room; the triggers pick up where they stopped, losing no event.
        await p.dismiss("ops", tuple(item.firing_id for item in due.fired), T0)
        total = 12
        while fired := await services.triggers.run_once(T0):
            assert fired <= 5
            total += fired
            if total % 12 == 0:
                pending = await p.due("ops", T0, 0, 50)
                await p.dismiss("ops", tuple(item.firing_id for item in pending.fired), T0)
        assert total == 3 * 40
        rows = await services.database.fetchall(
            "SELECT trigger_id, count(DISTINCT occurrence) FROM trigger_firings WHERE namespace = 'ops' "
            "GROUP BY trigger_id"
        )
        assert [row[1] for row in rows] == [40, 40, 40]


async def test_scheduled_triggers_of_a_full_namespace_wait_and_fire_later(
    limited: Settings, minilm: MiniLMEmbedder
):
    limited = Settings(db=limited.db, toolsets=("all",), max_active_triggers=50, max_firings_per_pass=5)
    async with services_for(limited, minilm) as services:
        p = services.prospective
        for n in range(8):
            await p.create_trigger(TriggerDraft("ops", "at", reminder=f"r{n}", at=T0 + 60), T0)
        assert await services.triggers.run_once(T0 + 60) == 5
        assert await services.triggers.run_once(T0 + 60) == 3
        assert len((await p.due("ops", T0 + 60, 0, 50)).fired) == 8
