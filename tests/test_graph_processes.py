"""The graph tools in real server processes: over stdio as an editor runs them, killed with -9 right
after an acknowledged write, and two servers writing one database file at once."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from chaos.integrity import check_file
from tests.stdio_server import ATHENA_MCP, StdioServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

GRAPH_TOOLS = {
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
}


def entity(name: str, *observations: str) -> dict[str, Any]:
    return {"name": name, "entityType": "thing", "observations": list(observations)}


def rel(source: str, target: str, relation_type: str) -> dict[str, str]:
    return {"from": source, "to": target, "relationType": relation_type}


async def whole_graph(server: StdioServer) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every entity and relation, page by page."""
    entities: list[dict[str, Any]] = []
    relations: list[dict[str, str]] = []
    arguments: dict[str, Any] = {"limit": 100}
    while True:
        page = await server.call_tool("read_graph", arguments)
        entities += page["entities"]
        relations += page["relations"]
        if page["next_cursor"] is None:
            return entities, relations
        arguments = {"limit": 100, "cursor": page["next_cursor"]}


async def test_an_editor_launched_server_serves_the_graph_tools(tmp_path: Path):
    params = StdioServerParameters(
        command=ATHENA_MCP,
        args=["--db", str(tmp_path / "a.db"), "--toolsets", "graph", "--log-level", "ERROR"],
        env=dict(os.environ),  # the client passes on only a few variables: keep the code under test
    )
    async with Client(params, read_timeout_seconds=120) as client:
        assert GRAPH_TOOLS.issubset({tool.name for tool in (await client.list_tools()).tools})

        async def ok(tool: str, **arguments: Any) -> dict[str, Any]:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result.content
            # The text a model reads is rendered compactly; the full record is the structured result.
            text = result.content[0].text
            assert text and "null" not in text and "\n  " not in text, text
            return result.structured_content

        await ok(
            "create_entities", entities=[entity("Ada", "wrote notes"), entity("Babbage", "built engines")]
        )
        await ok("create_relations", relations=[rel("Ada", "Babbage", "worked_with")])
        await ok("add_observations", observations=[{"entityName": "Ada", "contents": ["first programmer"]}])
        missing = await client.call_tool(
            "add_observations", {"observations": [{"entityName": "Nobody", "contents": ["x"]}]}
        )
        found = await ok("search_nodes", query="PROGRAMMER")
        await ok("delete_observations", deletions=[{"entityName": "Ada", "observations": ["wrote notes"]}])
        opened = await ok("open_nodes", names=["ada"])
        # Beyond the reference: identity, traversal and communities, over the same pipe.
        await ok("create_entities", entities=[entity("Lovelace"), entity("Menabrea")])
        await ok("create_relations", relations=[rel("Babbage", "Menabrea", "met")])
        merged = await ok("merge_entities", entityName="Lovelace", into="Ada")
        record = await ok("get_entity", name="lovelace")
        path = await ok("find_path", source="Ada", target="Menabrea")
        neighbours = await ok("find_neighbours", name="Babbage")
        explored = await ok("explore_graph", query="programmer")
        detected = await ok("detect_communities")
        listed = await ok("list_communities")
        community = await ok("get_community", community_id=listed["communities"][0]["id"])
        await ok("unmerge_entities", merge_id=merged["merge_id"])
        await ok("delete_entities", entityNames=["Lovelace", "Menabrea"])
        await ok("delete_relations", relations=[rel("Ada", "Babbage", "worked_with")])
        await ok("delete_entities", entityNames=["Babbage"])
        graph = await ok("read_graph")
    assert missing.is_error and "Entity with name Nobody not found" in missing.content[0].text
    assert [e["name"] for e in found["entities"]] == ["Ada"]
    assert opened["entities"] == [entity("Ada", "first programmer")]
    assert opened["relations"] == [rel("Ada", "Babbage", "worked_with")]
    assert (graph["entities"], graph["relations"]) == ([entity("Ada", "first programmer")], [])
    assert record["name"] == "Ada" and record["aliases"] == ["Lovelace"]
    assert [step["entity"] for step in path["steps"]][-1] == "Menabrea" and path["length"] == 2
    assert {e["name"] for e in neighbours["entities"]} == {"Ada", "Babbage", "Menabrea"}
    assert explored["entities"][0]["name"] == "Ada" and explored["entities"][0]["hit"]
    assert detected["communities"] == 1 and {m["name"] for m in community["members"]} >= {"Ada", "Babbage"}


