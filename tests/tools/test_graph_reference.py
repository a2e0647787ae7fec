"""Compatibility with the reference MCP memory server (@modelcontextprotocol/server-memory 2026.8.31,
plus the fixes merged on its main branch), from its documented schemas and behaviour: what
tests/tools/test_graph.py leaves out. Where this server deliberately differs (README, Graph), the
test asserts our behaviour and its name says how it differs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import call, call_error, open_client
from tests.tools.test_bad_input import assert_refused
from tests.tools.test_graph import ALICE, BOB, CAROL, rel, seed

pytestmark = pytest.mark.timeout(120)

S, A = "string", "array"
ENTITY = {
    "name": (S, "The name of the entity"),
    "entityType": (S, "The type of the entity"),
    "observations": (A, "An array of observation contents associated with the entity"),
}
RELATION = {
    "from": (S, "The name of the entity where the relation starts"),
    "to": (S, "The name of the entity where the relation ends"),
    "relationType": (S, "The type of the relation"),
}
# Per tool: its reference arguments as (JSON type, description; None where the reference has none),
# and the fields of their array items.
INPUTS: dict[str, tuple[dict[str, tuple[str, str | None]], dict[str, tuple[str, str]]]] = {
    "create_entities": ({"entities": (A, None)}, ENTITY),
    "create_relations": ({"relations": (A, None)}, RELATION),
    "add_observations": (
        {"observations": (A, None)},
        {
            "entityName": (S, "The name of the entity to add the observations to"),
            "contents": (A, "An array of observation contents to add"),
        },
    ),
    "delete_entities": ({"entityNames": (A, "An array of entity names to delete")}, {}),
    "delete_observations": (
        {"deletions": (A, None)},
        {
            "entityName": (S, "The name of the entity containing the observations"),
            "observations": (A, "An array of observations to delete"),
        },
    ),
    "delete_relations": ({"relations": (A, "An array of relations to delete")}, RELATION),
    "read_graph": ({}, {}),
    "search_nodes": (
        {"query": (S, "The search query to match against entity names, types, and observation content")},
        {},
    ),
    "open_nodes": ({"names": (A, "An array of entity names to retrieve")}, {}),
}

ENTITY_OUT = {"name": S, "entityType": S, "observations": A}
RELATION_OUT = {"from": S, "to": S, "relationType": S}
DELETED_OUT = ({"success": "boolean", "message": S}, None)
GRAPH_OUT = ({"entities": A, "relations": A}, {"entities": ENTITY_OUT, "relations": RELATION_OUT})
OUTPUTS: dict[str, tuple[dict[str, str], dict[str, dict[str, str]] | None]] = {
    "create_entities": ({"entities": A}, {"entities": ENTITY_OUT}),
    "create_relations": ({"relations": A}, {"relations": RELATION_OUT}),
    "add_observations": ({"results": A}, {"results": {"entityName": S, "addedObservations": A}}),
    "delete_entities": DELETED_OUT,
    "delete_observations": DELETED_OUT,
    "delete_relations": DELETED_OUT,
    "read_graph": GRAPH_OUT,
    "search_nodes": GRAPH_OUT,
    "open_nodes": GRAPH_OUT,
}


def resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The node with a local $ref followed."""
    if "$ref" in node:
        return schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


async def graph_tools(settings, minilm) -> dict[str, Any]:
    async with open_client(settings, minilm) as client:
        return {tool.name: tool for tool in (await client.list_tools()).tools if tool.name in INPUTS}


async def test_input_schemas_have_the_reference_fields_types_and_descriptions_plus_optional_ones_of_ours(
    settings, minilm
):
    tools = await graph_tools(settings, minilm)
    assert set(tools) == set(INPUTS)
    for name, (arguments, item_fields) in INPUTS.items():
        schema = tools[name].input_schema
        properties = schema["properties"]
        # Our own arguments (namespace, paging, as_of) are all optional, so reference calls still work.
        assert "namespace" in properties and set(schema.get("required", [])) == set(arguments), name
        for argument, (kind, description) in arguments.items():
            assert properties[argument]["type"] == kind, (name, argument)
            assert properties[argument].get("description") == description, (name, argument)
        arrays = [properties[a] for a, (kind, _) in arguments.items() if kind == A]
        if not item_fields:
            # entityNames and names: arrays of strings.
            assert all(array["items"]["type"] == S for array in arrays), name
            continue
        [array] = arrays
        item = resolved(schema, array["items"])
        assert item["required"] == list(item_fields), name
        for field, (kind, description) in item_fields.items():
            assert (item["properties"][field]["type"], item["properties"][field]["description"]) == (
                kind,
                description,
            ), (name, field)
            if kind == A:
                assert item["properties"][field]["items"]["type"] == S, (name, field)


async def test_output_schemas_have_the_reference_fields_and_reads_add_next_cursor(settings, minilm):
    tools = await graph_tools(settings, minilm)
    for name, (fields, items) in OUTPUTS.items():
        schema = tools[name].output_schema
        assert schema is not None, name
        assert schema["required"] == list(fields), name
        assert set(fields) <= set(schema["properties"]), name
        assert ("next_cursor" in schema["properties"]) == (fields == GRAPH_OUT[0]), name
        for field, kind in fields.items():
            assert schema["properties"][field]["type"] == kind, (name, field)
        for field, item_fields in (items or {}).items():
            item = resolved(schema, schema["properties"][field]["items"])
            assert item["required"] == list(item_fields), (name, field)
            assert {key: value["type"] for key, value in item["properties"].items()} == item_fields


