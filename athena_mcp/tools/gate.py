"""What a client session sees and may call, checked before any tool runs, and how answers read.

A session sees the server's toolsets plus those it turned on with `memory_status`; a tool outside
them is unknown to it (a JSON-RPC error, as the MCP specification has it for an unknown tool).
Every tool call, resource read and subscription runs as its caller (see caller.py): who it is comes
from the connection (the transport, the client's initialize, the HTTP token, the session), and the
namespaces the call names are checked against what the caller may use before anything runs (see
access.py). Arguments are checked here so that refusals read like the server's own messages, and
each answer's text block is rendered for a model from its structured content.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate
from mcp_types import INVALID_PARAMS, CallToolResult, TextContent

from athena_mcp import logs
from athena_mcp.caller import CALLER_SCOPE, Caller, acting_as, reset_caller
from athena_mcp.errors import OutOfMemory, StoreBusy, StoreFault, StoreFull
from athena_mcp.in_flight import InFlight
from athena_mcp.services import Services
from athena_mcp.tools.access import namespaces_named, resource_refusal, tool_refusal
from athena_mcp.tools.answers import late_duplicate_note, render_answer, with_notes
from athena_mcp.tools.arguments import invalid_arguments, unknown_arguments
from athena_mcp.tools.content_policy import ContentPolicy, Screened
from athena_mcp.tools.metrics import CallMetrics

# HTTP sessions that turned toolsets on are remembered up to this many; the one that turned a toolset
# on longest ago is forgotten first.
MAX_SESSIONS = 1024
SESSION_HEADER = "mcp-session-id"
# An HTTP request without a session id (the 2026-07-28 protocol has none): it sees the server's
# toolsets and can turn none on, since every such client would share the change.
SESSIONLESS = ""
# Where the HTTP transport leaves the caller its token made (an ASGI scope key).
# Where the HTTP transport leaves the request's id (logs.py) for the gate.
REQUEST_ID_SCOPE = "athena.request_id"
# Requests that run as their caller; the others (initialize, lists, pings) touch no namespace.
RESOURCE_METHODS = ("resources/read", "resources/subscribe", "resources/unsubscribe", "subscriptions/listen")
# A prompt that reads memory names its namespace in its `namespace` argument (default "default").
PROMPT_METHODS = ("prompts/get",)
CLIENT_CHARS = 100  # of the client's self-announced name/version kept for the audit trail

log = logging.getLogger(__name__)


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

    def __init__(
        self,
        session_toolsets: SessionToolsets,
        *,
        namespaces: Iterable[str] = (),
        content_policy: ContentPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        tools = list({t.name: t for ts in session_toolsets.by_toolset.values() for t in ts}.values())
        super().__init__(tools=tools, middleware=[self._gate], **kwargs)
        self.session_toolsets = session_toolsets
        self.content_policy = content_policy
        # The namespaces every caller is limited to (--namespaces); None: any.
        self.namespaces = frozenset(namespaces) or None
        # Requests that come with no HTTP request come from the stdio transport (which says so) or
        # from a client in this process.
        self.local_transport: Literal["stdio", "in-process"] = "in-process"
        self.metrics = CallMetrics({tool.name for tool in tools})
        self.in_flight = InFlight()
        # The open services while the server runs (its lifespan sets them): the HTTP probes read them.
        self.services: Services | None = None

    async def _gate(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/list":
            return _only(await call_next(ctx), self.session_toolsets.tools_of(session_of(ctx.request)))
        if ctx.method != "tools/call" and ctx.method not in RESOURCE_METHODS + PROMPT_METHODS:
            return await call_next(ctx)
        caller = self.caller_of(ctx)
        # Set for the rest of the chain, which runs the handler in this same task: the store reads it
        # in every write transaction (audit, provenance).
        token = acting_as(caller)
        try:
            if ctx.method == "tools/call":
                return await self._logged_call(ctx, call_next, caller)
            named = (
                [_prompt_namespace(ctx)]
                if ctx.method in PROMPT_METHODS
                else await self._resource_namespaces(ctx)
            )
            refusal = resource_refusal(caller, named)
            if refusal is not None:
                raise MCPError(INVALID_PARAMS, refusal)
            return await call_next(ctx)
        finally:
            reset_caller(token)

    async def _logged_call(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, caller: Caller
    ) -> HandlerResult:
        """The call, timed and counted, every line it logs carrying its request id; then one line
        with its duration and outcome."""
        scope = getattr(ctx.request, "scope", None)
        sent = scope.get(REQUEST_ID_SCOPE) if isinstance(scope, dict) else None
        params = ctx.params or {}
        name = params.get("name")
        tool = (
            self.session_toolsets.tools_of(session_of(ctx.request)).get(name)
            if isinstance(name, str)
            else None
        )
        context = logs.CallContext(
            request_id=sent if isinstance(sent, str) else logs.new_request_id(),
            tool=self.metrics.label(caller.tool),
            namespace=logs.shown_namespaces(_namespaces_of_call(tool, params.get("arguments"))),
        )
        token = logs.begin_call(context)
        started = time.perf_counter()
        ok = False
        self.in_flight.begin()
        try:
            result = await self._call_tool(ctx, call_next, caller, tool)
            ok = not _is_error(result)
            return result
        finally:
            seconds = time.perf_counter() - started
            self.in_flight.end()
            self.metrics.observe(caller.tool, ok, seconds)
            outcome = "ok" if ok else "error"
            log.info(
                "tool call %s: %s in %.1f ms",
                context.tool,
                outcome,
                seconds * 1000,
                extra={"duration_ms": round(seconds * 1000, 1), "outcome": outcome},
            )
            logs.end_call(token)

    def caller_of(self, ctx: ServerRequestContext[Any, Any]) -> Caller:
        """Who makes this request: from its connection, never from its arguments."""
        scope = getattr(ctx.request, "scope", None)
        if isinstance(scope, dict) and scope.get("type") == "http":
            found = scope.get(CALLER_SCOPE)
            caller = found if isinstance(found, Caller) else Caller(transport="http")
            session = session_of(ctx.request) or None
        else:
            caller, session = Caller(transport=self.local_transport), None
        name = (ctx.params or {}).get("name") if ctx.method == "tools/call" else None
        return dataclasses.replace(
            caller.limited_to(self.namespaces),
            client=_client(ctx),
            session=session,
            tool=name if isinstance(name, str) else None,
        )

    async def _resource_namespaces(self, ctx: ServerRequestContext[Any, Any]) -> list[str]:
        """The namespaces named by the resource URIs a read or a subscription asks for, found with the
        server's own templates (so the namespace checked is the one the resource is read for)."""
        params = ctx.params or {}
        uris = [params.get("uri")]
        notifications = params.get("notifications")
        if isinstance(notifications, Mapping):
            listened = notifications.get("resourceSubscriptions")
            uris += listened if isinstance(listened, list) else []
        templates = [UriTemplate.parse(t.uri_template) for t in await self.list_resource_templates()]
        found: list[str] = []
        for uri in (uri for uri in uris if isinstance(uri, str)):
            for template in templates:
                match = template.match(uri)
                value = None if match is None else match.get("namespace")
                found += [value] if isinstance(value, str) else value or []
        return found

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext, caller: Caller, tool: Tool | None
    ) -> HandlerResult:
        """`tool`: the one the call names among this session's, or None when it names none of them."""
        params = ctx.params or {}
        if tool is None:
            raise MCPError(
                INVALID_PARAMS,
                f"Unknown tool: {params.get('name')}. tools/list shows the tools this session has; "
                "memory_status turns further toolsets on.",
            )
        arguments = params.get("arguments") or {}
        # Arguments that are not an object are refused by the SDK; checked as none meanwhile.
        refused = tool_refusal(caller, tool, arguments if isinstance(arguments, dict) else {})
        if refused is not None:
            return _refusal(f"Error executing tool {tool.name}: {refused}")
        if not isinstance(arguments, dict):
            return await call_next(ctx)
        unknown = unknown_arguments(tool, arguments)
        if unknown is not None:
            return _refusal(f"Error executing tool {tool.name}: {unknown}")
        screened = self._screen(tool, arguments)
        if screened.refusal is not None:
            return _refusal(f"Error executing tool {tool.name}: {screened.refusal}")
        if screened.arguments is not arguments:
            ctx = dataclasses.replace(ctx, params={**params, "arguments": screened.arguments})
        result = await call_next(ctx)
        if isinstance(result, dict) and result.get("isError"):
            # The SDK validated the arguments before the tool ran; validating again only on a
            # refusal keeps a second validation off every successful call.
            invalid = invalid_arguments(tool, arguments)
            return result if invalid is None else _refusal(f"Error executing tool {tool.name}: {invalid}")
        # A client may send a boolean as JSON text; the SDK accepts "true" too.
        answer = render_answer(tool.name, result, detail=arguments.get("detail") in (True, "true"))
        return with_notes(answer, [*screened.notes, *await self._late_duplicates(ctx, tool, arguments)])

    async def _late_duplicates(
        self, ctx: ServerRequestContext[Any, Any], tool: Tool, arguments: dict[str, Any]
    ) -> list[str]:
        """Near-duplicates found since, in the call's namespaces, for facts stored before their vectors
        existed (remember could not check them then)."""
        named = namespaces_named(tool, arguments)  # valid: the call succeeded with it
        services = ctx.lifespan_context
        if named is None or not isinstance(services, Services):
            return []
        try:
            late = await services.semantic.take_late_duplicates(named)
        except (StoreBusy, StoreFault, StoreFull, OutOfMemory) as exc:
            # The call itself succeeded and must be answered as such; the notes wait for a later call.
            log.warning("near-duplicate notes put off: %s", exc)
            return []
        return [late_duplicate_note(item) for item in late]

    def _screen(self, tool: Tool, arguments: dict[str, Any]) -> Screened:
        """The content policy of the namespace a writing call writes to (reads pass as they are)."""
        if self.content_policy is None or (tool.annotations and tool.annotations.read_only_hint):
            return Screened(arguments)
        try:
            named = namespaces_named(tool, arguments)
        except ValueError:
            return Screened(arguments)  # refused by the SDK's own validation
        # A writing tool names one namespace; one that names none writes nothing a policy covers.
        return Screened(arguments) if not named else self.content_policy.screen(arguments, named[0])


