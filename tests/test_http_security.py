"""The HTTP transport's guards: loopback by default, a bearer token off loopback, DNS rebinding
protection (Host and Origin), a body size limit and a per-client rate limit.

Most run the real server's ASGI app in-process through httpx2; the last ones launch `athena-mcp`."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.applications import Starlette
from starlette.types import ASGIApp

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.errors import AthenaError
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from athena_mcp.transports import http, memory_budget
from athena_mcp.transports.http import http_app
from tests.stdio_server import ATHENA_MCP, free_port, http_server
from tests.stdio_server import INITIALIZE as STDIO_INITIALIZE

TOKEN = "s3cret-token-for-the-tests"
INITIALIZE = json.dumps(STDIO_INITIALIZE).encode()
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def running(
    settings: Settings, embedder: MiniLMEmbedder, clock: Clock | None = None
) -> AsyncIterator[Starlette]:
    """The server's HTTP app, its lifespan (store and MCP session manager) running."""
    app = http_app(build_server(settings, embedder, background=False), settings, clock=clock or Clock())
    async with app.router.lifespan_context(app):
        yield app


def client(app: ASGIApp, address: str = "127.0.0.1", host: str = "127.0.0.1:8765") -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app, client=(address, 50000))
    return httpx2.AsyncClient(transport=transport, base_url=f"http://{host}", timeout=30)


async def initialize(http_client: httpx2.AsyncClient, **headers: str) -> httpx2.Response:
    return await http_client.post("/mcp", content=INITIALIZE, headers={**MCP_HEADERS, **headers})


async def test_a_request_without_the_token_or_with_a_wrong_one_is_refused_401(settings, minilm, monkeypatch):
    compared = []
    constant_time = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return constant_time(a, b)

    monkeypatch.setattr(http.hmac, "compare_digest", compare_digest)
    settings = Settings(toolsets=("all",), db=settings.db, http_token=TOKEN)
    async with running(settings, minilm) as app, client(app) as c:
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}):
            refused = await initialize(c, **headers)
            assert refused.status_code == 401 and "bearer token" in refused.text
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await initialize(c, Authorization=f"Bearer {TOKEN}")).status_code == 200
        assert (await initialize(c, Authorization=f"bearer {TOKEN}")).status_code == 200
    assert compared[-1] == TOKEN.encode() and b"wrong-token-of-some-length" in compared


async def test_on_loopback_the_token_is_optional(settings, minilm):
    async with running(settings, minilm) as app, client(app) as c:
        assert (await initialize(c)).status_code == 200


async def test_a_foreign_browser_origin_is_refused_403_and_local_ones_pass(settings, minilm):
    settings = Settings(toolsets=("all",), db=settings.db, http_allowed_origins=("https://app.example.com",))
    async with running(settings, minilm) as app, client(app) as c:
        for origin in ("http://evil.example", "http://localhost.evil.example:8765", "null"):
            refused = await initialize(c, Origin=origin)
            assert refused.status_code == 403, origin
        for origin in ("http://localhost:3000", "http://127.0.0.1", "https://app.example.com"):
            assert (await initialize(c, Origin=origin)).status_code == 200, origin
        # Non-browser clients send no Origin at all, as the MCP specification allows.
        assert (await initialize(c)).status_code == 200


async def test_a_host_header_not_naming_this_server_is_refused_against_dns_rebinding(settings, minilm):
    settings = Settings(toolsets=("all",), db=settings.db, http_allowed_hosts=("memory.example.com",))
    async with running(settings, minilm) as app:
        async with client(app, host="rebound.example:8765") as c:
            assert (await initialize(c)).status_code == 421
        for host in ("localhost:8765", "memory.example.com", "memory.example.com:443"):
            async with client(app, host=host) as c:
                assert (await initialize(c)).status_code == 200, host


async def test_an_oversize_body_is_refused_413_with_or_without_content_length(settings, minilm):
    settings = Settings(toolsets=("all",), db=settings.db, http_max_body=4096)
    async with running(settings, minilm) as app, client(app) as c:
        declared = await c.post("/mcp", content=b" " * 4097, headers=MCP_HEADERS)
        assert declared.status_code == 413 and "too large" in declared.text

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * 512

        streamed = await c.post("/mcp", content=chunks(), headers=MCP_HEADERS)
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413 and "too large" in streamed.text
        assert (await initialize(c)).status_code == 200


async def test_a_body_that_would_not_fit_in_memory_is_refused_503_unread(settings, minilm, monkeypatch):
    # Room for a small request (32 MB) but not for a 4 MB body (about 48 MB): see memory_budget.
    def limit() -> int:
        return (memory_budget.address_space_used() or 0) + (40 << 20)

    monkeypatch.setattr(memory_budget, "address_space_limit", limit)
    settings = Settings(toolsets=("all",), db=settings.db, http_max_body=8 << 20)
    async with running(settings, minilm) as app, client(app) as c:
        big = await c.post("/mcp", content=b" " * (4 << 20), headers=MCP_HEADERS)
        assert big.status_code == 503 and big.headers["retry-after"] == "5"
        assert "Out of memory" in big.text and "ulimit -v" in big.text
        assert (await initialize(c)).status_code == 200


