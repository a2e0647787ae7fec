"""The default surface: a dozen tools in a few thousand tokens, compact answers, and the rest of the
tools a session turns on when it needs them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ToolsListChanged
from mcp_types import INVALID_PARAMS

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.settings import TOOLSETS, Settings
from athena_mcp.tools.core import ToolsetName
from athena_mcp.tools.gate import SESSIONLESS, session_of
from athena_mcp.tools.surface import TOOLSETS as SURFACE_TOOLSETS
from perf.bench_surface import measure_recall, measure_surface
from tests.conftest import call, call_error, open_client
from tests.stdio_server import StdioServer
from tests.tools.test_tool_contract import TOOLSET_TOOLS

MAX_DEFAULT_TOOLS = 12
MAX_DEFINITION_BYTES = 12_000
MAX_LIST_BYTES = 30_000
MAX_BYTES_PER_HIT = 80
MAX_INSTRUCTIONS = 1_200


@pytest.fixture
def core(tmp_path: Path) -> Settings:
    """The defaults a new user gets."""
    return Settings(db=tmp_path / "athena.db", backlog_interval=0.05)


async def test_the_default_surface_fits_a_dozen_tools_and_the_byte_budgets(tmp_path: Path) -> None:
    surface = await measure_surface("core", tmp_path / "a.db")
    assert len(surface.tools) <= MAX_DEFAULT_TOOLS
    assert {tool.name for tool in surface.tools} == TOOLSET_TOOLS["core"]
    assert surface.definition_bytes <= MAX_DEFINITION_BYTES, surface.definition_bytes
    assert surface.list_bytes <= MAX_LIST_BYTES, surface.list_bytes
    assert surface.instructions_chars <= MAX_INSTRUCTIONS


async def test_a_recall_answer_costs_at_most_80_bytes_a_hit_beyond_its_content(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    cost = await measure_recall(tmp_path / "a.db", minilm)
    assert cost.hits == 5
    assert cost.overhead_per_hit <= MAX_BYTES_PER_HIT, cost


async def test_all_serves_every_tool_of_every_toolset_under_its_name(tmp_path: Path) -> None:
    surface = await measure_surface("all", tmp_path / "a.db")
    assert {tool.name for tool in surface.tools} == set().union(*TOOLSET_TOOLS.values())


@pytest.mark.parametrize("toolsets", [("core",), ("all",), *((name,) for name in TOOLSETS if name != "core")])
async def test_instructions_name_only_tools_that_are_served_and_stay_short(
    tmp_path: Path, minilm: MiniLMEmbedder, toolsets: tuple[str, ...]
) -> None:
    async with open_client(Settings(db=tmp_path / "a.db", toolsets=toolsets), minilm) as client:
        served = {tool.name for tool in (await client.list_tools()).tools}
        instructions = client.instructions or ""
    named = set(re.findall(r"`([a-z_]+)`", instructions))
    assert named, instructions
    assert named <= served, named - served
    assert len(instructions) <= MAX_INSTRUCTIONS, len(instructions)


async def test_descriptions_are_one_paragraph_and_schemas_carry_no_pydantic_noise(tmp_path: Path) -> None:
    async with Client(
        build_server(Settings(db=tmp_path / "a.db", toolsets=("all",)), background=False)
    ) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert tool.description and "\n" not in tool.description and "  " not in tool.description, tool.name
        assert not list(_noise(tool.input_schema, null_is_noise=True)), tool.name
        assert not list(_noise(tool.output_schema or {}, null_is_noise=False)), tool.name


def _noise(node: Any, *, null_is_noise: bool) -> Iterator[str]:
    """Titles anywhere, and (in inputs) `X | null` unions: what pydantic adds and a model needs not read."""
    if isinstance(node, list):
        for item in node:
            yield from _noise(item, null_is_noise=null_is_noise)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                yield "title"
            elif key == "anyOf" and null_is_noise and {"type": "null"} in value:
                yield "null arm"
            # The keys of a properties object are argument names (a task has a title).
            children = (
                value.values() if key in ("properties", "$defs") and isinstance(value, dict) else [value]
            )
            for child in children:
                yield from _noise(child, null_is_noise=null_is_noise)


async def test_a_tool_outside_the_session_is_a_json_rpc_error(core: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(core, minilm) as client:
        for name in ("find_path", "no_such_tool"):
            with pytest.raises(MCPError) as raised:
                await client.call_tool(name, {})
            assert raised.value.error.code == INVALID_PARAMS
            assert name in raised.value.error.message


async def test_memory_status_turns_a_toolset_on_for_the_session_and_announces_it(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client, client.listen(tools_list_changed=True) as changes:
        before = {tool.name for tool in (await client.list_tools()).tools}
        status = await call(client, "memory_status", enable=["graph"])
        async with asyncio.timeout(10):
            announced = await anext(aiter(changes))
        after = {tool.name for tool in (await client.list_tools()).tools}
        assert status["enabled"] == ["graph"]
        assert isinstance(announced, ToolsListChanged)
        assert {"find_path", "search_nodes", "merge_entities"} <= after - before
        assert before <= after
        assert (await call(client, "memory_status", enable=["graph"]))["enabled"] == []
        await call(
            client, "create_entities", entities=[{"name": "Ada", "entityType": "person", "observations": []}]
        )


@pytest.mark.slow
async def test_the_default_surface_over_stdio_turns_toolsets_on_and_answers_compactly(tmp_path: Path) -> None:
    """A real process on a handshake-era protocol: the change comes as notifications/tools/list_changed."""
    server = await StdioServer(tmp_path / "a.db", "--toolsets", "core").start()
    try:
        before = {tool["name"] for tool in (await server.request("tools/list", {}))["tools"]}
        await server.call_tool("memory_status", {"enable": ["episodic"]})
        after = {tool["name"] for tool in (await server.request("tools/list", {}))["tools"]}
        stored = await server.call_tool("remember", {"content": "Deploys run from GitHub Actions."})
        answer = await server.request("tools/call", {"name": "recall", "arguments": {"query": "deploys"}})
        no_arguments = await server.request("tools/call", {"name": "recall"})
    finally:
        await server.stop()
    assert before == TOOLSET_TOOLS["core"]
    assert after == before | TOOLSET_TOOLS["episodic"]
    assert {"method": "notifications/tools/list_changed"} in [
        {"method": n["method"]} for n in server.notifications
    ]
    assert no_arguments["isError"] and no_arguments["content"][0]["text"].endswith("query: is required")
    text = answer["content"][0]["text"]
    assert re.search(
        rf'^\[{stored["id"]}\] fact [\d: -]+ \d\.\d\d: "Deploys run from GitHub Actions\."$', text, re.M
    )


async def test_memory_status_lists_namespaces_with_their_counts(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        await call(client, "remember", content="Deploys go through Fly.io.", namespace="web")
        await call(client, "remember", content="ran the tests", memory_type="episodic", namespace="web")
        await call(client, "create_task", title="Rotate keys", namespace="ops")
        result = await client.call_tool("memory_status", {})
    assert result.structured_content is not None
    counts = {n["namespace"]: n["counts"] for n in result.structured_content["namespaces"]}
    assert counts == {"web": {"facts": 1, "events": 1}, "ops": {"open_tasks": 1}}
    text = result.content[0].text  # type: ignore[union-attr]
    assert "web: 1 facts, 1 events" in text and "toolset graph (off)" in text


async def test_a_search_of_an_empty_namespace_says_which_namespaces_hold_memories(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        await call(client, "remember", content="The app is hosted on Fly.io.", namespace="web")
        result = await client.call_tool("recall", {"query": "where is the app hosted"})
        # Left empty by its filters in a namespace that holds memories: no notice is due.
        filtered = await call(client, "recall", query="where is the app", namespace="web", tags=["nope"])
    assert result.structured_content is not None and result.structured_content["results"] == []
    assert "Namespace default holds nothing; these hold memories: web (1)" in result.content[0].text  # type: ignore[union-attr]
    assert filtered["results"] == [] and filtered["notice"] is None


async def test_remember_writes_events_too_and_recall_filters_them_by_session(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        event = await call(
            client,
            "remember",
            content="pytest failed on the migration test",
            memory_type="episodic",
            kind="error",
            session_id="task-7",
            outcome="failure",
        )
        await call(client, "remember", content="The migration test needs a fresh database.")
        found = await call(client, "recall", query="migration test", session_id="task-7")
        error = await call_error(client, "remember", content="a fact", outcome="success")
    assert [hit["id"] for hit in found["results"]] == [event["id"]]
    assert found["results"][0]["system"] == "episodic" and found["results"][0]["outcome"] == "failure"
    assert "memory_type 'episodic'" in error


async def test_recall_reaches_procedures_and_the_graph_on_request(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        await call(client, "save_procedure", name="Release", goal="Publish a release", steps=["tag", "push"])
        await call(client, "remember", content="Maria Lopez reviews all database migrations.")
        await call(
            client,
            "add_to_graph",
            entities=[{"name": "Maria Lopez", "entityType": "person", "observations": ["DBA"]}],
        )
        default = await call(client, "recall", query="publish a release")
        everything = await client.call_tool(
            "recall", {"query": "Who is Maria Lopez?", "memory_types": ["semantic", "procedural", "graph"]}
        )
        releases = await call(client, "recall", query="publish a release", memory_types=["procedural"])
    assert default["procedures"] == [] and default["graph"] is None
    assert [p["name"] for p in releases["procedures"]] == ["Release"] and releases["results"] == []
    assert everything.structured_content is not None
    assert [e["name"] for e in everything.structured_content["graph"]["entities"]] == ["Maria Lopez"]
    assert 'Maria Lopez (person): "DBA' in everything.content[0].text  # type: ignore[union-attr]


async def test_add_to_graph_saves_all_of_it_or_nothing(core: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(core, minilm) as client:
        ada = {"name": "Ada", "entityType": "person", "observations": ["writes the parser"]}
        error = await call_error(
            client,
            "add_to_graph",
            entities=[ada],
            relations=[{"from": "Ada", "to": "Nobody", "relationType": "knows"}],
        )
        assert ("relations[0].to" in error and "Nothing" in error) or "No relation was saved" in error
        assert (await call(client, "memory_status"))["namespaces"] == []
        first = await call(
            client,
            "add_to_graph",
            entities=[ada, {"name": "Parser", "entityType": "project", "observations": []}],
            relations=[{"from": "Ada", "to": "Parser", "relationType": "works_on"}],
        )
        again = await call(
            client, "add_to_graph", entities=[{**ada, "observations": ["writes the parser", "likes tea"]}]
        )
    assert [e["name"] for e in first["entities"]] == ["Ada", "Parser"] and len(first["relations"]) == 1
    assert again["entities"] == [] and again["observations"] == [
        {"entityName": "Ada", "addedObservations": ["likes tea"]}
    ]


async def test_refusals_name_the_field_and_what_to_send_without_pydantic_text(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        error = await call_error(client, "remember", content="x" * 20_001, importance=3, namespace=["a"])
        unknown = await call_error(client, "recall", query="q", namespaces=["a"])
        nested = await call_error(
            client, "add_to_graph", relations=[{"from": "a", "to": "b", "relationType": "r", "weight": -1}]
        )
    assert "content: string should have at most 20000 characters" in error
    assert "importance: input should be less than or equal to 1" in error
    assert "namespace: input should be a valid string" in error
    assert "'namespaces': not an argument of recall; it takes" in unknown
    assert "relations[0].weight: input should be greater than 0" in nested
    for text in (error, unknown, nested):
        assert "pydantic" not in text and "https://" not in text and "validation error" not in text


async def test_answers_render_one_line_a_hit_with_the_full_record_kept_structured(
    core: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(core, minilm) as client:
        stored = await call(client, "remember", content="Secrets live in Doppler.", tags=["ops"])
        result = await client.call_tool("recall", {"query": "where are secrets kept"})
        detailed = await client.call_tool("recall", {"query": "where are secrets kept", "detail": True})
    assert result.structured_content is not None
    [hit] = result.structured_content["results"]
    assert hit["tags"] == ["ops"] and hit["id"] == stored["id"]
    line = result.content[0].text  # type: ignore[union-attr]
    assert re.fullmatch(
        rf'\[{stored["id"]}\] fact \d{{4}}-\d\d-\d\d \d\d:\d\d \d\.\d\d: "Secrets live in Doppler\."', line
    )
    assert '"tags":["ops"]' in detailed.content[0].text  # type: ignore[union-attr]


def test_a_session_is_the_http_session_id_or_the_one_client_of_a_process() -> None:
    class Request:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    assert session_of(None) is None  # stdio, in process: the server's one client
    assert session_of(Request({"mcp-session-id": "abc"})) == "abc"
    assert session_of(Request({})) == SESSIONLESS  # may not turn toolsets on for everyone


def test_the_toolsets_memory_status_accepts_are_the_ones_there_are() -> None:
    assert get_args(ToolsetName) == TOOLSETS == tuple(SURFACE_TOOLSETS)


async def test_procedure_and_explored_graph_answers_keep_what_a_model_acts_on(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        saved = await call(
            client,
            "save_procedure",
            name="Release",
            goal="Publish a release",
            steps=["tag", "push"],
            preconditions=["main is green"],
            expected_outcome="the package is on PyPI",
        )
        await call(client, "record_execution", id=saved["id"], outcome="failure", notes="push was refused")
        procedure = await client.call_tool("get_procedure", {"id": saved["id"]})
        await call(
            client,
            "add_to_graph",
            entities=[
                {"name": "Ada", "entityType": "person", "observations": []},
                {"name": "Parser", "entityType": "project", "observations": []},
            ],
            relations=[{"from": "Ada", "to": "Parser", "relationType": "works_on"}],
        )
        explored = await client.call_tool("explore_graph", {"query": "Ada", "depth": 1})
    text = procedure.content[0].text  # type: ignore[union-attr]
    assert "before: main is green" in text and "success looks like: the package is on PyPI" in text
    assert 'failure: "push was refused"' in text
    assert explored.content[0].text.split("\n") == [  # type: ignore[union-attr]
        "hit Ada (person)",
        "+1 Parser (project)",
        "Ada -works_on-> Parser",
    ]