async def test_graph_writes_acknowledged_before_a_kill_9_survive_it(tmp_path: Path):
    db = tmp_path / "a.db"
    names = [f"Node {n}" for n in range(40)]
    chain = [rel(a, b, "next") for a, b in itertools.pairwise(names)]

    server = await StdioServer(db, "--toolsets", "graph").start()
    await server.call_tool("create_entities", {"entities": [entity(name, f"seen {name}") for name in names]})
    await server.kill()
    assert check_file(db) == []

    server = await StdioServer(db, "--toolsets", "graph").start()
    assert (await whole_graph(server)) == ([entity(name, f"seen {name}") for name in names], [])
    await server.call_tool("create_relations", {"relations": chain})
    await server.call_tool(
        "add_observations", {"observations": [{"entityName": "Node 0", "contents": ["head"]}]}
    )
    await server.kill()
    assert check_file(db) == []

    server = await StdioServer(db, "--toolsets", "graph").start()
    try:
        entities, relations = await whole_graph(server)
        found = await server.call_tool("search_nodes", {"query": "head"})
    finally:
        await server.stop()
    assert relations == chain
    assert entities[0] == entity("Node 0", "seen Node 0", "head") and len(entities) == len(names)
    assert [e["name"] for e in found["entities"]] == ["Node 0"]


ROUNDS = 60


async def write_side(side: str, server: StdioServer) -> dict[str, list[Any]]:
    """Each round: three entities of this side's own and two shared names that the other side creates
    at the same time, relations between them (one triple both sides create), and observations on
    the shared entities (one that both sides add)."""
    created: dict[str, list[Any]] = {"entities": [], "relations": [], "observations": []}
    for n in range(ROUNDS):
        own = [f"{side} {n}.{k}" for k in range(3)]
        shared = [f"Shared {n}.{k}" for k in range(2)]
        # The shared names arrive in another letter case from side B: still the same entities.
        spelled = shared if side == "A" else [name.upper() for name in shared]
        result = await server.call_tool(
            "create_entities", {"entities": [entity(name, f"{side} made it") for name in own + spelled]}
        )
        created["entities"] += [e["name"] for e in result["entities"]]
        relations = [rel(name, shared[0], "uses") for name in own] + [rel(spelled[0], spelled[1], "pairs")]
        result = await server.call_tool("create_relations", {"relations": relations})
        created["relations"] += [
            (r["from"].casefold(), r["to"].casefold(), r["relationType"]) for r in result["relations"]
        ]
        result = await server.call_tool(
            "add_observations",
            {
                "observations": [
                    {"entityName": name, "contents": [f"{side} saw {name}", "both saw it"]}
                    for name in spelled
                ]
            },
        )
        created["observations"] += [
            (r["entityName"].casefold(), content)
            for r in result["results"]
            for content in r["addedObservations"]
        ]
    return created


async def test_two_servers_writing_the_graph_at_once_lose_nothing_and_duplicate_nothing(tmp_path: Path):
    db = tmp_path / "shared.db"
    servers = [await StdioServer(db, "--toolsets", "graph", "--synchronous", "normal").start() for _ in "AB"]
    try:
        sides = await asyncio.gather(*(write_side(side, s) for side, s in zip("AB", servers, strict=True)))
        graphs = [await whole_graph(server) for server in servers]
    finally:
        for server in servers:
            await server.stop()
    assert check_file(db) == []

    own = {f"{side} {n}.{k}".casefold() for side in "AB" for n in range(ROUNDS) for k in range(3)}
    shared = {f"shared {n}.{k}" for n in range(ROUNDS) for k in range(2)}
    expected_relations = {
        (f"{side} {n}.{k}".casefold(), f"shared {n}.0", "uses")
        for side in "AB"
        for n in range(ROUNDS)
        for k in range(3)
    } | {(f"shared {n}.0", f"shared {n}.1", "pairs") for n in range(ROUNDS)}
    # What each side was told it created: every name, relation and observation exactly once in all.
    created = Counter(name.casefold() for side in sides for name in side["entities"])
    assert set(created) == own | shared and max(created.values()) == 1
    relations = Counter(r for side in sides for r in side["relations"])
    assert set(relations) == expected_relations and max(relations.values()) == 1
    observations = Counter(o for side in sides for o in side["observations"])
    assert len(observations) == 3 * len(shared) and max(observations.values()) == 1

    # What both servers read back afterwards: the same graph, with nothing lost or doubled.
    assert graphs[0] == graphs[1]
    entities, relation_list = graphs[0]
    assert Counter(e["name"].casefold() for e in entities) == Counter(own | shared)
    assert Counter(
        (r["from"].casefold(), r["to"].casefold(), r["relationType"]) for r in relation_list
    ) == Counter(expected_relations)
    for e in entities:
        name = e["name"].casefold()
        if name in shared:
            suffix = name.removeprefix("shared ")
            saw = {f"A saw Shared {suffix}", f"B saw SHARED {suffix}", "both saw it"}
            assert len(e["observations"]) == 4 and set(e["observations"]) - {"A made it", "B made it"} == saw
        else:
            assert e["observations"] == [f"{name[0].upper()} made it"]