async def test_a_client_over_its_rate_gets_429_with_retry_after_then_recovers(settings, minilm):
    clock = Clock()
    settings = Settings(toolsets=("all",), db=settings.db, http_token=TOKEN, http_rate=0.5, http_burst=3)
    async with running(settings, minilm, clock) as app, client(app, "10.0.0.1") as greedy:
        # Token guesses count as well: the limit comes before the token check.
        for _ in range(2):
            assert (
                await initialize(greedy, Authorization="Bearer guess-guess-guess-guess")
            ).status_code == 401
        assert (await initialize(greedy, Authorization=f"Bearer {TOKEN}")).status_code == 200
        limited = await initialize(greedy, Authorization=f"Bearer {TOKEN}")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert "0.5 per second" in limited.text

        async with client(app, "10.0.0.2") as other:
            assert (await initialize(other, Authorization=f"Bearer {TOKEN}")).status_code == 200

        clock.now += 1.0
        assert (await initialize(greedy, Authorization=f"Bearer {TOKEN}")).status_code == 429
        clock.now += 1.0
        assert (await initialize(greedy, Authorization=f"Bearer {TOKEN}")).status_code == 200


async def test_the_rate_limit_remembers_a_bounded_number_of_clients(settings, minilm):
    clock = Clock()
    async with running(Settings(toolsets=("all",), db=settings.db, http_rate=0), minilm) as unlimited:
        app = http.RateLimit(unlimited, rate=0.5, burst=1, clock=clock, max_clients=2)
        async with client(app, "10.0.0.1") as first:
            assert (await initialize(first)).status_code == 200
            assert (await initialize(first)).status_code == 429
            for address in ("10.0.0.2", "10.0.0.3"):
                async with client(app, address) as other:
                    assert (await initialize(other)).status_code == 200
            # The least recently seen client was forgotten: it starts again with a full bucket.
            assert (await initialize(first)).status_code == 200


@pytest.mark.parametrize(
    ("settings_", "needle"),
    [
        (Settings(host="0.0.0.0"), "needs a bearer token"),
        (Settings(host="192.168.1.20"), "needs a bearer token"),
        (Settings(host="::"), "needs a bearer token"),
        (Settings(host="192.168.1.20", http_token="short"), "at least 16"),
        (Settings(host="192.168.1.20", http_token=TOKEN, http_token_file="/t"), "not both"),
        (Settings(host="0.0.0.0", http_token=TOKEN), "--http-allowed-hosts"),
    ],
)
def test_an_unsafe_http_configuration_is_refused_before_serving(settings_, needle):
    with pytest.raises(AthenaError, match=needle):
        http_app(build_server(settings_, background=False), settings_)


def test_the_token_can_come_from_a_file_and_its_address_is_accepted_as_host(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    settings = Settings(host="192.168.1.20", http_token_file=str(token_file))
    assert http.bearer_token(settings) == TOKEN
    assert "192.168.1.20:*" in http.transport_security(settings).allowed_hosts
    with pytest.raises(AthenaError, match="cannot read"):
        http.bearer_token(Settings(host="192.168.1.20", http_token_file=str(tmp_path / "missing")))


def test_http_limits_out_of_range_are_refused_naming_the_setting():
    for flags, needle in [({"http_max_body": "0"}, "http_max_body"), ({"http_rate": "-1"}, "http_rate")]:
        with pytest.raises(ValueError, match=needle):
            Settings.load(flags, {})


def listening_addresses(port: int) -> set[str]:
    """The local addresses of TCP sockets listening on `port`, from the kernel's table (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the kernel's socket table")
async def test_the_real_server_binds_loopback_by_default_and_serves_a_client_with_the_token(tmp_path: Path):
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    url = f"http://127.0.0.1:{port}/mcp"
    flags = ("--http-token-file", str(token_file), "--http-max-body", "65536")
    async with http_server(tmp_path / "a.db", port, *flags):
        async with asyncio.timeout(60):
            while not listening_addresses(port):
                await asyncio.sleep(0.05)
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only

        async with httpx2.AsyncClient(timeout=30) as raw:
            assert (await raw.post(url, content=INITIALIZE, headers=MCP_HEADERS)).status_code == 401

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(128):
                    yield b" " * 1024

            headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
            assert (await raw.post(url, content=chunks(), headers=headers)).status_code == 413

        async with (
            create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"}) as authorised,
            Client(streamable_http_client(url, http_client=authorised)) as mcp_client,
        ):
            stored = await mcp_client.call_tool("remember", {"content": "Reached with a bearer token"})
            detail = await mcp_client.call_tool("get", {"id": stored.structured_content["id"]})
            assert detail.structured_content["content"] == "Reached with a bearer token"


@pytest.mark.slow
async def test_the_real_server_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path):
    process = await asyncio.create_subprocess_exec(
        ATHENA_MCP,
        *("--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())),
        *("--db", str(tmp_path / "a.db"), "--log-level", "ERROR"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 1
    assert stderr.decode().strip().splitlines() == [
        "athena-mcp: --host 0.0.0.0 is not a loopback address, so the HTTP transport needs a bearer token: "
        "set --http-token-file (or --http-token, ATHENA_HTTP_TOKEN), e.g. from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or --token-file with tokens made "
        "by `athena-mcp token add`"
    ]
