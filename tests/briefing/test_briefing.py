"""The briefing: every memory system in sections, each item once with its id, fitted to the budget,
through the tool, the prompt and the resource."""

from __future__ import annotations

import time

import pytest
from mcp.client import Client

from athena_mcp.briefing.models import BriefingRequest
from athena_mcp.briefing.tokens import count_tokens
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.store.memories import NewMemory
from tests.conftest import call, call_error, open_client, services_for

pytestmark = pytest.mark.timeout(120)

FACTS = [
    ("The app is hosted on Fly.io in the ams region.", 0.8),
    ("Maria Lopez reviews all database migrations before they merge.", 0.7),
    ("API keys and passwords live in Doppler, project athena.", 0.6),
    ("Feature flags use Unleash, self-hosted.", 0.4),
]


async def _project(client: Client) -> dict[str, int]:
    ids = {}
    for content, importance in FACTS:
        ids[content] = (await call(client, "remember", content=content, importance=importance))["id"]
    await call(
        client,
        "create_task",
        title="Migrate the users table to bigint ids",
        priority="high",
        due="2020-01-01T00:00:00Z",
    )
    await call(client, "create_task", title="Write the release notes")
    await call(
        client,
        "save_procedure",
        name="deploy",
        goal="Deploy the app to Fly.io",
        steps=["run the tests", "fly deploy", "check /health"],
    )
    await call(
        client,
        "record_events",
        events=[
            {
                "content": "Decided to keep SQLite for the job queue",
                "event_type": "decision",
                "session_id": "s1",
            },
            {
                "content": "pytest failed: ImportError in jobs/queue.py",
                "event_type": "error",
                "outcome": "failure",
                "session_id": "s1",
            },
            {"content": "ran the linters", "event_type": "action", "session_id": "s1"},
        ],
    )
    return ids


async def test_an_overview_shows_every_system_in_reading_order_with_ids(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        await _project(client)
        briefing = await call(client, "brief")
    names = [section["name"] for section in briefing["sections"]]
    assert names == ["known", "lately", "open", "procedures"]
    text = briefing["text"]
    assert text.index("What is known") < text.index("What happened lately") < text.index("What is open")
    # Facts by importance; what is overdue first among open items; the session's decision and error.
    known = [item["text"] for item in briefing["sections"][0]["items"]]
    assert "Fly.io" in known[0] and "Unleash" in known[-1]
    open_items = briefing["sections"][2]["items"]
    assert open_items[0]["ref"].startswith("task ") and "OVERDUE" in open_items[0]["text"]
    lately = " ".join(item["text"] for item in briefing["sections"][1]["items"])
    assert "SQLite for the job queue" in lately and "ImportError" in lately and "linters" not in lately
    assert all(item["ref"] for section in briefing["sections"] for item in section["items"])
    assert briefing["tokens"] == count_tokens(text) <= briefing["budget"] == 1500


async def test_a_task_ranks_what_bears_on_it_and_explain_says_why(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        ids = await _project(client)
        briefing = await call(client, "brief", task="who signs off on database migrations?", explain=True)
    known = briefing["sections"][0]["items"]
    assert known[0]["ref"] == f"memory {ids[FACTS[1][0]]}"
    assert known[0]["why"].startswith("matched the task")
    assert "| why: matched the task" in briefing["text"]


@pytest.mark.parametrize("budget", [100, 150, 200])
async def test_the_briefing_fits_its_budget_by_leaving_the_least_valuable_out(
    settings: Settings, minilm: MiniLMEmbedder, budget: int
) -> None:
    async with open_client(settings, minilm) as client:
        await _project(client)
        full = await call(client, "brief")
        fitted = await call(client, "brief", max_tokens=budget)
    assert fitted["tokens"] == count_tokens(fitted["text"]) <= budget
    assert fitted["left_out"] > 0
    kept = {item["ref"]: item["value"] for s in fitted["sections"] for item in s["items"]}
    dropped = [item["value"] for s in full["sections"] for item in s["items"] if item["ref"] not in kept]
    # Greedy by value: whatever was left out is worth no more than the best kept item.
    assert kept and max(dropped) <= max(kept.values())


async def test_near_duplicates_are_shown_once_and_name_the_others(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            from athena_mcp.store import memories

            await memories.insert_memories(
                tx,
                [
                    NewMemory(
                        "episodic",
                        "default",
                        "error",
                        "pytest failed: ImportError in jobs/queue.py",
                        session_id="a",
                    ),
                    NewMemory(
                        "episodic",
                        "default",
                        "error",
                        "pytest failed: ImportError in jobs/queue.py",
                        session_id="b",
                    ),
                    NewMemory(
                        "episodic",
                        "default",
                        "error",
                        "pytest failed again: ImportError in jobs/queue.py",
                        session_id="c",
                    ),
                ],
            )
        briefing = await services.briefing.brief(BriefingRequest(namespaces=("default",)))
    [section] = briefing.sections
    [item] = section.items
    assert len(item.merged) == 2 and "(also memory" in briefing.text


async def test_a_namespace_never_briefs_on_another(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="The secret project codename is Bluebird", namespace="work")
        await call(client, "remember", content="Buy oat milk", namespace="home")
        briefing = await call(client, "brief", namespace="home", task="what is the project codename?")
    assert "Bluebird" not in briefing["text"] and "oat milk" in briefing["text"]


async def test_an_empty_namespace_says_so(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        briefing = await call(client, "brief", namespace="empty")
    assert briefing["sections"] == [] and "holds nothing" in briefing["notice"]


async def test_bad_arguments_name_the_field_and_the_limit(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        assert "max_tokens" in await call_error(client, "brief", max_tokens=9000)
        assert "max_tokens" in await call_error(client, "brief", max_tokens=10)
        assert "task" in await call_error(client, "brief", task="   ")


async def test_the_prompt_and_the_resource_serve_the_same_briefing(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        await _project(client)
        prompt = await client.get_prompt("briefing", {"task": "deploy the app"})
        resource = await client.read_resource("athena://briefing/default")
        tool = await call(client, "brief")
    [message] = prompt.messages
    assert "deploy" in message.content.text and "[procedure" in message.content.text
    assert resource.contents[0].text == tool["text"]


async def test_a_read_only_recent_window_leaves_old_sessions_out(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    long_ago = time.time() - 90 * 86400
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            from athena_mcp.store import memories

            await memories.insert_memories(
                tx,
                [
                    NewMemory(
                        "episodic",
                        "default",
                        "error",
                        "an old failure",
                        session_id="old",
                        occurred_at=long_ago,
                    )
                ],
            )
        briefing = await services.briefing.brief(BriefingRequest(namespaces=("default",)))
    assert "old failure" not in briefing.text
