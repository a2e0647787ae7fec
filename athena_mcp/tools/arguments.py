"""Refuse tool arguments that no parameter takes.

Pydantic would silently drop them, and for a memory server a silently dropped `namespaces` (meant
as `namespace`) or `tag` (meant as `tags`) means a search of the wrong memories that looks right.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent


def refuse_unknown_arguments(server: MCPServer) -> None:
    """Install the check as server middleware; it runs before the SDK validates the call."""
    parameters: dict[str, frozenset[str]] = {}

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params or {}
        arguments = params.get("arguments")
        if ctx.method != "tools/call" or not isinstance(arguments, dict):
            return await call_next(ctx)
        if not parameters:
            for tool in await server.list_tools():
                parameters[tool.name] = frozenset(tool.input_schema.get("properties", {}))
        name = params.get("name")
        known = parameters.get(name) if isinstance(name, str) else None
        unknown = sorted(set(arguments) - known) if known is not None else []
        if not unknown:
            return await call_next(ctx)
        message = (
            f"Error executing tool {name}: {', '.join(map(repr, unknown))}: not an argument of {name}; "
            f"it takes {', '.join(sorted(known or ()))}."
        )
        return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)

    server.middleware.append(middleware)
