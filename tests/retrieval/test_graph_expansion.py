"""Graph expansion through the recall tool: memories linked by an entity to the top hits."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from mcp import Client

from athena_mcp.settings import Settings
from athena_mcp.store import mentions
from athena_mcp.store.database import Database
from tests.conftest import call, call_error, open_client, wait_for

NOISE = [
    "The quarterly budget review is on Thursday.",
    "Coffee machine on floor two is broken again.",
    "Remember to water the office plants.",
    "The printer needs new toner cartridges.",
    "Parking permits renew in January.",
    "The team lunch moved to the Italian place.",
]


async def seed(client: Client, settings: Settings) -> tuple[int, int]:
    """A fact that names Beatrix and one about her that never says "sister"; Beatrix becomes an entity
    after both were written, so linking must find the earlier memories."""
    sister = (await call(client, "remember", content="Alice's sister is called Beatrix."))["id"]
    job = (await call(client, "remember", content="Beatrix works as a marine biologist in Lisbon."))["id"]
    for text in NOISE:
        await call(client, "remember", content=text)
    await call(
        client, "create_entities", entities=[{"name": "Beatrix", "entityType": "person", "observations": []}]
    )
    async with Database.open(settings.db) as db:

        async def linked() -> bool:
            return await mentions.backlog_size(db) == 0 and not await mentions.stale_namespaces(db)

        await wait_for(linked)
    return sister, job


def graph_of(result: dict[str, Any], memory_id: int) -> dict[str, Any] | None:
    [hit] = [hit for hit in result["results"] if hit["id"] == memory_id]
    return hit["explain"]["graph"]


async def test_recall_brings_in_a_memory_linked_through_an_entity_and_explains_the_path(settings, minilm):
    async with open_client(settings, minilm) as client:
        sister, job = await seed(client, settings)
        query = "Who is Alice's sister?"
        plain = await call(client, "recall", query=query, limit=3, explain=True)
        assert plain["results"][0]["id"] == sister
        assert all(hit["explain"]["graph"] is None for hit in plain["results"])

        expanded = await call(client, "recall", query=query, limit=3, explain=True, expand_graph=True)
        ids = [hit["id"] for hit in expanded["results"]]
        assert ids[:2] == [sister, job]
        path = graph_of(expanded, job)
        assert path is not None
        assert path["via"] == sister and path["entity"] == "Beatrix" and path["entity_id"] > 0
        assert 0 < path["contribution"] < expanded["results"][0]["explain"]["fused"]


async def test_the_setting_turns_expansion_on_and_the_argument_overrides_it(settings, minilm):
    settings = dataclasses.replace(settings, graph_expansion=True)
    async with open_client(settings, minilm) as client:
        _, job = await seed(client, settings)
        query = "Who is Alice's sister?"
        by_default = await call(client, "recall", query=query, limit=3, explain=True)
        assert graph_of(by_default, job) is not None
        turned_off = await call(client, "recall", query=query, limit=3, explain=True, expand_graph=False)
        assert all(hit["explain"]["graph"] is None for hit in turned_off["results"])
        # Filters still hold for what expansion brings in.
        episodic = await call(
            client, "recall", query=query, memory_types=["episodic"], explain=True, expand_graph=True
        )
        assert episodic["results"] == []


async def test_a_name_mentioned_almost_everywhere_brings_nothing_in(settings, minilm):
    async with open_client(settings, minilm) as client:
        for n in range(30):
            await call(client, "record_event", content=f"In standup {n}, Zed reported progress on task {n}")
        fixed = await call(client, "record_event", content="the flaky login test was fixed by Zed and Yara")
        notes = await call(client, "record_event", content="the release notes were written by Yara")
        async with Database.open(settings.db) as db:

            async def linked() -> bool:
                return await mentions.backlog_size(db) == 0

            await wait_for(linked)
        result = await call(
            client, "recall", query="who fixed the flaky login test", limit=3, explain=True, expand_graph=True
        )
        assert result["results"][0]["id"] == fixed["ids"][0]
        paths = {hit["id"]: hit["explain"]["graph"] for hit in result["results"] if hit["explain"]["graph"]}
        # Yara is in two memories of 32 and links them; Zed is in 31, too common to say anything.
        assert paths[notes["ids"][0]]["entity"] == "yara" and paths[notes["ids"][0]]["entity_id"] is None
        assert {path["entity"] for path in paths.values()} == {"yara"}


async def test_expand_graph_must_be_a_boolean(settings, minilm):
    async with open_client(settings, minilm) as client:
        error = await call_error(client, "recall", query="x", expand_graph="sometimes")
        assert "expand_graph" in error


def test_the_setting_reads_true_and_false_from_flags_and_environment():
    assert Settings().graph_expansion is False
    assert Settings.load({"graph_expansion": "true"}).graph_expansion is True
    assert Settings.load(env={"ATHENA_GRAPH_EXPANSION": "off"}).graph_expansion is False
    with pytest.raises(ValueError, match="graph_expansion: cannot use 'maybe'"):
        Settings.load({"graph_expansion": "maybe"})
