"""What every toolset shares: access to the services, error translation, honest annotations."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ParamSpec, TypeVar, cast

from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from athena_mcp.errors import AthenaError, InvalidInput, out_of_memory
from athena_mcp.models import to_seconds_or_none
from athena_mcp.services import Services

P = ParamSpec("P")
OUT_OF_MEMORY = (
    "The server ran out of memory for this request; nothing from it was kept. Retry with a smaller "
    "request (fewer items, a lower limit) or give the server more memory."
)
R = TypeVar("R")


def services_of(ctx: Context) -> Services:
    """The running server's services, from a request's context (tools, resources)."""
    return cast(Services, ctx.request_context.lifespan_context)


# A tool parameter typed `ServicesDep` is filled by the server, never shown to the model.
ServicesDep = Annotated[Services, Resolve(services_of)]


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Report anticipated failures to the caller as tool errors with their own message.

    Anything else (an SQL error of ours, a driver misused) is a bug and passes through untouched: the
    SDK logs it with its traceback and tells the client only "Error executing tool <name>"."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except AthenaError as exc:
            raise ToolError(str(exc)) from exc
        except (MemoryError, RuntimeError) as exc:
            # SQLite's SQLITE_NOMEM, Python's own allocations and a worker thread that could not
            # start all end here; the transaction rolled back on the way out, and the freed request
            # leaves room for the next call.
            if not out_of_memory(exc):
                raise
            raise ToolError(OUT_OF_MEMORY) from exc

    return wrapper


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a toolset lists it: the function (its signature is the input schema, its docstring the
    description) and its MCP hints."""

    fn: Callable[..., Awaitable[Any]]
    hints: ToolAnnotations


def tool_hints(*, read_only: bool, destructive: bool = False, idempotent: bool = False) -> ToolAnnotations:
    """MCP hints; every tool here works on a local store only, so none is open-world."""
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


def namespaces_of(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(dict.fromkeys(value))


def time_range(since: datetime | None, until: datetime | None) -> tuple[float | None, float | None]:
    """since/until as epoch seconds, refusing an empty window."""
    start = to_seconds_or_none(since)
    end = to_seconds_or_none(until)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("until: must be later than since.")
    return start, end
