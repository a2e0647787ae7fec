"""The access rule, read from each tool's schema and read-only annotation: which namespaces a call
names, and when its caller may make it."""

from __future__ import annotations

from mcp.server.mcpserver.tools import Tool

from athena_mcp.caller import Caller
from athena_mcp.tools.access import namespaces_named, tool_refusal
from athena_mcp.tools.common import tool_hints


async def one(namespace: str = "default") -> None:
    """Works in one namespace."""


async def several(namespace: str | list[str] = "default") -> None:
    """Reads several."""


async def every(namespace: str | None = None) -> None:
    """Left out, the namespace means all of them."""


async def unscoped(id: int) -> None:
    """Takes no namespace at all."""


def tool(fn, read_only: bool) -> Tool:
    return Tool.from_function(fn, annotations=tool_hints(read_only=read_only))


BOB = Caller(transport="http", token="t", readable=frozenset({"bob"}), writable=frozenset({"bob"}))
READER = Caller(transport="http", token="t", readable=frozenset({"bob"}), writable=frozenset())
LISTED = Caller(transport="stdio", readable=frozenset({"bob"}), writable=frozenset({"bob"}))


def test_the_namespaces_a_call_names_come_from_its_argument_or_its_schemas_default():
    assert namespaces_named(tool(one, False), {}) == ("default",)
    assert namespaces_named(tool(one, False), {"namespace": "alice"}) == ("alice",)
    assert namespaces_named(tool(several, True), {"namespace": ["bob", "alice", "bob"]}) == ("bob", "alice")
    assert namespaces_named(tool(every, False), {}) is None
    assert namespaces_named(tool(every, False), {"namespace": None}) is None
    assert namespaces_named(tool(unscoped, False), {"id": 1}) is None


def test_a_limited_caller_is_refused_what_it_may_not_touch_and_nothing_else():
    assert tool_refusal(BOB, tool(one, False), {"namespace": "bob"}) is None
    assert tool_refusal(BOB, tool(one, False), {"namespace": "alice"}) == (
        "namespace 'alice': this token may write only: bob."
    )
    assert tool_refusal(BOB, tool(several, True), {"namespace": ["bob", "alice"]}) == (
        "namespace 'alice': this token may read only: bob."
    )
    assert "default" in (tool_refusal(LISTED, tool(one, True), {}) or "")
    assert "this server (--namespaces)" in (tool_refusal(LISTED, tool(one, True), {}) or "")
    assert "reaches every namespace" in (tool_refusal(BOB, tool(every, False), {}) or "")
    assert "not limited to one namespace" in (tool_refusal(BOB, tool(unscoped, True), {"id": 1}) or "")
    assert "give a namespace name" in (tool_refusal(BOB, tool(one, False), {"namespace": 7}) or "")


def test_a_read_only_caller_may_call_no_tool_that_writes():
    assert tool_refusal(READER, tool(one, True), {"namespace": "bob"}) is None
    assert tool_refusal(READER, tool(one, False), {"namespace": "bob"}) == (
        "this token may only read, and one writes; it may read: bob."
    )


def test_a_caller_limited_to_nothing_skips_the_check():
    assert tool_refusal(Caller(transport="stdio"), tool(every, False), {}) is None
    assert tool_refusal(Caller(transport="in-process"), tool(unscoped, False), {"id": 1}) is None
