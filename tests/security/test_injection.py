"""Hostile text in every text field beyond the core memories (tests/tools/test_bad_input.py has those):
SQL and FTS5 syntax and control characters are stored verbatim and found by searching for them."""

from __future__ import annotations

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, open_client

pytestmark = pytest.mark.timeout(120)

# Each holds a rare word (the animal) so that a match proves the text was searched as text.
HOSTILE = {
    "sql": "Robert'); DROP TABLE entities;-- wombat",
    "sql-comment": "x' OR '1'='1' /* quokka */ --",
    "fts-near": "NEAR(pangolin tapir, 2)",
    "fts-operators": 'axolotl* -okapi ^"narwhal',
    "fts-parens": "(unbalanced OR (capybara",
    "fts-column": "content: name: observations: meerkat",
    "fts-keywords": "AND OR NOT ocelot",
    "like": "100%_done \\ lemur",
    "control": "tab\there\rcarriage\x0bvertical\x1b[31m escape gibbon",
    "unicode": "\u202eoverride caf\u00e9 \u65e5\u672c dingo \U0001f680",
}
# Names and titles are one line: the same text without control characters.
ONE_LINE = {key: "".join(ch if ch >= " " else " " for ch in text) for key, text in HOSTILE.items()}


@pytest.mark.parametrize("key", HOSTILE)
async def test_hostile_text_in_the_graph_is_stored_verbatim_and_found(
    settings: Settings, minilm: MiniLMEmbedder, key: str
) -> None:
    text, name = HOSTILE[key], ONE_LINE[key]
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "create_entities",
            entities=[
                {"name": "Decoy", "entityType": "thing", "observations": ["a plain note about gardens"]},
                {"name": name, "entityType": text, "observations": [text]},
            ],
        )
        relation = {"from": name, "to": "Decoy", "relationType": text}
        await call(client, "create_relations", relations=[relation])
        addition = {"entityName": name, "contents": [text + " again"]}
        await call(client, "add_observations", observations=[addition])
        found = await call(client, "search_nodes", query=text)
        by_name = await call(client, "search_nodes", query=name)
        opened = await call(client, "open_nodes", names=[name])
        entity = await call(client, "get_entity", name=name)
        neighbours = await call(client, "find_neighbours", name=name)
        explored = await call(client, "explore_graph", query=text)
    [stored] = opened["entities"]
    assert (stored["name"], stored["entityType"]) == (name, text)
    assert sorted(stored["observations"]) == sorted([text, text + " again"])
    assert [relation["relationType"] for relation in opened["relations"]] == [text]
    assert name in {e["name"] for e in found["entities"]}
    assert name in {e["name"] for e in by_name["entities"]}
    assert entity["name"] == name
    assert "Decoy" in str(neighbours)
    assert name in {e["name"] for e in explored["entities"]}


@pytest.mark.parametrize("key", HOSTILE)
async def test_hostile_text_in_procedures_is_stored_verbatim_and_found(
    settings: Settings, minilm: MiniLMEmbedder, key: str
) -> None:
    text, name = HOSTILE[key], ONE_LINE[key]
    async with open_client(settings, minilm) as client:
        await call(client, "save_procedure", name="Water the garden", goal="Keep plants", steps=["water"])
        saved = await call(
            client,
            "save_procedure",
            name=name,
            goal=text,
            steps=[text, "then " + text],
            preconditions=[text],
            expected_outcome=text,
            tags=[name[:64]],
        )
        found = await call(client, "find_procedures", query=text, explain=True)
        fetched = await call(client, "get_procedure", id=saved["id"])
        by_tag = await call(client, "list_procedures", tags=[name[:64]])
    assert found["results"][0]["id"] == saved["id"], found
    assert (fetched["name"], fetched["goal"], fetched["steps"]) == (name, text, [text, "then " + text])
    assert [item["id"] for item in by_tag["items"]] == [saved["id"]]


@pytest.mark.parametrize("key", HOSTILE)
async def test_hostile_text_in_tasks_goals_sessions_and_triggers_is_plain_text(
    settings: Settings, minilm: MiniLMEmbedder, key: str
) -> None:
    text, name = HOSTILE[key], ONE_LINE[key]
    async with open_client(settings, minilm) as client:
        goal = await call(client, "create_goal", title=name, notes=text)
        task = await call(client, "create_task", title=name, notes=text, goal_id=goal["id"])
        trigger = await call(client, "create_trigger", kind="event", text_contains=text, reminder=text)
        # Near misses: all but the last character, and text the LIKE wildcards in it would match.
        for near_miss in {text[:-1], text.replace("%", "abc").replace("_", "x")} - {text}:
            await call(client, "record_event", content=near_miss, session_id=name)
        [hit] = (await call(client, "record_event", content=f"before {text} after", session_id=name))["ids"]
        due = await call(client, "due")
        tasks = await call(client, "list_tasks", goal_id=goal["id"])
        goals = await call(client, "list_goals")
        session = await call(client, "timeline", session_id=name)
        found = await call(client, "recall_events", query=text, session_id=name)
    assert [(item["trigger_id"], item["event"]["id"]) for item in due["fired"]] == [(trigger["id"], hit)]
    assert [(t["id"], t["title"], t["notes"]) for t in tasks["tasks"]] == [(task["id"], name, text)]
    assert [(g["title"], g["notes"]) for g in goals["goals"]] == [(name, text)]
    assert hit in [event["id"] for event in session["events"]]
    assert hit in [result["id"] for result in found["results"]]
