"""Neighbouring-event context through the recall tools."""

from __future__ import annotations

from athena_mcp.retrieval.context import NEIGHBOUR_WEIGHTS
from athena_mcp.store import memories
from athena_mcp.store.memories import NewMemory, adjacent_events_sql
from tests.conftest import call, open_client, services_for


async def test_the_reply_next_to_a_matching_question_is_recalled_with_it(settings, minilm):
    async with open_client(settings, minilm) as client:
        turns = [
            "Caroline asked: what should we name the new puppy?",
            "Melanie answered: Biscuit, because of her colour.",
            "Caroline said the weather was lovely on the lake today.",
            "Melanie mentioned her sister is visiting in June.",
        ]
        ids = (
            await call(
                client,
                "record_events",
                events=[{"content": text, "session_id": "chat-1", "event_type": "message"} for text in turns],
            )
        )["ids"]
        result = await call(client, "recall_events", query="name for the new puppy", limit=2, explain=True)
        assert [hit["id"] for hit in result["results"]][:2] == [ids[0], ids[1]]
        reply = result["results"][1]
        assert reply["explain"]["context"] == {
            "neighbour": ids[0],
            "contribution": reply["explain"]["context"]["contribution"],
        }
        assert reply["explain"]["context"]["contribution"] > 0


async def test_context_never_crosses_sessions_or_brings_in_filtered_out_events(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = (await call(client, "record_event", content="Which puppy name did we pick?", session_id="a"))[
            "ids"
        ]
        other = (await call(client, "record_event", content="Unrelated note about taxes", session_id="b"))[
            "ids"
        ]
        hidden = (
            await call(
                client, "record_event", content="Another unrelated note", session_id="a", event_type="error"
            )
        )["ids"]
        result = await call(
            client, "recall_events", query="puppy name", event_type=["observation"], limit=5, explain=True
        )
        returned = {hit["id"]: hit["explain"]["context"] for hit in result["results"]}
        assert next(iter(returned)) == first[0]
        assert hidden[0] not in returned  # adjacent to the match, but filtered out by event_type
        assert returned[other[0]] is None  # found by the dense signal, never lent context across sessions


async def test_facts_lend_no_context(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="The puppy is called Biscuit")
        await call(client, "remember", content="Taxes are due in April")
        result = await call(client, "recall", query="puppy", memory_types=["semantic"], explain=True)
        assert all(hit["explain"]["context"] is None for hit in result["results"])


async def test_neighbours_are_found_through_the_session_index(settings, minilm):
    async with services_for(settings, minilm) as services:
        sql = adjacent_events_sql(len(NEIGHBOUR_WEIGHTS))
        plan = await services.database.fetchall(f"EXPLAIN QUERY PLAN {sql}", ("[1]",))
    steps = [row[3] for row in plan]
    # The index of the sessions' active events (schema/0013_preceding_context.sql).
    found = sum("USING INDEX memories_active_by_session" in step for step in steps)
    assert found == 2 * len(NEIGHBOUR_WEIGHTS), steps


async def test_neighbours_are_reported_with_their_distance_up_to_the_reach(settings, minilm):
    async with services_for(settings, minilm) as services:
        events = [
            NewMemory(
                system="episodic", namespace="default", kind="message", content=f"turn {n}", session_id="s"
            )
            for n in range(6)
        ]
        ids = (await services.episodic.record(events)).ids
        await services.episodic.record(
            [NewMemory("episodic", "default", "message", "elsewhere", session_id="t")]
        )
        adjacent = await memories.adjacent_events(services.database, [ids[2], ids[0]], reach=2)
    assert adjacent[ids[2]] == [(ids[1], 1), (ids[3], 1), (ids[0], 2), (ids[4], 2)]
    assert adjacent[ids[0]] == [(ids[1], 1), (ids[2], 2)]
