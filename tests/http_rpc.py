"""A minimal MCP client over the server's real HTTP app, in process: JSON-RPC posts through httpx's
ASGI transport (or to a real server's URL), with a bearer token, reading SSE or JSON answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from starlette.applications import Starlette

from athena_mcp.embeddings.base import Embedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from athena_mcp.transports import tokens
from athena_mcp.transports.http import http_app
from tests.stdio_server import PROTOCOL_VERSION

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class RpcClient:
    """One MCP session over HTTP: `await RpcClient(http, token).start()`."""

    def __init__(self, http: httpx2.AsyncClient, token: str | None = None, client_name: str = "rpc-tests"):
        self._http = http
        self._headers = {**MCP_HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}
        self._client_name = client_name
        self._next_id = 0
        self.session: str | None = None

    async def start(self) -> RpcClient:
        params = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": self._client_name, "version": "1"},
        }
        response = await self.post("initialize", params)
        assert response.status_code == 200, response.text
        self.session = response.headers.get("mcp-session-id")
        self._headers |= {"mcp-session-id": self.session or "", "mcp-protocol-version": PROTOCOL_VERSION}
        await self._http.post(
            "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=self._headers
        )
        return self

    async def post(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx2.Response:
        self._next_id += 1
        body = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        return await self._http.post("/mcp", json=body, headers={**self._headers, **(headers or {})})

    async def exchange(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The JSON-RPC answer (result or error) to one request."""
        response = await self.post(method, params)
        assert response.status_code == 200, (response.status_code, response.text)
        if response.headers["content-type"].startswith("application/json"):
            message: dict[str, Any] = response.json()
            return message
        for line in response.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                found: dict[str, Any] = json.loads(line[5:])
                if found.get("id") == self._next_id:
                    return found
        raise AssertionError(f"no answer in {response.text!r}")

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tools/call result (isError and content included)."""
        answer = await self.exchange("tools/call", {"name": tool, "arguments": arguments})
        assert "result" in answer, answer
        result: dict[str, Any] = answer["result"]
        return result

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.call(tool, arguments)
        assert not result.get("isError"), result["content"]
        structured: dict[str, Any] = result["structuredContent"]
        return structured

    async def tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = (await self.exchange("tools/list", {}))["result"]["tools"]
        return tools


def text_of(result: dict[str, Any]) -> str:
    return "\n".join(block.get("text", "") for block in result.get("content", []))


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings, embedder: Embedder, *, background: bool = False
) -> AsyncIterator[Starlette]:
    """The server's HTTP app with its lifespan (store and session manager) running."""
    app = http_app(build_server(settings, embedder, background=background), settings)
    async with app.router.lifespan_context(app):
        yield app


def with_alice_token(folder: Path, operator_token: str) -> tuple[Settings, str]:
    """Settings of an HTTP server whose operator token reaches every namespace, and a token of its
    token file (alice-laptop) that may read and write the namespace alice only."""
    token_file = folder / "tokens"
    alice = tokens.add(token_file, "alice-laptop", ["alice"], "write")
    settings = Settings(
        db=folder / "a.db",
        toolsets=("all",),
        http_token=operator_token,
        token_file=str(token_file),
        http_rate=0,
    )
    return settings, alice


def asgi_client(app: Starlette) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
    return httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765", timeout=60)


async def listening(http: httpx2.AsyncClient, timeout: float = 60) -> None:
    """Wait until a server process started on the client's base URL accepts connections."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                await http.get("/mcp")
                return
            except httpx2.ConnectError:
                await asyncio.sleep(0.1)
