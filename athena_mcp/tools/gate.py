"""What a client session sees and may call, checked before any tool runs, and how answers read.

A session sees the server's toolsets plus those it turned on with `memory_status`; a tool outside
them is unknown to it (a JSON-RPC error, as the MCP specification has it for an unknown tool).
Arguments are checked here so that refusals read like the server's own messages, and each answer's
text block is rendered for a model from its structured content.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent

from athena_mcp.tools.answers import render_answer
from athena_mcp.tools.arguments import invalid_arguments, unknown_arguments

# HTTP sessions that turned toolsets on are remembered up to this many; the one that turned a toolset
# on longest ago is forgotten first.
MAX_SESSIONS = 1024
SESSION_HEADER = "mcp-session-id"
# An HTTP request without a session id (the 2026-07-28 protocol has none): it sees the server's
# toolsets and can turn none on, since every such client would share the change.
SESSIONLESS = ""


class SessionToolsets:
    """The toolsets each client session has turned on, beyond those the server shows everyone."""

    def __init__(
        self, by_toolset: Mapping[str, tuple[Tool, ...]], shown: Iterable[str], summaries: Mapping[str, str]
    ) -> None:
        self.by_toolset = dict(by_toolset)
        self.shown = tuple(shown)
        self.summaries = {name: summaries[name] for name in self.by_toolset}
        self._enabled: OrderedDict[str | None, set[str]] = OrderedDict()

    def toolsets_of(self, session: str | None) -> tuple[str, ...]:
        extra = self._enabled.get(session, set())
        return tuple(name for name in self.by_toolset if name in self.shown or name in extra)

    def tools_of(self, session: str | None) -> dict[str, Tool]:
        return {tool.name: tool for name in self.toolsets_of(session) for tool in self.by_toolset[name]}

    def enable(self, session: str | None, names: Iterable[str]) -> list[str]:
        """Turn toolsets on for the session; returns those that were off."""
        before = set(self.toolsets_of(session))
        added = [name for name in dict.fromkeys(names) if name not in before]
        if added:
            self._enabled.setdefault(session, set()).update(added)
            self._enabled.move_to_end(session)
            while len(self._enabled) > MAX_SESSIONS:
                self._enabled.popitem(last=False)
        return added


class ToolsetServer(MCPServer[Any]):
    """An MCP server that shows each session its own toolsets (see SessionToolsets)."""

    def __init__(self, session_toolsets: SessionToolsets, **kwargs: Any) -> None:
        tools = list({t.name: t for ts in session_toolsets.by_toolset.values() for t in ts}.values())
        super().__init__(tools=tools, middleware=[self._gate], **kwargs)
        self.session_toolsets = session_toolsets

    async def _gate(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/list":
            return _only(await call_next(ctx), self.session_toolsets.tools_of(session_of(ctx.request)))
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name = params.get("name")
        tool = (
            self.session_toolsets.tools_of(session_of(ctx.request)).get(name)
            if isinstance(name, str)
            else None
        )
        if tool is None:
            raise MCPError(
                INVALID_PARAMS,
                f"Unknown tool: {name}. tools/list shows the tools this session has; memory_status "
                "turns further toolsets on.",
            )
        arguments = params.get("arguments") or {}
        if not isinstance(arguments, dict):
            return await call_next(ctx)
        unknown = unknown_arguments(tool, arguments)
        if unknown is not None:
            return _refusal(f"Error executing tool {tool.name}: {unknown}")
        result = await call_next(ctx)
        if isinstance(result, dict) and result.get("isError"):
            # The SDK validated the arguments before the tool ran; validating again only on a
            # refusal keeps a second validation off every successful call.
            invalid = invalid_arguments(tool, arguments)
            return result if invalid is None else _refusal(f"Error executing tool {tool.name}: {invalid}")
        # A client may send a boolean as JSON text; the SDK accepts "true" too.
        return render_answer(tool.name, result, detail=arguments.get("detail") in (True, "true"))


def session_of(request: Any) -> str | None:
    """The client session a request belongs to: its HTTP session id (SESSIONLESS without one); None
    where there is no HTTP request, on stdio and in process, whose server has one client."""
    headers = getattr(request, "headers", None)
    return None if headers is None else headers.get(SESSION_HEADER, SESSIONLESS)


def _only(result: HandlerResult, tools: Mapping[str, Tool]) -> HandlerResult:
    """A tools/list answer (its wire form) with only the given tools."""
    if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    return {**result, "tools": [tool for tool in result["tools"] if tool.get("name") in tools]}


def _refusal(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