async def test_unknown_keys_inside_items_are_dropped_as_the_reference_does_but_unknown_arguments_are_refused(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        created = await call(
            client, "create_entities", entities=[{**ALICE, "foo": 1}, {**BOB, "type": "entity", "zzz": [2]}]
        )
        related = await call(client, "create_relations", relations=[{**rel("Alice", "Bob", "knows"), "w": 3}])
        refused = await call_error(client, "create_entities", entities=[CAROL], foo=1)
        graph = await call(client, "read_graph")
    assert created == {"entities": [ALICE, BOB]}
    assert related["relations"] == [rel("Alice", "Bob", "knows")]
    assert_refused(refused, settings, "foo")
    assert graph["entities"] == [ALICE, BOB]


async def test_empty_batches_succeed_and_create_nothing(settings, minilm):
    async with open_client(settings, minilm) as client:
        entities = await call(client, "create_entities", entities=[])
        relations = await call(client, "create_relations", relations=[])
        added = await call(client, "add_observations", observations=[])
        opened = await call(client, "open_nodes", names=[])
    assert (entities, relations["relations"], added) == ({"entities": []}, [], {"results": []})
    assert opened["entities"] == [] and opened["relations"] == []


async def test_relation_identity_is_the_exact_triple_and_a_repeat_in_one_batch_is_created_once(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        await seed(client)
        created = await call(
            client,
            "create_relations",
            relations=[
                rel("Alice", "Bob", "Knows"),
                rel("Bob", "Alice", "knows"),
                rel("Alice", "Carol", "admires"),
                rel("Alice", "Carol", "admires"),
            ],
        )
    # Type case and direction make a different relation; the in-batch repeat is skipped (reference main).
    assert created["relations"] == [
        rel("Alice", "Bob", "Knows"),
        rel("Bob", "Alice", "knows"),
        rel("Alice", "Carol", "admires"),
    ]


async def test_observations_are_exact_strings_so_another_letter_case_is_another_observation(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        added = await call(
            client,
            "add_observations",
            observations=[{"entityName": "Alice", "contents": ["Likes tea", "likes tea"]}],
        )
        graph = await call(client, "open_nodes", names=["Alice"])
    assert added == {"results": [{"entityName": "Alice", "addedObservations": ["Likes tea"]}]}
    assert graph["entities"][0]["observations"] == ["likes tea", "Likes tea"]


async def test_add_observations_finds_an_entity_by_another_letter_case_unlike_the_case_sensitive_reference(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        await seed(client)
        added = await call(
            client, "add_observations", observations=[{"entityName": " ALICE", "contents": ["x"]}]
        )
        graph = await call(client, "open_nodes", names=["Alice"])
    # The name is echoed as the caller wrote it, as the reference echoes entityName.
    assert added == {"results": [{"entityName": " ALICE", "addedObservations": ["x"]}]}
    assert graph["entities"][0]["observations"] == ["likes tea", "x"]


async def test_deleting_what_does_not_exist_succeeds_and_changes_nothing(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        before = await call(client, "read_graph")
        entities = await call(client, "delete_entities", entityNames=["Nobody"])
        observations = await call(
            client,
            "delete_observations",
            deletions=[
                {"entityName": "Nobody", "observations": ["x"]},
                {"entityName": "Alice", "observations": ["never said"]},
            ],
        )
        relations = await call(
            client,
            "delete_relations",
            relations=[rel("Alice", "Ghost", "haunts"), rel("Alice", "Bob", "hates")],
        )
        after = await call(client, "read_graph")
    # The wording is that of the reference's main branch, which reports partial deletes.
    assert entities == {"success": True, "message": "Deleted 0 of 1 entities. Not found: Nobody"}
    assert observations["success"] and observations["message"].startswith("Deleted 0 of 2 observations")
    assert observations["message"].endswith("Entities not found: Nobody")
    assert relations == {"success": True, "message": "Deleted 0 of 2 relations. The rest matched nothing."}
    assert after == before


async def test_deleting_everything_asked_reports_the_reference_success_messages(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        observations = await call(
            client, "delete_observations", deletions=[{"entityName": "Bob", "observations": ["plays chess"]}]
        )
        relations = await call(client, "delete_relations", relations=[rel("Alice", "Bob", "knows")])
    assert observations == {"success": True, "message": "Observations deleted successfully"}
    assert relations == {"success": True, "message": "Relations deleted successfully"}


async def test_deleting_an_entity_leaves_relations_between_other_entities(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        await call(client, "create_relations", relations=[rel("Carol", "Alice", "mentors")])
        await call(client, "delete_entities", entityNames=["Bob"])
        graph = await call(client, "read_graph")
        searched = await call(client, "search_nodes", query="chess")
    assert graph["entities"] == [ALICE, CAROL]
    assert graph["relations"] == [rel("Carol", "Alice", "mentors")]
    assert searched["entities"] == []


async def test_search_takes_the_query_as_one_substring_and_never_matches_relation_types(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        whole = await call(client, "search_nodes", query="Likes Tea")
        reordered = await call(client, "search_nodes", query="tea likes")
        across_fields = await call(client, "search_nodes", query="Alice person")
        relation_type = await call(client, "search_nodes", query="works_with")
    assert whole["entities"] == [ALICE]
    assert reordered["entities"] == across_fields["entities"] == relation_type["entities"] == []


async def test_open_nodes_lists_each_entity_once_in_stored_order_with_only_the_relations_touching_them(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        await seed(client)
        reordered = await call(client, "open_nodes", names=["Carol", "Alice", "Alice"])
        alone = await call(client, "open_nodes", names=["Alice"])
    assert reordered["entities"] == [ALICE, CAROL]
    assert reordered["relations"] == [rel("Alice", "Bob", "knows"), rel("Bob", "Carol", "works_with")]
    # Bob -> Carol touches neither end of Alice's relations, so it stays out.
    assert alone["relations"] == [rel("Alice", "Bob", "knows")]
