"""Consolidation's products must not crowd out the events they came from in `recall`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from athena_mcp.consolidation.extraction import digest_text
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.settings import Settings
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory, insert_memories
from tests.conftest import call, open_client, services_for

JUNE_2023 = datetime(2023, 6, 27, 9, 0, tzinfo=UTC)


def test_a_digest_says_how_long_its_session_took_not_when():
    text = digest_text("s1", 0.0, 95 * 60.0, 12, None, [("message", "We shipped the release")])
    assert text.splitlines()[0] == "Session s1: 12 events over 1 h 35 min, outcome unknown."
    assert (
        digest_text("s2", 0.0, 59.0, 3, "success", []) == "Session s2: 3 events over 1 min, outcome success."
    )


async def test_a_question_naming_a_year_finds_the_event_not_every_digest_of_that_year(tmp_path, minilm):
    """Digests used to print their session's dates: "2023" then matched every digest and no event."""
    settings = Settings(toolsets=("all",), db=tmp_path / "athena.db", consolidation_interval=0)
    sessions = {
        f"s{day}": [
            "Migrated the billing service to the new cluster",
            "Ran the integration tests against staging",
            f"Paired on code review number {day}",
        ]
        for day in range(5)
    }
    sessions["s0"][1] = "The family went to a charity run for the local shelter"
    events = [
        {
            "content": text,
            "session_id": session,
            "timestamp": (JUNE_2023 + timedelta(days=day, minutes=n)).isoformat(),
        }
        for day, (session, texts) in enumerate(sessions.items())
        for n, text in enumerate(texts)
    ]
    async with open_client(settings, minilm) as client:
        recorded = (await call(client, "record_events", events=events))["ids"]
        report = await call(client, "consolidate", settle_seconds=0)
        assert report["digests"] == 5, report
        found = await call(client, "recall", query="What event did the family attend in June 2023?", limit=3)
        assert found["results"][0]["id"] == recorded[1]
        digests = [hit for hit in found["results"] if hit["kind"] == "episode"]
        assert all(not re.search(r"\b20\d\d\b", hit["content"]) for hit in digests)


async def test_a_product_ranked_below_an_event_it_came_from_gives_its_place_to_the_next_memory(
    settings, minilm
):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            event, product, other = await insert_memories(
                tx,
                [
                    NewMemory("episodic", "default", "decision", "Blue green deploys", session_id="s"),
                    NewMemory(
                        "semantic", "default", "fact", "Deploys are blue green, switched at the balancer"
                    ),
                    NewMemory("semantic", "default", "fact", "Green tea is in the kitchen cupboard"),
                ],
            )
            await tx.execute(
                "INSERT INTO provenance (product_type, product_id, memory_id, run_id) "
                "VALUES ('memory', ?, ?, 0)",
                (product, event),
            )
        request = SearchRequest("blue green deploys", MemoryFilter(namespaces=("default",)), limit=2)
        assert [hit.id for hit in (await services.search.search(request)).results] == [event, other]
        # Not a product of it, a memory ranked below the event keeps its place.
        async with services.database.transaction() as tx:
            await tx.execute("DELETE FROM provenance")
        assert [hit.id for hit in (await services.search.search(request)).results] == [event, product]
