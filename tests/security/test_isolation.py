"""Namespaces never leak into each other, in every toolset.

Two namespaces hold the same shapes of data (the same entity names, task titles, procedure names);
every text written to one carries that namespace's marker word. Every read tool of every toolset is
called in each namespace, and the other namespace's marker must appear nowhere in what it returns,
while its own does (so the check is never vacuous). Writes that name something by id or by name
from the other namespace are refused.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client

pytestmark = pytest.mark.timeout(180)

MARKERS = {"a": "zanzibar", "b": "ulaanbaatar"}


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    # No background consolidation: the test decides when a run happens.
    return Settings(
        toolsets=("all",), db=tmp_path / "athena.db", backlog_interval=0.05, consolidation_interval=0
    )


async def fill(client: Client, namespace: str) -> dict[str, Any]:
    """The same data in `namespace`, marked with its word; returns the ids it was given."""
    mark = MARKERS[namespace]
    ns = {"namespace": namespace}
    people = [
        {"name": "Alice", "entityType": f"person {mark}", "observations": [f"Alice leads {mark}"]},
        {"name": "Acme", "entityType": f"company {mark}", "observations": [f"Acme builds {mark}"]},
    ]
    relations = [{"from": "Alice", "to": "Acme", "relationType": f"works_at_{mark}"}]
    if namespace == "b":  # only b has Carol, so a path Alice -> Carol exists only there
        people.append({"name": "Carol", "entityType": f"person {mark}", "observations": [f"Carol {mark}"]})
        relations.append({"from": "Acme", "to": "Carol", "relationType": f"employs_{mark}"})
    fact = await call(client, "remember", content=f"The deploy key rotates monthly {mark}", **ns)
    events = await call(
        client,
        "record_events",
        events=[
            {"content": f"The staging database runs PostgreSQL {mark}", "session_id": session}
            for session in ("s1", "s2")
        ],
        **ns,
    )
    await call(client, "create_entities", entities=people, **ns)
    await call(client, "create_relations", relations=relations, **ns)
    procedure = await call(
        client, "save_procedure", name="Release", goal=f"Ship a release {mark}", steps=[f"build {mark}"], **ns
    )
    goal = await call(client, "create_goal", title="Launch", notes=f"launch {mark}", **ns)
    task = await call(client, "create_task", title="Deploy", notes=f"deploy {mark}", goal_id=goal["id"], **ns)
    trigger = await call(
        client, "create_trigger", kind="event", text_contains="rollback", reminder=f"check {mark}", **ns
    )
    return {
        "fact": fact["id"],
        "events": events["ids"],
        "procedure": procedure["id"],
        "goal": goal["id"],
        "task": task["id"],
        "trigger": trigger["id"],
    }


async def reads(client: Client, namespace: str) -> dict[str, Any]:
    """Every read tool of every toolset, called in `namespace`."""
    ns = {"namespace": namespace}
    detected = await call(client, "detect_communities", **ns)
    communities = await call(client, "list_communities", **ns)
    return {
        "recall": await call(client, "recall", query="deploy key staging database", **ns),
        "recall+graph": await call(client, "recall", query="Alice Acme", expand_graph=True, **ns),
        "list_memories": await call(client, "list_memories", **ns),
        "recall_events": await call(client, "recall_events", query="staging database", **ns),
        "timeline": await call(client, "timeline", session_id="s1", **ns),
        "find_procedures": await call(client, "find_procedures", query="release", **ns),
        "list_procedures": await call(client, "list_procedures", **ns),
        "list_tasks": await call(client, "list_tasks", **ns),
        "list_goals": await call(client, "list_goals", **ns),
        "list_triggers": await call(client, "list_triggers", status=["active", "done", "cancelled"], **ns),
        "due": await call(client, "due", **ns),
        "read_graph": await call(client, "read_graph", **ns),
        "search_nodes": await call(client, "search_nodes", query="Alice", **ns),
        "open_nodes": await call(client, "open_nodes", names=["Alice", "Acme"], **ns),
        "get_entity": await call(client, "get_entity", name="Alice", include_history=True, **ns),
        "find_neighbours": await call(client, "find_neighbours", name="Acme", depth=2, **ns),
        "explore_graph": await call(client, "explore_graph", query="Alice", depth=2, **ns),
        "detect_communities": detected,
        "list_communities": communities,
        "get_community": [
            await call(client, "get_community", community_id=community["id"], **ns)
            for community in communities["communities"]
        ],
        "consolidation_status": await call(client, "consolidation_status", **ns),
        "list_compactions": await call(client, "list_compactions", **ns),
    }


# Reads whose result holds no text of the namespace's own (counts, ids, an empty page).
WITHOUT_TEXT = {"detect_communities", "consolidation_status", "list_compactions", "due"}


async def test_every_read_tool_of_every_toolset_sees_only_its_own_namespace(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        ids = {namespace: await fill(client, namespace) for namespace in MARKERS}
        # An event in b that a's trigger would match; it fires b's trigger only.
        await call(client, "record_event", content="Started a rollback ulaanbaatar", namespace="b")
        # Consolidation of a sees the fact recur in a's two sessions, never b's.
        run = await call(client, "consolidate", namespace="a", settle_seconds=0)
        seen = {namespace: await reads(client, namespace) for namespace in MARKERS}
    assert run["facts_created"] == 1
    for namespace, other in (("a", "b"), ("b", "a")):
        for tool, result in seen[namespace].items():
            text = json.dumps(result)
            assert MARKERS[other] not in text, f"{tool} in {namespace} shows {other}'s data: {text[:500]}"
            if tool not in WITHOUT_TEXT:
                assert MARKERS[namespace] in text, f"{tool} in {namespace} shows nothing: {text[:300]}"
    assert [fired["trigger_id"] for fired in seen["b"]["due"]["fired"]] == [ids["b"]["trigger"]]
    assert seen["a"]["due"]["fired"] == []
    # b's events were not taken in by a's consolidation: b still has them in its backlog.
    assert seen["b"]["consolidation_status"]["backlog"] >= len(ids["b"]["events"])
    assert {item["id"] for item in seen["a"]["list_memories"]["items"]} >= {ids["a"]["fact"]}


async def test_identical_writes_in_two_namespaces_are_two_and_one_is_not_a_duplicate_of_the_other(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="Backups run nightly", namespace="a")
        second = await call(client, "remember", content="Backups run nightly", namespace="b")
        procedure = {"name": "Backup", "goal": "Back up", "steps": ["dump"]}
        in_a = await call(client, "save_procedure", **procedure, namespace="a")
        in_b = await call(client, "save_procedure", **procedure, namespace="b")
    assert (first["status"], second["status"]) == ("stored", "stored")
    assert second["id"] != first["id"] and second["similar"] == []
    assert in_a["id"] != in_b["id"]


async def test_writes_naming_the_other_namespaces_things_are_refused(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        ids = {namespace: await fill(client, namespace) for namespace in MARKERS}
        b = ids["b"]
        refusals = {
            "update_task": await call_error(client, "update_task", id=b["task"], title="Mine", namespace="a"),
            "create_task goal_id": await call_error(
                client, "create_task", title="Mine", goal_id=b["goal"], namespace="a"
            ),
            "create_task depends_on": await call_error(
                client, "create_task", title="Mine", depends_on=[b["task"]], namespace="a"
            ),
            "create_trigger task_id": await call_error(
                client, "create_trigger", kind="after", after_seconds=60, task_id=b["task"], namespace="a"
            ),
            "cancel_trigger": await call_error(client, "cancel_trigger", id=b["trigger"], namespace="a"),
            "get_entity": await call_error(client, "get_entity", name="Carol", namespace="a"),
            "find_path": await call_error(client, "find_path", source="Alice", target="Carol", namespace="a"),
            "create_relations": await call_error(
                client,
                "create_relations",
                relations=[{"from": "Alice", "to": "Carol", "relationType": "knows"}],
                namespace="a",
            ),
            "merge_entities": await call_error(
                client, "merge_entities", entityName="Carol", into="Alice", namespace="a"
            ),
        }
        await call(client, "record_event", content="Started a rollback", namespace="b")
        [fired] = (await call(client, "due", namespace="b"))["fired"]
        refusals["dismiss"] = await call_error(
            client, "dismiss", firing_ids=[fired["firing_id"]], namespace="a"
        )
        still_due = await call(client, "due", namespace="b")
        undone = await call(client, "undo_compaction", ids=b["events"], namespace="a")
        path_in_b = await call(client, "find_path", source="Alice", target="Carol", namespace="b")
        tasks_b = await call(client, "list_tasks", namespace="b")
        triggers_b = await call(client, "list_triggers", status=["active", "done"], namespace="b")
    for name, message in refusals.items():
        assert "ulaanbaatar" not in message, f"{name}: {message}"
    assert undone["restored"] == [] and sorted(undone["not_compacted"]) == sorted(b["events"])
    assert "Carol" in json.dumps(path_in_b)
    assert still_due["fired"] == [fired]
    assert [task["title"] for task in tasks_b["tasks"]] == ["Deploy"]
    # Cancelling it from a changed nothing: it fired in b, as an uncancelled trigger does.
    assert [trigger["status"] for trigger in triggers_b["triggers"]] == ["done"]
