"""The tools/list contract: names, descriptions for a model, bounded input schemas, honest annotations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_types import Tool

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import open_client

pytestmark = pytest.mark.timeout(60)

# Each toolset and its tools; a toolset added to the server is added here.
TOOLSET_TOOLS = {
    "core": {
        "remember",
        "recall",
        "update",
        "forget",
        "save_procedure",
        "record_execution",
        "create_task",
        "update_task",
        "brief",
        "add_to_graph",
        "consolidate",
        "memory_status",
    },
    "semantic": {"remember", "recall", "get", "update", "forget", "restore", "list_memories"},
    "episodic": {"record_event", "record_events", "recall_events", "timeline"},
    "prospective": {
        "create_task",
        "update_task",
        "list_tasks",
        "create_goal",
        "list_goals",
        "create_trigger",
        "list_triggers",
        "cancel_trigger",
        "due",
        "dismiss",
    },
    "procedural": {
        "save_procedure",
        "find_procedures",
        "get_procedure",
        "record_execution",
        "list_procedures",
        "retire_procedure",
        "restore_procedure",
    },
    "graph": {
        "create_entities",
        "create_relations",
        "add_observations",
        "delete_entities",
        "delete_observations",
        "delete_relations",
        "read_graph",
        "search_nodes",
        "open_nodes",
        *("get_entity", "add_aliases", "remove_aliases", "merge_entities", "unmerge_entities"),
        *("detect_communities", "list_communities", "get_community"),
        *("find_neighbours", "find_path", "explore_graph"),
    },
    "meta": {"focus", "know"},
    "consolidation": {
        "consolidate",
        "consolidation_status",
        "list_compactions",
        "undo_compaction",
        "rate_memory",
    },
}
ALL_TOOLS = set().union(*TOOLSET_TOOLS.values())
READ_ONLY_TOOLS = {
    "brief",
    "know",
    *("recall", "get", "list_memories", "recall_events", "timeline"),
    *("list_tasks", "list_goals", "list_triggers"),
    *("find_procedures", "get_procedure", "list_procedures"),
    *("consolidation_status", "list_compactions"),
    *("read_graph", "search_nodes", "open_nodes", "get_entity"),
    *("list_communities", "get_community"),
    *("find_neighbours", "find_path", "explore_graph"),
    # Turning a toolset on changes what the session is shown, not what the memory holds.
    "memory_status",
}
# forget hides a memory and retire_procedure a procedure; update_task overwrites fields without
# history; a cancelled trigger stays so; consolidate compacts old events and purges expired ones.
# The graph's deletions end entities, observations and relations (kept only as history); removing
# an alias forgets it; a merge ends the absorbed entity's facts and an unmerge the copies.
DESTRUCTIVE_TOOLS = {
    *("forget", "retire_procedure", "update_task", "cancel_trigger", "consolidate"),
    *("delete_entities", "delete_observations", "delete_relations"),
    *("remove_aliases", "merge_entities", "unmerge_entities"),
}
# Recording an event twice records two events, and an execution (without a session) two runs;
# creating a task, goal or trigger twice creates two, and each rating counts; every other tool
# converges on repeat (a second consolidate finds nothing new). A second merge of the same pair is
# refused (they are one entity by then) and a second unmerge too: each is a step of its own.
NOT_IDEMPOTENT_TOOLS = {
    *("remember", "record_event", "record_events", "record_execution"),
    *("create_task", "create_goal", "create_trigger"),
    *("rate_memory", "merge_entities", "unmerge_entities"),
}

_ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs)\.", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
# What belongs in a docstring for programmers, not in a description a model reads.
_FOR_PROGRAMMERS = (
    "Args:",
    "Returns:",
    "Raises:",
    ":param",
    "services",
    "ServicesDep",
    "SQL",
    "sqlite",
    ">>>",
)


async def list_tools(settings: Settings, embedder: MiniLMEmbedder) -> dict[str, Tool]:
    async with open_client(settings, embedder) as client:
        listing = await client.list_tools()
    assert listing.next_cursor is None
    return {tool.name: tool for tool in listing.tools}


@pytest.fixture
async def tools(settings: Settings, minilm: MiniLMEmbedder) -> dict[str, Tool]:
    return await list_tools(settings, minilm)


def sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(_ABBREVIATIONS.sub(r"\1", text.strip())))


def schema_nodes(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema reachable from the root with its path, following $ref into $defs."""
    definitions = schema.get("$defs", {})
    seen_refs: set[str] = set()

    def walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/$defs/"), f"{path}: unexpected $ref {ref}"
            name = ref.removeprefix("#/$defs/")
            if name not in seen_refs:
                seen_refs.add(name)
                yield from walk(definitions[name], f"{path}->{name}")
        yield path, node
        for key, child in node.get("properties", {}).items():
            yield from walk(child, f"{path}.{key}")
        for combinator in ("anyOf", "oneOf", "allOf"):
            for index, child in enumerate(node.get(combinator, [])):
                yield from walk(child, f"{path}|{combinator}[{index}]")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from walk(node[key], f"{path}.{key}")
        for index, child in enumerate(node.get("prefixItems", [])):
            yield from walk(child, f"{path}.prefixItems[{index}]")

    yield from walk(schema, "$")


