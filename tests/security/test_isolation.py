"""Namespaces never leak into each other, in every toolset.

Two namespaces hold the same shapes of data (the same entity names, task titles, procedure names);
every text written to one carries that namespace's marker word. Every read tool of every toolset is
called in each namespace, and the other namespace's marker must appear nowhere in what it returns,
while its own does (so the check is never vacuous). Writes that name something by id or by name
from the other namespace are refused.

The isolation matrix then calls every tool as b, giving each argument that names something by id one
of a's ids (and graph tools a's names, listings a's cursors): each answers exactly as for an id that
exists nowhere, shows nothing of a's and changes nothing of a's. The matrix is checked against the
tools' input schemas, so a new id argument fails the test until it is probed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.cursors import encode_cursor, encode_position
from athena_mcp.settings import Settings
from athena_mcp.tools.prospective import due_uri
from chaos.process import error_text
from tests.conftest import call, call_error, open_client, services_for

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


# The isolation matrix: as namespace b, every tool is called, and each argument that names a thing by
# id is given one of a's ids. Such an id must answer exactly as an id that exists nowhere does, read
# nothing of a's and change nothing of a's.

MISSING = 999_999
MISSING_NAME = "Zed"
# Integer arguments that count or measure something rather than name it.
QUANTITIES = {
    "limit",
    "max_tokens",
    "depth",
    "max_depth",
    "runs",
    "member_limit",
    "lookahead_minutes",
    "after_seconds",
}


@dataclass(frozen=True)
class Probe:
    """A call as b whose argument `path` (e.g. "relations.source_memory_ids") carries the id of a's
    thing `foreign` (a key of a's ids); `arguments` builds the call from b's ids and the id to send."""

    tool: str
    path: str
    foreign: str
    arguments: Callable[[dict[str, Any], int], dict[str, Any]]


def _entity(ref: int) -> dict[str, Any]:
    return {"name": "Mallory", "entityType": "person", "observations": ["spy"], "source_memory_ids": [ref]}


def _relation(ref: int) -> dict[str, Any]:
    return {"from": "Alice", "to": "Acme", "relationType": "spies_on", "source_memory_ids": [ref]}


PROBES = (
    Probe("get", "id", "fact", lambda b, ref: {"id": ref}),
    Probe("update", "id", "fact", lambda b, ref: {"id": ref, "content": "Mallory was here"}),
    Probe("forget", "id", "fact", lambda b, ref: {"id": ref}),
    Probe("restore", "id", "forgotten", lambda b, ref: {"id": ref}),
    Probe("rate_memory", "id", "fact", lambda b, ref: {"id": ref, "helpful": False}),
    Probe("undo_compaction", "ids", "compacted", lambda b, ref: {"ids": [ref]}),
    Probe("get_procedure", "id", "procedure", lambda b, ref: {"id": ref}),
    Probe("record_execution", "id", "procedure", lambda b, ref: {"id": ref, "outcome": "failure"}),
    Probe(
        "record_execution",
        "event_ids",
        "event",
        lambda b, ref: {"id": b["procedure"], "outcome": "success", "event_ids": [ref]},
    ),
    Probe(
        "save_procedure",
        "event_ids",
        "event",
        lambda b, ref: {"name": "Spy", "goal": "Spy", "steps": ["look"], "event_ids": [ref]},
    ),
    Probe("retire_procedure", "id", "procedure", lambda b, ref: {"id": ref}),
    Probe("restore_procedure", "id", "retired", lambda b, ref: {"id": ref}),
    Probe("update_task", "id", "task", lambda b, ref: {"id": ref, "title": "Mine"}),
    Probe("update_task", "goal_id", "goal", lambda b, ref: {"id": b["task"], "goal_id": ref}),
    Probe("update_task", "depends_on", "task", lambda b, ref: {"id": b["task"], "depends_on": [ref]}),
    Probe("create_task", "goal_id", "goal", lambda b, ref: {"title": "Mine", "goal_id": ref}),
    Probe("create_task", "depends_on", "task", lambda b, ref: {"title": "Mine", "depends_on": [ref]}),
    Probe("list_tasks", "goal_id", "goal", lambda b, ref: {"goal_id": ref}),
    Probe(
        "create_trigger",
        "task_id",
        "task",
        lambda b, ref: {"kind": "after", "after_seconds": 60, "task_id": ref},
    ),
    Probe("list_triggers", "task_id", "task", lambda b, ref: {"task_id": ref}),
    Probe("cancel_trigger", "id", "trigger", lambda b, ref: {"id": ref}),
    Probe("dismiss", "firing_ids", "firing", lambda b, ref: {"firing_ids": [ref]}),
    Probe(
        "create_entities", "entities.source_memory_ids", "fact", lambda b, ref: {"entities": [_entity(ref)]}
    ),
    Probe(
        "create_relations",
        "relations.source_memory_ids",
        "fact",
        lambda b, ref: {"relations": [_relation(ref)]},
    ),
    Probe(
        "add_observations",
        "observations.source_memory_ids",
        "fact",
        lambda b, ref: {
            "observations": [{"entityName": "Alice", "contents": ["spied on"], "source_memory_ids": [ref]}]
        },
    ),
    Probe("add_to_graph", "entities.source_memory_ids", "fact", lambda b, ref: {"entities": [_entity(ref)]}),
    Probe(
        "add_to_graph", "relations.source_memory_ids", "fact", lambda b, ref: {"relations": [_relation(ref)]}
    ),
    Probe("unmerge_entities", "merge_id", "merge", lambda b, ref: {"merge_id": ref}),
    Probe("focus", "pin", "fact", lambda b, ref: {"session_id": "m1", "pin": [ref]}),
    Probe("focus", "drop", "fact", lambda b, ref: {"session_id": "m1", "drop": [ref]}),
    Probe("get_community", "community_id", "community", lambda b, ref: {"community_id": ref}),
)

# Listings as b given a cursor that names one of a's things, whose position is read from the row it
# names: each answered as for a cursor naming nothing (an empty page), never from a's row.
CURSOR_PROBES: tuple[tuple[str, str, Callable[[int], str], dict[str, Any]], ...] = (
    ("timeline", "event", encode_cursor, {}),
    ("list_procedures", "procedure", encode_cursor, {"status": "all"}),
    (
        "list_tasks",
        "task",
        encode_cursor,
        {"status": ["todo", "in_progress", "blocked", "done", "cancelled"]},
    ),
    ("list_communities", "community_run", lambda ref: encode_position(ref, 1, 1), {}),
)

# Calls as b naming an entity only a has (Dave), each answered as for a name that exists nowhere.
NAME_PROBES: tuple[tuple[str, Callable[[str], dict[str, Any]]], ...] = (
    ("get_entity", lambda name: {"name": name}),
    ("open_nodes", lambda name: {"names": [name]}),
    ("find_neighbours", lambda name: {"name": name}),
    ("find_path", lambda name: {"source": "Alice", "target": name}),
    ("add_observations", lambda name: {"observations": [{"entityName": name, "contents": ["spied on"]}]}),
    ("delete_observations", lambda name: {"deletions": [{"entityName": name, "observations": ["x"]}]}),
    (
        "delete_relations",
        lambda name: {"relations": [{"from": "Alice", "to": name, "relationType": "knows"}]},
    ),
    (
        "create_relations",
        lambda name: {"relations": [{"from": "Alice", "to": name, "relationType": "knows"}]},
    ),
    ("add_aliases", lambda name: {"entityName": name, "aliases": ["Spy"]}),
    ("remove_aliases", lambda name: {"entityName": name, "aliases": ["Davey"]}),
    ("merge_entities", lambda name: {"entityName": name, "into": "Alice"}),
    ("delete_entities", lambda name: {"entityNames": [name]}),
)

# Every other tool, called once as b on b's own things: none may show anything of a's.
OWN_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("remember", {"content": "Mallory keeps notes ulaanbaatar"}),
    (
        "recall",
        {
            "query": "deploy key rotates Dave release",
            "memory_types": ["semantic", "episodic", "procedural", "graph"],
        },
    ),
    ("list_memories", {"status": "all"}),
    ("record_event", {"content": "Mallory looked around ulaanbaatar", "session_id": "m1"}),
    ("record_events", {"events": [{"content": "Mallory left ulaanbaatar", "session_id": "m1"}]}),
    ("recall_events", {"query": "rollback staging database old routine check"}),
    ("timeline", {}),
    ("find_procedures", {"query": "roll back a release", "include_retired": True}),
    ("list_procedures", {"status": "all"}),
    ("create_goal", {"title": "Spy"}),
    ("list_goals", {}),
    ("due", {"lookahead_minutes": 10_080}),
    ("read_graph", {}),
    ("search_nodes", {"query": "a"}),
    ("explore_graph", {"query": "Alice", "depth": 3}),
    ("detect_communities", {}),
    ("list_communities", {}),
    ("list_compactions", {}),
    ("consolidate", {"settle_seconds": 0}),
    ("consolidation_status", {}),
    ("brief", {"task": "deploy key rotates Dave release", "max_tokens": 8000, "explain": True}),
    ("know", {"topic": "deploy key rotates Dave release"}),
)


def integer_arguments(schema: dict[str, Any]) -> set[str]:
    """The path (names joined by dots, lists looked through) of every integer argument of a schema."""
    defs = schema.get("$defs", {})
    found: set[str] = set()

    def walk(node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].removeprefix("#/$defs/")]
        for arm in node.get("anyOf", ()):
            walk(arm, path)
        if node.get("type") == "integer" or "integer" in (node.get("type") or ()):
            found.add(path)
        if "items" in node:
            walk(node["items"], path)
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}" if path else name)

    walk(schema, "")
    return found


class Recorder:
    """Calls tools as one namespace, keeping every answer (error or not) as text."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.answers: dict[str, list[str]] = {}

    async def answer(self, tool: str, arguments: dict[str, Any]) -> str:
        namespaced = tool != "memory_status"
        result = await self.client.call_tool(
            tool, {**arguments, **({"namespace": self.namespace} if namespaced else {})}
        )
        text = error_text(result)
        if not result.is_error:
            text = f"ok: {text} {json.dumps(result.structured_content, sort_keys=True)}"
        self.answers.setdefault(tool, []).append(text)
        return text


def as_missing(text: str, value: str, missing: str) -> str:
    """The answer with the id or name sent (and the missing one) written the same way."""
    return re.sub(rf"\b({re.escape(value)}|{re.escape(missing)})\b", "<ref>", text)


async def fill_more_of_a(client: Client) -> dict[str, Any]:
    """What only a has, for b to name: a forgotten fact, a retired procedure, an entity, a merge, a
    community, a fired trigger and an old session that consolidation compacts."""
    ns = {"namespace": "a"}
    forgotten = await call(client, "remember", content="The vault code is 1234 zanzibar", **ns)
    await call(client, "forget", id=forgotten["id"], **ns)
    retired = await call(
        client, "save_procedure", name="Rollback", goal="Roll back zanzibar", steps=["revert zanzibar"], **ns
    )
    await call(client, "retire_procedure", id=retired["id"], **ns)
    await call(
        client,
        "add_to_graph",
        entities=[
            {"name": "Dave", "entityType": "person zanzibar", "observations": ["Dave guards zanzibar"]},
            {"name": "Al", "entityType": "person zanzibar", "observations": ["Al is Alice zanzibar"]},
        ],
        relations=[{"from": "Alice", "to": "Dave", "relationType": "trusts_zanzibar"}],
        **ns,
    )
    await call(client, "add_aliases", entityName="Dave", aliases=["Davey"], **ns)
    merged = await call(client, "merge_entities", entityName="Al", into="Alice", **ns)
    detected = await call(client, "detect_communities", **ns)
    [community, *_] = (await call(client, "list_communities", **ns))["communities"]
    old = datetime.now(UTC) - timedelta(days=200)
    await call(
        client,
        "record_events",
        events=[
            {
                "content": f"Routine check {n} zanzibar",
                "session_id": "old",
                "timestamp": str(old + timedelta(minutes=n)),
            }
            for n in range(3)
        ],
        **ns,
    )
    await call(client, "consolidate", settle_seconds=0, **ns)
    return {
        "forgotten": forgotten["id"],
        "retired": retired["id"],
        "merge": merged["merge_id"],
        "community": community["id"],
        "community_run": detected["run_id"],
    }


async def state_of_a(client: Client, ids: dict[str, Any]) -> dict[str, Any]:
    """Everything of a's that b's calls could have changed, as a reads it."""
    ns = {"namespace": "a"}
    return {
        "fact": await call(client, "get", id=ids["fact"], include_history=True, **ns),
        "forgotten": await call(client, "get", id=ids["forgotten"], **ns),
        "procedure": await call(client, "get_procedure", id=ids["procedure"], **ns),
        "retired": await call(client, "get_procedure", id=ids["retired"], **ns),
        "tasks": await call(
            client, "list_tasks", status=["todo", "in_progress", "blocked", "done", "cancelled"], **ns
        ),
        "goals": await call(client, "list_goals", **ns),
        "triggers": await call(client, "list_triggers", status=["active", "done", "cancelled"], **ns),
        "due": (await call(client, "due", **ns))["fired"],
        "graph": await call(client, "read_graph", **ns),
        "Alice": await call(client, "get_entity", name="Alice", include_history=True, **ns),
        "Dave": await call(client, "get_entity", name="Dave", include_history=True, **ns),
        "communities": await call(client, "list_communities", **ns),
        "compactions": await call(client, "list_compactions", **ns),
        "consolidation": await call(client, "consolidation_status", **ns),
    }


async def test_b_naming_as_ids_or_names_reads_changes_and_reveals_nothing_of_as(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        ids = {namespace: await fill(client, namespace) for namespace in MARKERS}
        ids["a"] |= await fill_more_of_a(client)
    # The old session was recorded just now; made old, it is compacted by a's next run.
    async with services_for(settings, minilm) as services, services.database.transaction() as tx:
        await tx.execute("UPDATE memories SET created_at = created_at - 200 * 86400 WHERE session_id = 'old'")
    async with open_client(settings, minilm) as client:
        a, b = ids["a"], ids["b"]
        assert (await call(client, "consolidate", namespace="a", settle_seconds=0))["compacted"] == 3
        a["compacted"] = (await call(client, "list_compactions", namespace="a"))["items"][0]["id"]
        a["event"] = a["events"][0]
        # a's trigger fires on a's event, and a's events wait for a's next consolidation.
        await call(client, "record_event", content="Started a rollback zanzibar", namespace="a")
        await call(client, "record_event", content="Zanzibar Ops met Dave", session_id="s3", namespace="a")
        [fired] = (await call(client, "due", namespace="a"))["fired"]
        a["firing"] = fired["firing_id"]
        tools = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        before = await state_of_a(client, a)

        mallory = Recorder(client, "b")
        differing = {}
        for probe in PROBES:
            foreign = await mallory.answer(probe.tool, probe.arguments(b, a[probe.foreign]))
            missing = await mallory.answer(probe.tool, probe.arguments(b, MISSING))
            if as_missing(foreign, str(a[probe.foreign]), str(MISSING)) != as_missing(
                missing, str(a[probe.foreign]), str(MISSING)
            ):
                differing[f"{probe.tool}.{probe.path}"] = (foreign, missing)
        for tool, foreign_key, cursor, arguments in CURSOR_PROBES:
            foreign = await mallory.answer(tool, {**arguments, "cursor": cursor(a[foreign_key])})
            missing = await mallory.answer(tool, {**arguments, "cursor": cursor(MISSING)})
            if foreign != missing:
                differing[f"{tool} cursor"] = (foreign, missing)
        for tool, arguments in NAME_PROBES:
            foreign = await mallory.answer(tool, arguments("Dave"))
            missing = await mallory.answer(tool, arguments(MISSING_NAME))
            if as_missing(foreign, "Dave", MISSING_NAME) != as_missing(missing, "Dave", MISSING_NAME):
                differing[f"{tool} by name"] = (foreign, missing)
        for tool, arguments in OWN_CALLS:
            await mallory.answer(tool, arguments)
        await mallory.answer("memory_status", {})
        due_resource = (await client.read_resource(due_uri("b"))).contents[0]
        briefing_resource = (await client.read_resource("athena://briefing/b")).contents[0]
        after = await state_of_a(client, a)
    async with services_for(settings, minilm) as services:
        rated = await services.database.fetchall(
            "SELECT memory_id FROM memory_usage WHERE helpful + unhelpful > 0"
        )

    assert differing == {}, "\n".join(f"{key}:\n  a's: {x}\n  none: {y}" for key, (x, y) in differing.items())
    for tool, answers in mallory.answers.items():
        for answer in answers:
            assert MARKERS["a"] not in answer, f"{tool} as b shows a's data: {answer[:500]}"
    assert MARKERS["a"] not in json.dumps(due_resource.model_dump())
    assert MARKERS["a"] not in json.dumps(briefing_resource.model_dump())
    for key, value in before.items():
        assert after[key] == value, f"b changed a's {key}:\n{value}\n->\n{after[key]}"
    assert rated == []
    # Every tool was called as b, and every argument that names something by id was given a's id.
    assert set(mallory.answers) == set(tools)
    naming = {
        (tool, path)
        for tool, schema in tools.items()
        for path in integer_arguments(schema)
        if path.rsplit(".", 1)[-1] not in QUANTITIES
    }
    assert naming == {(probe.tool, probe.path) for probe in PROBES}
