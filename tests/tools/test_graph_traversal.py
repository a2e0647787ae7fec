"""find_neighbours, find_path and explore_graph through an in-process MCP client: depth, relation
type and direction, limits, and reads as of a time before relations and entities were deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client
from tests.tools.test_bad_input import assert_refused
from tests.tools.test_graph import rel

pytestmark = pytest.mark.timeout(120)

PEOPLE = [
    {"name": "Alice", "entityType": "person", "observations": ["likes tea"]},
    {"name": "Bob", "entityType": "person", "observations": ["plays chess"]},
    {"name": "Carol", "entityType": "person", "observations": ["works at ACME"]},
    {"name": "Dave", "entityType": "person", "observations": ["runs the chess club"]},
    {"name": "Eve", "entityType": "person", "observations": []},
    {"name": "Zed", "entityType": "hermit", "observations": ["lives alone"]},
]


# Eve -knows-> Alice -knows-> Bob -works_with-> Carol -manages-> Dave; Zed stands apart.
RELATIONS = [
    rel("Alice", "Bob", "knows"),
    rel("Bob", "Carol", "works_with"),
    rel("Carol", "Dave", "manages"),
    rel("Eve", "Alice", "knows"),
]


async def seed(client: Client) -> None:
    await call(client, "create_entities", entities=PEOPLE)
    await call(client, "create_relations", relations=RELATIONS)


def reached(answer: dict[str, Any]) -> dict[str, int]:
    return {entity["name"]: entity["distance"] for entity in answer["entities"]}


def walked(answer: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["from"], r["to"], r["relationType"]) for r in answer["relations"]}


async def test_neighbours_follow_depth_direction_and_relation_types(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        both = await call(client, "find_neighbours", name=" alice ")
        out = await call(client, "find_neighbours", name="Alice", direction="out", depth=2)
        into = await call(client, "find_neighbours", name="Alice", direction="in", depth=4)
        knows = await call(client, "find_neighbours", name="Alice", depth=4, relation_types=["knows"])
        everything = await call(client, "find_neighbours", name="Eve", depth=4, direction="out")
        alone = await call(client, "find_neighbours", name="Zed")
    assert both["start"] == "Alice"
    assert reached(both) == {"Alice": 0, "Bob": 1, "Eve": 1}
    assert walked(both) == {("Alice", "Bob", "knows"), ("Eve", "Alice", "knows")}
    assert reached(out) == {"Alice": 0, "Bob": 1, "Carol": 2}
    assert walked(out) == {("Alice", "Bob", "knows"), ("Bob", "Carol", "works_with")}
    assert reached(into) == {"Alice": 0, "Eve": 1}
    assert reached(knows) == {"Alice": 0, "Bob": 1, "Eve": 1}
    assert reached(everything) == {"Eve": 0, "Alice": 1, "Bob": 2, "Carol": 3, "Dave": 4}
    assert [e["distance"] for e in everything["entities"]] == [0, 1, 2, 3, 4]
    assert reached(alone) == {"Zed": 0} and alone["relations"] == []
    assert not any(answer["truncated"] for answer in (both, out, into, knows, everything, alone))


async def test_neighbours_stop_at_the_limit_and_say_so(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "create_entities",
            entities=[{"name": f"n{i}", "entityType": "node", "observations": []} for i in range(6)],
        )
        await call(client, "create_relations", relations=[rel("n0", f"n{i}", "links") for i in range(1, 6)])
        cut = await call(client, "find_neighbours", name="n0", limit=2)
        whole = await call(client, "find_neighbours", name="n0", limit=5)
    assert len(cut["entities"]) == 3 and cut["truncated"]
    # Every relation shown has both of its ends among the entities shown.
    names = set(reached(cut))
    assert len(cut["relations"]) == 2 and all({r["from"], r["to"]} <= names for r in cut["relations"])
    assert len(whole["entities"]) == 6 and not whole["truncated"]


async def test_deleted_facts_are_not_walked_now_but_are_as_of_before(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        before = datetime.now(UTC).isoformat()
        await call(client, "delete_relations", relations=[rel("Alice", "Bob", "knows")])
        await call(client, "delete_entities", entityNames=["Carol"])
        now = await call(client, "find_neighbours", name="Bob", depth=2)
        then = await call(client, "find_neighbours", name="Bob", depth=2, as_of=before)
        path_now = await call(client, "find_path", source="Alice", target="Dave")
        path_then = await call(client, "find_path", source="Alice", target="Dave", as_of=before)
        gone = await call_error(client, "find_neighbours", name="Carol")
        carol_then = await call(client, "find_neighbours", name="carol", as_of=before)
        unborn = await call_error(client, "find_neighbours", name="Alice", as_of="2001-01-01T00:00:00Z")
    assert reached(now) == {"Bob": 0}
    assert reached(then) == {"Bob": 0, "Alice": 1, "Carol": 1, "Eve": 2, "Dave": 2}
    assert not path_now["found"] and path_now["exhaustive"]
    assert path_then["found"] and [s["entity"] for s in path_then["steps"]] == ["Bob", "Carol", "Dave"]
    assert "name" in gone and "Carol" in gone
    assert reached(carol_then) == {"Carol": 0, "Bob": 1, "Dave": 1}
    assert "Alice" in unborn and "as_of" in unborn


async def test_find_path_gives_a_shortest_path_step_by_step(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        # A longer way round from Alice to Carol, which the shortest path must not take.
        await call(
            client, "create_entities", entities=[{"name": "Hub", "entityType": "place", "observations": []}]
        )
        await call(
            client, "create_relations", relations=[rel("Alice", "Hub", "visits"), rel("Hub", "Dave", "hosts")]
        )
        forward = await call(client, "find_path", source="eve", target="Carol", direction="out")
        backward = await call(client, "find_path", source="Dave", target="Eve")
        against = await call(client, "find_path", source="Dave", target="Eve", direction="out")
        typed = await call(
            client, "find_path", source="Alice", target="Dave", relation_types=["knows", "visits"]
        )
        short = await call(client, "find_path", source="Eve", target="Carol", max_depth=2)
        itself = await call(client, "find_path", source="Bob", target="bob")
    assert forward["found"] and forward["length"] == 3 and forward["source"] == "Eve"
    assert [(s["entity"], s["relationType"], s["direction"]) for s in forward["steps"]] == [
        ("Alice", "knows", "out"),
        ("Bob", "knows", "out"),
        ("Carol", "works_with", "out"),
    ]
    assert [(s["entity"], s["relationType"], s["direction"]) for s in backward["steps"]] == [
        ("Hub", "hosts", "in"),
        ("Alice", "visits", "in"),
        ("Eve", "knows", "in"),
    ]
    assert backward["steps"][0]["entityType"] == "place"
    assert not against["found"] and against["steps"] == [] and against["length"] is None
    assert "No path" in against["message"]
    assert not typed["found"]
    assert not short["found"] and "at most 2" in short["message"]
    assert itself["found"] and itself["length"] == 0 and itself["steps"] == []


async def test_unknown_names_are_refused_naming_the_field(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        source = await call_error(client, "find_path", source="Nobody", target="Alice")
        target = await call_error(client, "find_path", source="Alice", target="Nobody")
        start = await call_error(client, "find_neighbours", name="Nobody")
    assert_refused(source, settings, "source", "Nobody")
    assert_refused(target, settings, "target", "Nobody")
    assert_refused(start, settings, "name", "Nobody", "search_nodes")


async def test_explore_graph_returns_hits_the_entities_around_them_and_their_relations(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        around = await call(client, "explore_graph", query="CHESS")
        hits = await call(client, "explore_graph", query="chess", depth=0)
        short = await call(client, "explore_graph", query="ch", depth=0)
        few = await call(client, "explore_graph", query="person", limit=2)
        miss = await call(client, "explore_graph", query="no such thing")
    entities = {e["name"]: (e["hit"], e["distance"]) for e in around["entities"]}
    assert entities == {
        "Bob": (True, 0),
        "Dave": (True, 0),
        "Alice": (False, 1),
        "Carol": (False, 1),
    }
    assert next(e for e in around["entities"] if e["name"] == "Bob")["observations"] == ["plays chess"]
    assert walked(around) == {
        ("Alice", "Bob", "knows"),
        ("Bob", "Carol", "works_with"),
        ("Carol", "Dave", "manages"),
    }
    assert [e["name"] for e in hits["entities"]] == ["Bob", "Dave"] and hits["relations"] == []
    assert {e["name"] for e in short["entities"]} == {"Bob", "Dave"}
    assert len(few["entities"]) == 2 and few["truncated"]
    assert miss == {"entities": [], "relations": [], "truncated": False}


async def test_explore_graph_as_of_matches_the_observations_held_then(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        before = datetime.now(UTC).isoformat()
        await call(
            client, "delete_observations", deletions=[{"entityName": "Bob", "observations": ["plays chess"]}]
        )
        await call(
            client, "add_observations", observations=[{"entityName": "Zed", "contents": ["took up chess"]}]
        )
        now = await call(client, "explore_graph", query="chess", depth=0)
        then = await call(client, "explore_graph", query="Chess", depth=0, as_of=before)
    assert [e["name"] for e in now["entities"]] == ["Dave", "Zed"]
    assert [(e["name"], e["observations"]) for e in then["entities"]] == [
        ("Bob", ["plays chess"]),
        ("Dave", ["runs the chess club"]),
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        ("find_neighbours", {"name": "Alice", "depth": 5}, ("depth", "4")),
        ("find_neighbours", {"name": "Alice", "limit": 501}, ("limit", "500")),
        ("find_neighbours", {"name": "Alice", "direction": "sideways"}, ("direction",)),
        ("find_neighbours", {"name": "Alice", "relation_types": ["knows"] * 33}, ("relation_types", "32")),
        ("find_neighbours", {"name": "Alice", "as_of": "yesterday"}, ("as_of",)),
        ("find_path", {"source": "Alice", "target": "Bob", "max_depth": 7}, ("max_depth", "6")),
        ("explore_graph", {"query": "tea", "depth": 4}, ("depth", "3")),
        ("explore_graph", {"query": "tea", "limit": 201}, ("limit", "200")),
        ("explore_graph", {"query": ""}, ("query",)),
    ],
)
async def test_out_of_range_arguments_are_refused_naming_the_field_and_limit(
    settings: Settings,
    minilm: MiniLMEmbedder,
    tool: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
):
    async with open_client(settings, minilm) as client:
        await seed(client)
        message = await call_error(client, tool, **arguments)
    assert_refused(message, settings, *fragments)
