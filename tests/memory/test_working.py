"""Working memory: a bounded set per session that rises with use, fades without it, and is shared by
every process of the session."""

from __future__ import annotations

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.working import DECAY, WorkingMemory
from athena_mcp.settings import Settings
from athena_mcp.store import memories
from athena_mcp.store.memories import NewMemory
from tests.conftest import call, call_error, open_client, services_for

pytestmark = pytest.mark.timeout(120)


async def _facts(services: object, count: int, namespace: str = "default") -> list[int]:
    async with services.database.transaction() as tx:  # type: ignore[attr-defined]
        return await memories.insert_memories(
            tx,
            [NewMemory("semantic", namespace, "fact", f"fact number {n} about things") for n in range(count)],
        )


async def test_the_set_is_bounded_and_the_least_active_leave(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        ids = await _facts(services, 10)
        working = WorkingMemory(services.database, capacity=3)
        await working.touch("default", "s", {ids[0]: "changed"})
        for memory_id in ids[1:5]:
            await working.touch("default", "s", {memory_id: "recalled"})
        held = await working.view("default", "s")
    # The change outweighs four steps of decay; of the recalled ones the latest stay.
    assert [item.id for item in held.items] == [ids[0], ids[4], ids[3]]
    assert held.items[0].activation == pytest.approx(2.0 * DECAY**4, rel=1e-3)


async def test_a_pinned_memory_stays_and_a_dropped_one_goes(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        ids = await _facts(services, 6)
        working = WorkingMemory(services.database, capacity=2)
        await working.pin("default", "s", [ids[0]], [])
        for memory_id in ids[1:6]:
            await working.touch("default", "s", {memory_id: "changed"})
        held = await working.view("default", "s")
        assert held.items[0].id == ids[0] and held.items[0].pinned and len(held.items) == 2
        dropped = await working.pin("default", "s", [], [ids[0]])
    assert ids[0] not in [item.id for item in dropped.items]


async def test_a_session_sees_only_its_own_namespace_and_a_forgotten_memory_leaves(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        [mine] = await _facts(services, 1)
        [theirs] = await _facts(services, 1, namespace="other")
        await services.working.touch("default", "s", {mine: "cited", theirs: "cited"})
        assert [item.id for item in (await services.working.view("default", "s")).items] == [mine]
        assert (await services.working.view("other", "s")).items == []
        await services.semantic.forget("default", mine, "wrong")
        assert (await services.working.view("default", "s")).items == []


async def test_the_set_biases_the_sessions_ranking_only(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with services_for(settings, minilm) as services:
        ids = await _facts(services, 3)
        await services.working.touch("default", "s", {ids[2]: "cited"})
        bias = await services.working.bias("default", "s")
        assert bias == {ids[2]: pytest.approx(0.2)}
        assert await services.working.bias("default", "another session") == {}


async def test_closing_a_session_records_its_set_as_an_event(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        ids = await _facts(services, 2)
        await services.working.touch("default", "s", {ids[0]: "cited", ids[1]: "recalled"})
        event_id = await services.working.close("default", "s")
        assert event_id is not None
        event = await memories.get_memory(services.database, "default", event_id)
        assert event is not None and event.session_id == "s" and event.system == "episodic"
        assert f"[{ids[0]}] fact number 0" in event.content and event.context == {
            "memory_ids": [ids[0], ids[1]]
        }
        assert (await services.working.view("default", "s")).items == []
        assert await services.working.close("default", "s") is None


async def test_focus_through_mcp_shows_pins_and_names_bad_ids(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="The deploy key lives in Doppler")
        shown = await call(client, "focus", session_id="s1", pin=[stored["id"]])
        assert [(item["id"], item["pinned"]) for item in shown["items"]] == [(stored["id"], True)]
        assert "pin: no active memory 999" in await call_error(client, "focus", session_id="s1", pin=[999])
        assert (await call(client, "focus", session_id="s1", namespace="other"))["items"] == []