def types_of(node: dict[str, Any]) -> set[str]:
    declared = node.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def unbounded(tool: Tool) -> list[str]:
    """Paths of string fields without maxLength and list fields without maxItems in the input schema."""
    problems = []
    for path, node in schema_nodes(tool.input_schema):
        kinds = types_of(node)
        if "string" in kinds and "maxLength" not in node and "enum" not in node and "const" not in node:
            problems.append(f"{path}: string without maxLength")
        if "array" in kinds and "maxItems" not in node:
            problems.append(f"{path}: array without maxItems")
    return problems


async def test_the_server_exposes_exactly_the_tools_of_every_toolset(tools: dict[str, Tool]) -> None:
    assert set(tools) == ALL_TOOLS
    # A core tool is its toolset's own tool, listed once.
    assert len(tools) == len(ALL_TOOLS)


async def test_every_description_is_one_or_two_sentences_written_for_a_model(tools: dict[str, Tool]) -> None:
    for name, tool in tools.items():
        description = (tool.description or "").strip()
        assert description, f"{name} has no description"
        assert 1 <= sentences(description) <= 2, f"{name}: {description!r}"
        assert description.endswith("."), f"{name}: {description!r}"
        assert len(description) <= 400, f"{name}: {len(description)} characters"
        for marker in _FOR_PROGRAMMERS:
            assert marker not in description, f"{name} description mentions {marker!r}"


async def test_every_input_string_carries_max_length_and_every_list_max_items(tools: dict[str, Tool]) -> None:
    problems = {
        name: [p for p in unbounded(tool) if not _is_date_time(tool, p)] for name, tool in tools.items()
    }
    assert {name: found for name, found in problems.items() if found} == {}


async def test_date_time_inputs_also_carry_max_length(tools: dict[str, Tool]) -> None:
    assert {name: unbounded(tool) for name, tool in tools.items() if unbounded(tool)} == {}


async def test_the_schema_walk_reaches_nested_event_fields(tools: dict[str, Tool]) -> None:
    # Guards the walk itself: the per-event fields sit behind $defs/$ref and anyOf.
    paths = [path for path, _ in schema_nodes(tools["record_events"].input_schema)]
    assert any(path.endswith("->EventInput.tags") for path in paths), paths
    assert any(path.endswith("->EventInput.session_id") for path in paths), paths
    inner = {"type": "object", "properties": {"free": {"type": "string"}}}
    listed = {"type": "array", "items": {"$ref": "#/$defs/Inner"}}
    probe = Tool(
        name="probe",
        input_schema={
            "type": "object",
            "$defs": {"Inner": inner},
            "properties": {"x": {"anyOf": [listed, {"type": "null"}]}},
        },
    )
    assert unbounded(probe) == [
        "$.x|anyOf[0]: array without maxItems",
        "$.x|anyOf[0].items->Inner.free: string without maxLength",
    ]


async def test_every_tool_declares_an_object_output_schema(tools: dict[str, Tool]) -> None:
    for name, tool in tools.items():
        assert tool.output_schema is not None, f"{name} has no output schema"
        assert tool.output_schema.get("type") == "object", name
        assert tool.output_schema.get("properties"), name


async def test_every_tool_sets_each_annotation_explicitly_and_is_closed_world(tools: dict[str, Tool]) -> None:
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None, f"{name} has no annotations"
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(hints, hint), bool), f"{name}.{hint} is not set"
        assert hints.open_world_hint is False, name


def hinted(tools: dict[str, Tool], hint: str, value: bool) -> set[str]:
    return {name for name, tool in tools.items() if getattr(tool.annotations, hint, None) is value}


async def test_read_only_tools_are_exactly_the_ones_that_only_read(tools: dict[str, Tool]) -> None:
    assert hinted(tools, "read_only_hint", True) == READ_ONLY_TOOLS


async def test_only_hiding_overwriting_and_stopping_are_destructive(tools: dict[str, Tool]) -> None:
    assert hinted(tools, "destructive_hint", True) == DESTRUCTIVE_TOOLS


async def test_only_recording_and_creating_are_not_idempotent(tools: dict[str, Tool]) -> None:
    assert hinted(tools, "idempotent_hint", False) == NOT_IDEMPOTENT_TOOLS


@pytest.mark.parametrize("toolsets", [(name,) for name in TOOLSET_TOOLS] + [("semantic", "episodic")])
async def test_toolsets_setting_exposes_only_the_chosen_tools(
    tmp_path: Path, minilm: MiniLMEmbedder, toolsets: tuple[str, ...]
) -> None:
    listed = await list_tools(Settings(db=tmp_path / "athena.db", toolsets=toolsets), minilm)
    assert set(listed) == set().union(*(TOOLSET_TOOLS[name] for name in toolsets))


def _is_date_time(tool: Tool, problem: str) -> bool:
    path = problem.split(":", 1)[0]
    return any(p == path and node.get("format") == "date-time" for p, node in schema_nodes(tool.input_schema))
