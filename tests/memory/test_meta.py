"""Meta-memory: what is known about a topic, how surely, what contradicts, and what found nothing."""

from __future__ import annotations

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, open_client, services_for

pytestmark = pytest.mark.timeout(120)


async def test_know_counts_what_bears_on_a_topic_and_finds_contradicting_facts(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="The public API rate limit is 100 requests per minute")
        second = await call(
            client, "remember", content="The public API rate limit is 250 requests per minute"
        )
        await call(client, "remember", content="Oat milk is in the office fridge")
        await call(
            client,
            "record_event",
            content="Hit the API rate limit during the import",
            event_type="error",
            session_id="s1",
        )
        known = await call(client, "know", topic="API rate limit")
    assert known["facts"] == 2 and known["events"] == 1
    [contradiction] = known["contradictions"]
    assert (
        set(contradiction["ids"]) == {first["id"], second["id"]} and contradiction["differs_in"] == "numbers"
    )
    assert known["sureness"] == "little"  # two facts disagree
    assert known["first_seen"] is not None and known["last_changed"] is not None


async def test_questions_that_found_nothing_are_gaps_until_they_find_something(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="Deploys go through GitHub Actions")
        await call(client, "recall", query="who owns the billing service?")
        await call(client, "recall", query="who owns the billing service?")
        await call(client, "recall", query="how do deploys run?")
        gaps = (await call(client, "know", topic="billing"))["gaps"]
        assert [(gap["query"], gap["asked"]) for gap in gaps] == [("who owns the billing service?", 2)]
        assert (await call(client, "know", topic="billing"))["sureness"] == "nothing"
        await call(client, "remember", content="The billing service is owned by the payments team")
        await call(client, "recall", query="who owns the billing service?")
        assert (await call(client, "know", topic="billing"))["gaps"] == []
        # A gap belongs to its namespace.
        await call(client, "recall", query="where is the staging database?", namespace="other")
        assert (await call(client, "know", topic="staging"))["gaps"] == []


async def test_gaps_survive_in_the_database_once_flushed(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with services_for(settings, minilm) as services:
        services.meta.note_search(("default",), "where is the runbook?", 0.01)
        services.meta.note_search(("default",), "where is the runbook?", 0.02)
        await services.meta.flush_searches()
        services.meta.note_search(("default",), "where is the runbook?", 0.0)
        [gap] = (await services.meta.know("default", "runbook")).gaps
        assert (gap.query, gap.asked) == ("where is the runbook?", 3)
        await services.meta.flush_searches()
        [row] = await services.database.fetchall("SELECT asked FROM recall_misses")
        assert row[0] == 3


async def test_a_secret_in_a_question_is_never_kept_and_a_filtered_question_is_no_gap(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    token = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
    async with open_client(settings, minilm) as client:
        await call(client, "recall", query=f"why does {token} get refused by the API?")
        await call(client, "recall", query="what changed in the billing rules?", tags=["billing"])
        gaps = (await call(client, "know", topic="API token refused"))["gaps"]
    assert [gap["query"] for gap in gaps] == ["why does [redacted:github-token] get refused by the API?"]
