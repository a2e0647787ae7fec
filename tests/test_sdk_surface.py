"""The MCP SDK surfaces Athena relies on beyond the SDK's stable API, checked by name.

`pyproject.toml` pins mcp to the minor version these were checked against. When an upgrade changes
one of them, a test here fails saying which, before the symptoms spread through the suite:
- the server middleware (`MCPServer(middleware=...)`, provisional in 2.x) that shows each session its
  toolsets, checks arguments and renders answers (tools/gate.py) sees requests before validation and
  answers in their wire form;
- the low-level server behind MCPServer (private), which Athena's own stdio transport drives
  (stdio.py says why it has its own);
- the tool's function metadata, whose output schema tools/surface.py replaces with a lean one.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from mcp import Client
from mcp.server import NotificationOptions
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from pydantic import BaseModel

CHECKED_AGAINST = "2.3."


class Answer(BaseModel):
    value: int


async def double(value: int) -> Answer:
    """Double a number."""
    return Answer(value=value * 2)


def test_the_installed_sdk_is_the_minor_version_checked_against() -> None:
    assert version("mcp").startswith(CHECKED_AGAINST), (
        f"mcp {version('mcp')} is installed; Athena was checked against {CHECKED_AGAINST}x. Re-check the "
        "surfaces in this file, then move the pin in pyproject.toml."
    )


async def test_middleware_sees_raw_requests_and_wire_form_answers() -> None:
    seen: list[tuple[str, Any, Any]] = []

    async def observe(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        seen.append((ctx.method, ctx.params, result))
        return result

    tool = Tool.from_function(double)
    async with Client(MCPServer("probe", tools=[tool], middleware=[observe])) as client:
        await client.list_tools()
        await client.call_tool("double", {"value": 2})
    by_method = {method: (params, result) for method, params, result in seen}
    params, listed = by_method["tools/list"]
    assert isinstance(listed, dict) and [t["name"] for t in listed["tools"]] == ["double"]
    params, called = by_method["tools/call"]
    assert params["name"] == "double" and params["arguments"] == {"value": 2}
    assert isinstance(called, dict) and called["structuredContent"] == {"value": 4}


def test_the_low_level_server_announces_tool_list_changes_when_told() -> None:
    lowlevel = MCPServer("probe", tools=[Tool.from_function(double)])._lowlevel_server
    assert callable(lowlevel.run)
    told = lowlevel.create_initialization_options(NotificationOptions(tools_changed=True)).capabilities
    untold = lowlevel.create_initialization_options().capabilities
    assert told.tools is not None and told.tools.list_changed is True
    assert untold.tools is not None and untold.tools.list_changed is False


async def test_a_replaced_output_schema_is_what_tools_list_shows() -> None:
    tool = Tool.from_function(double)
    assert tool.fn_metadata.output_schema is not None
    tool.fn_metadata.output_schema = {"type": "object", "properties": {"value": {"type": "integer"}}}
    async with Client(MCPServer("probe", tools=[tool])) as client:
        [listed] = (await client.list_tools()).tools
        result = await client.call_tool("double", {"value": 3})
    assert listed.output_schema == {"type": "object", "properties": {"value": {"type": "integer"}}}
    assert result.structured_content == {"value": 6}
