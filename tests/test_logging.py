"""No log level shows what is stored: at DEBUG the server logs its own workings, while the libraries
that would log SQL parameters (aiosqlite), event stream bodies (sse_starlette) or messages (mcp)
stay at INFO."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import httpx2
import pytest

from athena_mcp.cli import CONTENT_LOGGERS, configure_logging
from tests.http_rpc import RpcClient, listening
from tests.stdio_server import ATHENA_MCP, INITIALIZE, free_port

SECRET = "marker-7f3a9c-the-launch-code"


async def stdio_session(db: Path, log: Path) -> None:
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            ATHENA_MCP,
            *("--db", str(db), "--log-level", "DEBUG"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdin is not None and process.stdout is not None
        messages = [
            INITIALIZE,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "remember", "arguments": {"content": SECRET}},
            },
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "recall", "arguments": {"query": SECRET}},
            },
        ]
        async with asyncio.timeout(120):
            for message in messages:
                process.stdin.write(json.dumps(message).encode() + b"\n")
                await process.stdin.drain()
                if "id" in message:
                    while json.loads(await process.stdout.readline()).get("id") != message["id"]:
                        pass
            process.stdin.close()
            await process.wait()


@pytest.mark.slow
async def test_a_stdio_server_at_debug_level_never_logs_stored_content(tmp_path: Path):
    log = tmp_path / "stderr.log"
    await stdio_session(tmp_path / "a.db", log)
    logged = log.read_text("utf-8", "replace")
    assert "serving" in logged and SECRET not in logged


@pytest.mark.slow
async def test_an_http_server_at_debug_level_never_logs_stored_content(tmp_path: Path):
    port = free_port()
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            ATHENA_MCP,
            *(
                "--transport",
                "http",
                "--port",
                str(port),
                "--db",
                str(tmp_path / "a.db"),
                "--log-level",
                "DEBUG",
            ),
            stderr=stderr,
            env={**os.environ, "ATHENA_TOOLSETS": "all"},
        )
        try:
            async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as raw:
                await listening(raw)
                client = await RpcClient(raw).start()
                await client.ok("remember", content=SECRET)
                await client.ok("recall", query=SECRET)
        finally:
            process.terminate()
            async with asyncio.timeout(30):
                await process.wait()
    assert SECRET not in log.read_text("utf-8", "replace")


def test_debug_reaches_the_servers_own_loggers_and_not_the_libraries(monkeypatch):
    loggers = [logging.getLogger(name) for name in ("", "athena_mcp", *CONTENT_LOGGERS)]
    for logger in loggers:
        monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    configure_logging("DEBUG")
    assert logging.getLogger("athena_mcp.store").isEnabledFor(logging.DEBUG)
    for name in ("aiosqlite", "sse_starlette.sse", "mcp.server.streamable_http", "uvicorn.error", "httpcore"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    assert not logging.getLogger("mcp.server.mcpserver.server").isEnabledFor(logging.INFO)
