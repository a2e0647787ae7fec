"""Who may touch which namespace: the check the gate makes before any tool runs or resource is read.

A call reaches the namespaces its `namespace` argument names (a name or a list of names) or, when
the argument is left out, the default its input schema declares. A tool without a namespace
argument, or one whose namespace left out means every namespace, reaches them all, and only a
caller limited to no namespace may call it. The rule is read from each tool's schema and its
read-only annotation, not from a list of tools, so a tool that gains a `namespace` argument is
covered as it is. Read-only tools need the namespaces readable, every other tool writable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mcp.server.mcpserver.tools import Tool

from athena_mcp.caller import Caller

# Tools that take no namespace but answer only about the caller's own namespaces (they filter by
# the caller themselves), so a limited caller may call them.
CALLER_SCOPED = frozenset({"memory_status"})


def namespaces_named(tool: Tool, arguments: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The namespaces a call names; None when it names none and so reaches every namespace.

    Raises ValueError when the argument is neither a name nor a list of names (the call would be
    refused anyway; here it must not pass unchecked)."""
    schema = tool.parameters.get("properties", {}).get("namespace")
    if schema is None:
        return None
    value = arguments.get("namespace", schema.get("default"))
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(dict.fromkeys(value))
    raise ValueError("namespace: give a namespace name or a list of names")


def tool_refusal(caller: Caller, tool: Tool, arguments: Mapping[str, Any]) -> str | None:
    """Why `caller` may not make this call, or None when it may."""
    if caller.readable is None and caller.writable is None:
        return None
    writes = not (tool.annotations is not None and tool.annotations.read_only_hint)
    if writes and caller.writable == frozenset():
        return f"{_who(caller)} may only read, and {tool.name} writes; it may read: {_list(caller.readable)}."
    if tool.name in CALLER_SCOPED:
        return None
    try:
        named = namespaces_named(tool, arguments)
    except ValueError as exc:
        return str(exc)
    if named is None:
        allowed = caller.writable if writes else caller.readable
        return (
            f"{tool.name} without a namespace reaches every namespace, and {_who(caller)} may "
            f"{'write' if writes else 'read'} only: {_list(allowed)}; name one with namespace."
            if "namespace" in tool.parameters.get("properties", {})
            else f"{tool.name} is not limited to one namespace, and {_who(caller)} may use only: "
            f"{_list(caller.readable)}."
        )
    return _refused(caller, named, writes)


def resource_refusal(caller: Caller, namespaces: Iterable[str]) -> str | None:
    """Why `caller` may not read a resource of these namespaces, or None when it may."""
    return _refused(caller, namespaces, writes=False)


def _refused(caller: Caller, namespaces: Iterable[str], writes: bool) -> str | None:
    for namespace in namespaces:
        if writes and not caller.may_write(namespace):
            return f"namespace {namespace!r}: {_who(caller)} may write only: {_list(caller.writable)}."
        if not caller.may_read(namespace):
            return f"namespace {namespace!r}: {_who(caller)} may read only: {_list(caller.readable)}."
    return None


def _who(caller: Caller) -> str:
    return "this token" if caller.token is not None else "this server (--namespaces)"


def _list(namespaces: frozenset[str] | None) -> str:
    if namespaces is None:
        return "every namespace"
    return ", ".join(sorted(namespaces)) or "no namespace"
