"""The firing record's key: an occurrence offered twice (a second process, a retried pass) is kept once."""

from __future__ import annotations

from datetime import UTC, datetime

from athena_mcp.memory.prospective import TriggerDraft
from athena_mcp.models import to_seconds
from athena_mcp.store import triggers
from tests.conftest import services_for

T0 = to_seconds(datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC))


async def test_an_occurrence_is_recorded_once_however_often_it_is_offered(settings, minilm):
    async with services_for(settings, minilm) as services:
        trigger = await services.prospective.create_trigger(
            TriggerDraft("default", "at", reminder="r", at=T0 + 60), T0
        )
        async with services.database.transaction() as tx:
            assert await triggers.record_firing(tx, trigger.id, "default", T0 + 60, None, T0 + 60)
            assert not await triggers.record_firing(tx, trigger.id, "default", T0 + 60, None, T0 + 61)
            assert await triggers.record_firing(tx, trigger.id, "default", T0 + 120, None, T0 + 120)
        rows = await services.database.fetchall(
            "SELECT occurrence, fired_at FROM trigger_firings ORDER BY id"
        )
        assert [tuple(row) for row in rows] == [(T0 + 60, T0 + 60), (T0 + 120, T0 + 120)]