def _prompt_namespace(ctx: ServerRequestContext[Any, Any]) -> str:
    arguments = (ctx.params or {}).get("arguments")
    value = arguments.get("namespace", "default") if isinstance(arguments, Mapping) else "default"
    return value if isinstance(value, str) else ""


def session_of(request: Any) -> str | None:
    """The client session a request belongs to: its HTTP session id (SESSIONLESS without one); None
    where there is no HTTP request, on stdio and in process, whose server has one client."""
    headers = getattr(request, "headers", None)
    return None if headers is None else headers.get(SESSION_HEADER, SESSIONLESS)


def _client(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The client's "name/version" from its initialize, kept to printable text (it is the client's
    own claim, and it goes into the audit trail)."""
    params = ctx.session.client_params
    info = None if params is None else params.client_info
    if info is None:
        return None
    text = f"{info.name}/{info.version}"
    return "".join(c if c.isprintable() else "?" for c in text)[:CLIENT_CHARS]


def _namespaces_of_call(tool: Tool | None, arguments: object) -> tuple[str, ...] | None:
    """The namespaces a call names, for its log lines; None when it names none or names them wrongly
    (the call itself refuses that)."""
    if tool is None or not isinstance(arguments, dict):
        return None
    try:
        return namespaces_named(tool, arguments)
    except ValueError:
        return None


def _only(result: HandlerResult, tools: Mapping[str, Tool]) -> HandlerResult:
    """A tools/list answer (its wire form) with only the given tools."""
    if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    return {**result, "tools": [tool for tool in result["tools"] if tool.get("name") in tools]}


def _is_error(result: HandlerResult) -> bool:
    """A tool's answer that is an error, in the SDK's wire form (a dict) or as our refusals make it."""
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    return isinstance(result, dict) and bool(result.get("isError"))


def _refusal(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
