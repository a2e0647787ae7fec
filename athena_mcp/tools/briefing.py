"""Context assembly served three ways: the `brief` tool, the `briefing` prompt and a namespace's
briefing resource, all one BriefingService call."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate
from mcp_types import INVALID_PARAMS
from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from athena_mcp.briefing.models import DEFAULT_BUDGET, MAX_BUDGET, MIN_BUDGET, Briefing, BriefingRequest
from athena_mcp.errors import AthenaError
from athena_mcp.fields import MAX_QUERY_CHARS, Namespace, Namespaces, SessionId, has_text
from athena_mcp.tools.common import ServicesDep, ToolSpec, namespaces_of, services_of, tool_errors, tool_hints

BRIEFING_URI = UriTemplate.parse("athena://briefing/{namespace}")

Task = Annotated[
    str,
    Field(min_length=1, max_length=MAX_QUERY_CHARS, description="What you will do"),
    AfterValidator(has_text),
]
Budget = Annotated[int, Field(ge=MIN_BUDGET, le=MAX_BUDGET)]
_NAMESPACE = TypeAdapter(Namespace)


def tools() -> tuple[ToolSpec, ...]:
    return (ToolSpec(brief, tool_hints(read_only=True, idempotent=True)),)


@tool_errors
async def brief(
    services: ServicesDep,
    task: Task | None = None,
    namespace: Namespaces = "default",
    session_id: SessionId | None = None,
    max_tokens: Budget = DEFAULT_BUDGET,
    explain: bool = False,
) -> Briefing:
    """Memory on a task or namespace, in max_tokens. Use as a task starts."""
    return await services.briefing.brief(
        BriefingRequest(
            namespaces=namespaces_of(namespace),
            task=task,
            session_id=session_id,
            max_tokens=max_tokens,
            explain=explain,
        )
    )


def register(server: MCPServer) -> None:
    """The briefing as a prompt a user can pick and as a resource per namespace."""
    server.prompt(
        name="briefing",
        title="Briefing from memory",
        description="What the memory holds on a task or on the whole namespace, fitted to a token budget.",
    )(briefing_prompt)
    server.resource(
        str(BRIEFING_URI),
        name="briefing",
        title="Briefing",
        description="An overview of what the namespace holds: facts, recent sessions, open tasks, "
        "procedures and who is involved (1,500 tokens).",
        mime_type="text/markdown",
    )(briefing_resource)


async def briefing_prompt(ctx: Context, namespace: str = "default", task: str = "") -> str:
    """A briefing on `task` (or an overview of the namespace) to start the conversation with."""
    try:
        request = BriefingRequest(
            namespaces=(_checked(namespace),), task=task.strip()[:MAX_QUERY_CHARS] or None
        )
        return (await services_of(ctx).briefing.brief(request)).text
    except (AthenaError, ValueError) as exc:
        # Only an MCPError's message reaches the client; anything else is "Error rendering prompt".
        raise MCPError(INVALID_PARAMS, str(exc)) from exc


async def briefing_resource(namespace: str, ctx: Context) -> str:
    """The namespace's overview briefing (markdown)."""
    try:
        return (
            await services_of(ctx).briefing.brief(BriefingRequest(namespaces=(_checked(namespace),)))
        ).text
    except (AthenaError, ValueError) as exc:
        raise ResourceError(str(exc)) from exc


def _checked(namespace: str) -> str:
    try:
        return _NAMESPACE.validate_python(namespace)
    except ValidationError:
        raise ValueError(
            f"namespace: {namespace!r} is not a namespace name (letters, digits and _.:/@- only)."
        ) from None
