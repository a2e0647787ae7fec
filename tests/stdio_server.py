"""Real `athena-mcp` processes for tests: a minimal JSON-RPC client over a stdio subprocess that the
test fully controls (its pid, kill -9), speaking the same newline-delimited MCP messages an editor
sends, and a streamable HTTP server on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ATHENA_MCP = str(Path(sys.executable).parent / "athena-mcp")
PROTOCOL_VERSION = "2025-11-25"
# The first request of a session, as a raw client sends it.
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "athena-tests", "version": "1"},
    },
}
ANSWER_BYTES = 1 << 24  # the longest answer line read (a 500-event batch's answer is ~100 KB)


def run_athena(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One `athena-mcp` command, as a user runs it: its exit code and what it printed."""
    return subprocess.run(
        [ATHENA_MCP, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


class StdioServer:
    def __init__(self, db: Path, *extra_args: str) -> None:
        self._args = ["--db", str(db), "--log-level", "WARNING", *extra_args]
        self._process: asyncio.subprocess.Process | None = None
        self._next_id = 0
        self.notifications: list[dict[str, Any]] = []  # what the server sent unasked, in order

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def start(self) -> StdioServer:
        self._process = await asyncio.create_subprocess_exec(
            ATHENA_MCP,
            *self._args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "ATHENA_TOOLSETS": "all", "ATHENA_BACKLOG_INTERVAL": "0.2"},
            limit=ANSWER_BYTES,
        )
        result = await self.request("initialize", INITIALIZE["params"])
        assert result["protocolVersion"] == PROTOCOL_VERSION
        await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's structured result; raises AssertionError when the tool reports an error."""
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result["content"]
        return result["structuredContent"]

    async def request(self, method: str, params: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        """The request's result; raises AssertionError when it is answered with an error."""
        message = await self.exchange(method, params, timeout)
        assert "error" not in message, message["error"]
        result: dict[str, Any] = message["result"]
        return result

    async def exchange(self, method: str, params: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
        """The whole answer to a request: its result or its error."""
        self._next_id += 1
        request_id = self._next_id
        await self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        assert self._process is not None and self._process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self._process.stdout.readline()
                if not line:
                    raise ConnectionError("the server closed its stdout")
                message: dict[str, Any] = json.loads(line)
                if message.get("id") == request_id:
                    return message
                if "method" in message and "id" not in message:
                    self.notifications.append(message)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(message).encode() + b"\n")
        await self._process.stdin.drain()

    async def stop(self) -> None:
        """Close stdin, as an editor does, and wait for a clean exit."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        async with asyncio.timeout(30):
            await self._process.wait()

    async def kill(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGKILL)
        await self._process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def http_server(db: Path, port: int, *flags: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`athena-mcp` serving streamable HTTP on `port` (started, not yet listening); stopped after."""
    process = await asyncio.create_subprocess_exec(
        ATHENA_MCP,
        *("--transport", "http", "--port", str(port), "--db", str(db), "--log-level", "WARNING", *flags),
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "ATHENA_TOOLSETS": "all"},
    )
    try:
        yield process
    finally:
        if process.returncode is None:  # a test may have stopped it already
            process.terminate()
        async with asyncio.timeout(30):
            await process.wait()
