"""The graph toolset through an in-process MCP client, checked against the reference MCP memory
server's documented schemas and behaviour (@modelcontextprotocol/server-memory 2026.8.31)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client
from tests.tools.test_bad_input import assert_refused, cursor_of

pytestmark = pytest.mark.timeout(120)

ALICE = {"name": "Alice", "entityType": "person", "observations": ["likes tea"]}
BOB = {"name": "Bob", "entityType": "person", "observations": ["plays chess"]}
CAROL = {"name": "Carol", "entityType": "Person", "observations": ["Works at ACME"]}


def rel(source: str, target: str, relation_type: str) -> dict[str, str]:
    return {"from": source, "to": target, "relationType": relation_type}


async def seed(client: Client, **arguments: Any) -> None:
    await call(client, "create_entities", entities=[ALICE, BOB, CAROL], **arguments)
    await call(
        client,
        "create_relations",
        relations=[rel("Alice", "Bob", "knows"), rel("Bob", "Carol", "works_with")],
        **arguments,
    )


async def test_tool_input_schemas_keep_the_reference_field_names(settings, minilm):
    async with open_client(settings, minilm) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    required = {
        "create_entities": ["entities"],
        "create_relations": ["relations"],
        "add_observations": ["observations"],
        "delete_entities": ["entityNames"],
        "delete_observations": ["deletions"],
        "delete_relations": ["relations"],
        "search_nodes": ["query"],
        "open_nodes": ["names"],
    }
    for name, fields in required.items():
        assert tools[name].input_schema["required"] == fields, name
    assert "required" not in tools["read_graph"].input_schema
    defs = tools["create_relations"].input_schema["$defs"]
    assert defs["RelationInput"]["required"] == ["from", "to", "relationType"]
    entity = tools["create_entities"].input_schema["$defs"]["EntityInput"]
    assert entity["required"] == ["name", "entityType", "observations"]
    for item, keys in [
        ("ObservationAddition", ["entityName", "contents"]),
        ("ObservationDeletion", ["entityName", "observations"]),
    ]:
        schema = next(t for t in tools.values() if item in t.input_schema.get("$defs", {}))
        assert schema.input_schema["$defs"][item]["required"] == keys


async def test_create_entities_returns_the_created_ones_and_skips_existing_names(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "create_entities", entities=[CAROL])
        again = await call(
            client,
            "create_entities",
            entities=[{"name": "carol ", "entityType": "robot", "observations": ["new"]}, ALICE, ALICE],
        )
        graph = await call(client, "open_nodes", names=["Carol"])
    assert first == {"entities": [CAROL]}
    # Same name in other case and spacing is the same entity; a repeat inside the batch is skipped too.
    assert again == {"entities": [ALICE]}
    assert graph["entities"] == [CAROL]


async def test_create_relations_skips_duplicates_and_refuses_missing_entities(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        again = await call(client, "create_relations", relations=[rel("Alice", "Bob", "knows")])
        message = await call_error(
            client,
            "create_relations",
            relations=[rel("Alice", "Carol", "admires"), rel("Alice", "Ghost", "haunts")],
        )
        graph = await call(client, "read_graph")
    assert again == {"relations": [], "ended": 0}
    assert_refused(
        message, settings, "relations[1].to", "Entity with name Ghost not found", "create_entities"
    )
    # The batch failed whole: the valid first relation was not saved either.
    assert graph["relations"] == [rel("Alice", "Bob", "knows"), rel("Bob", "Carol", "works_with")]


async def test_add_observations_reports_only_new_ones_and_a_missing_entity_saves_nothing(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        added = await call(
            client,
            "add_observations",
            observations=[{"entityName": "Alice", "contents": ["likes tea", "likes cake"]}],
        )
        message = await call_error(
            client,
            "add_observations",
            observations=[
                {"entityName": "Alice", "contents": ["likes coffee"]},
                {"entityName": "Nobody", "contents": ["exists"]},
            ],
        )
        graph = await call(client, "open_nodes", names=["Alice"])
    assert added == {"results": [{"entityName": "Alice", "addedObservations": ["likes cake"]}]}
    assert_refused(message, settings, "observations[1].entityName", "Entity with name Nobody not found")
    assert graph["entities"][0]["observations"] == ["likes tea", "likes cake"]


async def test_deleting_an_entity_ends_its_relations_both_ways(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        deleted = await call(client, "delete_entities", entityNames=["Bob"])
        partial = await call(client, "delete_entities", entityNames=["Carol", "Nobody"])
        graph = await call(client, "read_graph")
        recreated = await call(client, "create_entities", entities=[BOB])
    assert deleted == {"success": True, "message": "Entities deleted successfully"}
    assert partial["message"] == "Deleted 1 of 2 entities. Not found: Nobody"
    assert graph == {"entities": [ALICE], "relations": [], "relations_truncated": False, "next_cursor": None}
    assert recreated == {"entities": [BOB]}


async def test_delete_observations_and_relations_remove_exact_matches_only(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        observations = await call(
            client,
            "delete_observations",
            deletions=[{"entityName": "Alice", "observations": ["likes tea", "LIKES TEA"]}],
        )
        relations = await call(
            client, "delete_relations", relations=[rel("Alice", "Bob", "knows"), rel("Bob", "Alice", "knows")]
        )
        graph = await call(client, "open_nodes", names=["Alice", "Bob"])
    assert observations["message"] == "Deleted 1 of 2 observations; the rest were not held."
    assert relations["message"] == "Deleted 1 of 2 relations. The rest matched nothing."
    assert graph["entities"] == [{**ALICE, "observations": []}, BOB]
    assert graph["relations"] == [rel("Bob", "Carol", "works_with")]


async def test_repeated_items_in_a_deletion_count_once(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[{**ALICE, "observations": ["x", "x", "y"]}, BOB])
        await call(client, "create_relations", relations=[rel("Alice", "Bob", "knows")])
        observations = await call(
            client, "delete_observations", deletions=[{"entityName": "alice", "observations": ["x", "x"]}]
        )
        relations = await call(
            client, "delete_relations", relations=[rel("Alice", "Bob", "knows"), rel("ALICE", "bob", "knows")]
        )
        left = await call(client, "open_nodes", names=["Alice"])
    assert observations["message"] == "Observations deleted successfully"
    assert relations["message"] == "Relations deleted successfully"
    assert left["entities"] == [{**ALICE, "observations": ["y"]}]


async def test_a_hub_lists_at_most_1000_relations_and_says_so(settings, minilm):
    spokes = [{"name": f"spoke {i}", "entityType": "t", "observations": []} for i in range(1001)]
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[ALICE, *spokes[:499]])
        await call(client, "create_entities", entities=spokes[499:998])
        await call(client, "create_entities", entities=spokes[998:])
        for start in range(0, 1001, 500):
            batch = spokes[start : start + 500]
            await call(
                client, "create_relations", relations=[rel("Alice", s["name"], "knows") for s in batch]
            )
        hub = await call(client, "open_nodes", names=["Alice"])
        spoke = await call(client, "open_nodes", names=["spoke 7"])
    assert len(hub["relations"]) == 1000 and hub["relations_truncated"] is True
    assert spoke["relations"] == [rel("Alice", "spoke 7", "knows")] and spoke["relations_truncated"] is False


async def test_short_queries_fold_case_beyond_ascii(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client, "create_entities", entities=[{"name": "Éclair", "entityType": "food", "observations": []}]
        )
        accented = await call(client, "search_nodes", query="é")
        plain = await call(client, "search_nodes", query="CL")
    assert [e["name"] for e in accented["entities"]] == ["Éclair"]
    assert [e["name"] for e in plain["entities"]] == ["Éclair"]


async def test_search_nodes_matches_substrings_of_name_type_or_observation_in_any_case(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        by_name = await call(client, "search_nodes", query="ALICE")
        by_type = await call(client, "search_nodes", query="perS")
        by_observation = await call(client, "search_nodes", query="acme")
        short = await call(client, "search_nodes", query="ch")
        everything = await call(client, "search_nodes", query="")
        hostile = await call(client, "search_nodes", query='" OR * NEAR(')
    assert by_name["entities"] == [ALICE]
    # Relations touching either end, as the reference does since 2026.7.4.
    assert by_name["relations"] == [rel("Alice", "Bob", "knows")]
    assert [e["name"] for e in by_type["entities"]] == ["Alice", "Bob", "Carol"]
    assert by_observation["entities"] == [CAROL]
    assert [e["name"] for e in short["entities"]] == ["Bob"]
    assert len(everything["entities"]) == 3
    assert hostile["entities"] == []


async def test_open_nodes_skips_unknown_names_and_shows_relations_touching_the_nodes(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        graph = await call(client, "open_nodes", names=["bob", "Nobody"])
    assert graph["entities"] == [BOB]
    assert graph["relations"] == [rel("Alice", "Bob", "knows"), rel("Bob", "Carol", "works_with")]


async def test_namespaces_keep_graphs_apart(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client, namespace="work")
        await call(client, "create_entities", entities=[{**ALICE, "entityType": "cat"}], namespace="home")
        home = await call(client, "read_graph", namespace="home")
        default = await call(client, "read_graph")
        searched = await call(client, "search_nodes", query="Bob", namespace="home")
        message = await call_error(
            client, "create_relations", relations=[rel("Alice", "Bob", "knows")], namespace="home"
        )
    assert home["entities"] == [{**ALICE, "entityType": "cat"}] and home["relations"] == []
    assert default["entities"] == []
    assert searched["entities"] == []
    assert "Entity with name Bob not found" in message


async def test_read_graph_pages_through_entities_then_relations(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        pages = []
        cursor = None
        while True:
            arguments: dict[str, Any] = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
            page = await call(client, "read_graph", **arguments)
            pages.append(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await call_error(client, "read_graph", cursor=cursor_of(["x", 1]))
    entities = [e["name"] for page in pages for e in page["entities"]]
    relations = [r["relationType"] for page in pages for r in page["relations"]]
    assert entities == ["Alice", "Bob", "Carol"]
    assert relations == ["knows", "works_with"]
    assert all(len(page["entities"]) + len(page["relations"]) <= 2 for page in pages)
    assert_refused(bad, settings, "cursor")


async def test_search_nodes_pages_with_a_cursor(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        first = await call(client, "search_nodes", query="person", limit=2)
        second = await call(client, "search_nodes", query="person", limit=2, cursor=first["next_cursor"])
    assert [e["name"] for e in first["entities"]] == ["Alice", "Bob"]
    assert [e["name"] for e in second["entities"]] == ["Carol"] and second["next_cursor"] is None


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        ("create_entities", {"entities": [{"name": "X", "entityType": "t"}]}, ("observations",)),
        ("create_entities", {"entities": [{"name": " ", "entityType": "t", "observations": []}]}, ("name",)),
        ("create_entities", {"entities": [{**ALICE, "name": "n" * 501}]}, ("name", "500")),
        ("create_relations", {"relations": [{"from": "A", "relationType": "r"}]}, ("to",)),
        ("add_observations", {"observations": [{"entityName": "A"}]}, ("contents",)),
        ("delete_entities", {"entityNames": "Alice"}, ("entityNames",)),
        ("search_nodes", {"query": "q" * 2049}, ("query", "2048")),
        ("read_graph", {"limit": 501}, ("limit", "500")),
        ("open_nodes", {"names": ["A"], "namespace": "bad space"}, ("namespace",)),
        ("search_nodes", {"query": "ab\u0000"}, ("query",)),
        ("explore_graph", {"query": "ab\u0000"}, ("query",)),
        ("create_entities", {"entities": [{**ALICE, "name": "A\u0000B"}]}, ("name",)),
        ("add_observations", {"observations": [{"entityName": "A", "contents": ["x\u0000"]}]}, ("contents",)),
        ("read_graph", {"as_of": "yesterday"}, ("as_of",)),
        ("create_relations", {"relations": [{**rel("A", "B", "r"), "weight": -1}]}, ("weight",)),
        ("create_relations", {"relations": [{**rel("A", "B", "r"), "source_memory_ids": [0]}]}, ("source",)),
        ("merge_entities", {"entityName": "A", "into": "B"}, ("into", "not found")),
        ("get_entity", {"name": "A", "limit": 501}, ("limit", "500")),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    settings: Settings,
    minilm: MiniLMEmbedder,
    tool: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    async with open_client(settings, minilm) as client:
        message = await call_error(client, tool, **arguments)
        graph = await call(client, "read_graph")
    assert_refused(message, settings, *fragments)
    assert graph["entities"] == []


async def test_search_nodes_answers_20_entities_a_page_unless_asked_for_more(settings, minilm):
    people = [{"name": f"person {i}", "entityType": "person", "observations": []} for i in range(25)]
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=people)
        first = await call(client, "search_nodes", query="person")
        rest = await call(client, "search_nodes", query="person", cursor=first["next_cursor"])
        whole = await call(client, "search_nodes", query="person", limit=100)
    assert len(first["entities"]) == 20 and len(rest["entities"]) == 5 and rest["next_cursor"] is None
    assert len(whole["entities"]) == 25
