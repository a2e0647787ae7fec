"""The gate runs every tool call and resource read as its caller, and holds it to its namespaces.

Who the caller is comes from the connection: in process or on stdio the transport (and the stdio
allow-list, --namespaces), over HTTP the token the request passed, its session and the client's
initialize. The store sees the caller in the tool's own task (the statement hook runs there)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from athena_mcp.caller import Caller, current_caller
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.services import Services
from athena_mcp.settings import Settings
from athena_mcp.tools.prospective import due_uri
from athena_mcp.transports import tokens
from athena_mcp.transports.http import http_app
from tests.conftest import call, call_error
from tests.http_rpc import RpcClient, asgi_client, text_of
from tests.stdio_server import StdioServer


class Seen:
    """The callers the store saw, one per statement, through the statement hook."""

    def __init__(self) -> None:
        self.callers: list[Caller] = []

    @contextlib.asynccontextmanager
    async def around(self, services: Services) -> AsyncIterator[None]:
        services.database.statement_hook = lambda sql: self.callers.append(current_caller())
        yield


async def test_an_in_process_call_runs_as_its_caller_in_the_tools_own_task(settings, minilm):
    seen = Seen()
    async with Client(build_server(settings, minilm, background=False, around=seen.around)) as client:
        seen.callers.clear()
        await call(client, "remember", content="The caller is known to the store")
    assert seen.callers, "no statement ran"
    callers = set(seen.callers)
    assert len(callers) == 1
    [caller] = callers
    assert caller.transport == "in-process" and caller.session is None and caller.token is None
    assert caller.client is not None and "/" in caller.client
    assert caller.readable is None and caller.writable is None
    assert current_caller().transport == "worker"  # reset after the call


async def test_the_namespaces_allow_list_refuses_every_other_namespace(tmp_path: Path, minilm):
    settings = Settings(db=tmp_path / "a.db", toolsets=("all",), namespaces=("bob", "team"))
    async with Client(build_server(settings, minilm, background=False)) as client:
        await call(client, "remember", content="bob's fact", namespace="bob")
        refused = await call_error(client, "remember", content="x", namespace="alice")
        assert "namespace 'alice': this server (--namespaces) may write only: bob, team" in refused
        refused = await call_error(client, "recall", query="fact", namespace=["bob", "alice"])
        assert "namespace 'alice'" in refused
        # Left out, a namespace is the schema's default, which the list does not name.
        assert "namespace 'default'" in await call_error(client, "list_memories")
        # consolidate, too, works in one namespace: left out, the default one.
        assert "namespace 'default'" in await call_error(client, "consolidate")
        status = await call(client, "memory_status")
        assert [n["namespace"] for n in status["namespaces"]] == ["bob"]
        with pytest.raises(MCPError, match="namespace 'alice'"):
            await client.read_resource(due_uri("alice"))
        with pytest.raises(MCPError, match="namespace 'alice'"):
            async with client.listen(resource_subscriptions=[due_uri("alice")]):
                pass
        await client.read_resource(due_uri("bob"))


async def test_a_stdio_server_with_an_allow_list_refuses_other_namespaces(tmp_path: Path):
    server = await StdioServer(tmp_path / "a.db", "--namespaces", "bob").start()
    try:
        assert (await server.call_tool("remember", {"content": "in bob", "namespace": "bob"}))["id"]
        answer = await server.request(
            "tools/call", {"name": "recall", "arguments": {"query": "in", "namespace": ["mallory", "bob"]}}
        )
        assert answer["isError"] and "namespace 'mallory'" in answer["content"][0]["text"]
        answer = await server.request("tools/call", {"name": "timeline", "arguments": {"namespace": "alice"}})
        assert answer["isError"] and "may read only: bob" in answer["content"][0]["text"]
    finally:
        await server.stop()


async def test_an_http_call_runs_as_its_token_session_and_client(tmp_path: Path, minilm: MiniLMEmbedder):
    token = tokens.add(tmp_path / "tokens", "laptop", ["bob"], "write")
    settings = Settings(
        db=tmp_path / "a.db", toolsets=("all",), token_file=str(tmp_path / "tokens"), http_rate=0
    )
    seen = Seen()
    app = http_app(build_server(settings, minilm, background=False, around=seen.around), settings)
    async with app.router.lifespan_context(app), asgi_client(app) as http:
        client = await RpcClient(http, token, client_name="probe\nclient").start()
        seen.callers.clear()
        await client.ok("remember", content="Reached over HTTP", namespace="bob")
        refused = await client.call("remember", {"content": "x", "namespace": "alice"})
        assert "namespace 'alice': this token may write only: bob" in text_of(refused)
    callers: set[Any] = set(seen.callers)
    assert callers == {
        Caller(
            transport="http",
            client="probe?client/1",
            token="laptop",
            session=client.session,
            tool="remember",
            readable=frozenset({"bob"}),
            writable=frozenset({"bob"}),
        )
    }
