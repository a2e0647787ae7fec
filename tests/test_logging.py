"""No log level shows what is stored: at DEBUG the server logs its own workings, while the libraries
that would log SQL parameters (aiosqlite), event stream bodies (sse_starlette) or messages (mcp)
stay at INFO."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from athena_mcp import logs
from athena_mcp.cli import CONTENT_LOGGERS, configure_logging
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import open_client
from tests.http_rpc import RpcClient, asgi_client, listening, running_app
from tests.stdio_server import ATHENA_MCP, INITIALIZE, free_port

SECRET = "marker-7f3a9c-the-launch-code"


async def stdio_session(db: Path, log: Path, *flags: str) -> None:
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            ATHENA_MCP,
            *("--db", str(db), "--log-level", "DEBUG", *flags),
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


@contextlib.contextmanager
def captured_logs(log_format: str) -> Iterator[io.StringIO]:
    """What the server's own loggers write at INFO, in `log_format`, while the block runs."""
    written = io.StringIO()
    handler = logs.handler(written, log_format)
    logger = logging.getLogger("athena_mcp")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield written
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@pytest.mark.slow
async def test_a_stdio_server_at_debug_level_never_logs_stored_content(tmp_path: Path):
    log = tmp_path / "stderr.log"
    await stdio_session(tmp_path / "a.db", log)
    logged = log.read_text("utf-8", "replace")
    assert "serving" in logged and SECRET not in logged


@pytest.mark.slow
async def test_json_logs_give_each_call_its_request_id_tool_namespace_duration_and_outcome(tmp_path: Path):
    log = tmp_path / "stderr.log"
    await stdio_session(tmp_path / "a.db", log, "--log-format", "json")
    text = log.read_text("utf-8", "replace")
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    calls = {line["tool"]: line for line in lines if line["message"].startswith("tool call")}
    assert set(calls) == {"remember", "recall"}
    for line in calls.values():
        assert line["outcome"] == "ok" and line["duration_ms"] > 0 and line["namespace"] == "default"
        assert len(line["request_id"]) == 16 and line["level"] == "INFO"
    assert calls["remember"]["request_id"] != calls["recall"]["request_id"]
    assert SECRET not in text


async def test_http_calls_are_logged_under_the_clients_request_id_which_is_echoed(
    tmp_path: Path, minilm: MiniLMEmbedder
):
    settings = Settings(db=tmp_path / "a.db", toolsets=("all",), http_rate=0, http_token="t" * 32)
    with captured_logs("json") as written:
        async with running_app(settings, minilm) as app, asgi_client(app) as http:
            refused = await http.post("/mcp", json={}, headers={"X-Request-Id": "refused-1"})
            assert refused.status_code == 401 and refused.headers["x-request-id"] == "refused-1"
            client = await RpcClient(http, "t" * 32).start()
            arguments = {"content": SECRET, "namespace": "work"}
            sent = await client.post(
                "tools/call", {"name": "remember", "arguments": arguments}, {"X-Request-Id": "trace-42"}
            )
            assert sent.headers["x-request-id"] == "trace-42"
            own = await client.post("tools/call", {"name": "recall", "arguments": {"query": "launch"}})
            forged = await client.post(
                "tools/call", {"name": "recall", "arguments": {"query": "x"}}, {"X-Request-Id": "a" * 200}
            )
    made = own.headers["x-request-id"]
    assert len(made) == 16 and forged.headers["x-request-id"] != "a" * 200
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    calls = {line["request_id"]: line for line in lines if line["message"].startswith("tool call")}
    assert calls["trace-42"]["tool"] == "remember" and calls["trace-42"]["namespace"] == "work"
    assert calls[made]["tool"] == "recall" and calls[forged.headers["x-request-id"]]["tool"] == "recall"
    assert SECRET not in written.getvalue()


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


async def test_a_tool_name_or_namespace_sent_by_a_client_cannot_forge_a_log_line(
    tmp_path: Path, minilm: MiniLMEmbedder
):
    forged = "\n2026-12-08 00:00:00,000 INFO athena_mcp: all is well"
    with captured_logs("text") as written:
        async with open_client(Settings(db=tmp_path / "a.db"), minilm) as client:
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("recall" + forged, {"query": "x"})
            await client.call_tool("recall", {"query": "x", "namespace": "work" + forged})
    lines = written.getvalue().splitlines()
    assert not any(line.startswith("2026-12-08 00:00:00,000") for line in lines)
    assert any("tool call unknown: error" in line for line in lines)
