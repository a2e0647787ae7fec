"""The stdio transport over real pipes: every answer the server sent is written before it closes,
refused lines are answered (a request), handed to the server (a response to its own request) or
dropped (a notification), and a reader thread that fails makes the transport fail, not hang."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCError, JSONRPCNotification

from athena_mcp.store.driver import sqlite_module
from athena_mcp.transports import memory_budget
from athena_mcp.transports.memory_budget import Shortfall
from athena_mcp.transports.stdio import stdio_streams
from tests.stdio_server import INITIALIZE, StdioServer
from tests.test_stdio_lines import short_of_memory_over

pytestmark = pytest.mark.timeout(60)

Streams = tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]


class SlowWire(io.BufferedWriter):
    """A wire whose writes take a while, as to a client slow to read."""

    def write(self, data: Any) -> int:
        time.sleep(0.1)
        return super().write(data)


class Wire:
    """Both pipes of a transport: what a client writes in, and what the transport wrote out."""

    def __init__(self, slow: bool) -> None:
        read_in, self._write_in = os.pipe()
        self._read_out, write_out = os.pipe()
        self.server_in: IO[bytes] = open(read_in, "rb")  # noqa: SIM115 (closed by close())
        self.server_out: IO[bytes] = (SlowWire if slow else io.BufferedWriter)(io.FileIO(write_out, "wb"))

    def send(self, line: bytes) -> None:
        os.write(self._write_in, line + b"\n")

    def end_input(self) -> None:
        if self._write_in >= 0:
            os.close(self._write_in)
            self._write_in = -1

    def close(self) -> None:
        self.end_input()
        for end in (self.server_in, self.server_out):
            end.close()
        os.close(self._read_out)

    def written(self) -> list[dict[str, Any]]:
        """Every line the transport wrote, once it has closed its end."""
        self.server_out.close()
        data = b""
        while chunk := os.read(self._read_out, 1 << 16):
            data += chunk
        return [json.loads(line) for line in data.splitlines()]


@contextmanager
def wire(slow: bool = False) -> Iterator[Wire]:
    pipes = Wire(slow)
    try:
        yield pipes
    finally:
        pipes.close()


@asynccontextmanager
async def transport(pipes: Wire) -> AsyncIterator[Streams]:
    async with stdio_streams(pipes.server_in, pipes.server_out) as streams:
        yield streams


async def test_every_answer_the_server_sent_is_written_before_the_transport_closes():
    with wire(slow=True) as pipes:
        async with transport(pipes) as (_, write_stream):
            for n in range(3):
                notice = JSONRPCNotification(jsonrpc="2.0", method=f"notifications/n{n}")
                await write_stream.send(SessionMessage(notice))
            await write_stream.aclose()  # as the server does when it stops
        assert [line["method"] for line in pipes.written()] == [f"notifications/n{n}" for n in range(3)]
        pipes.end_input()


async def test_refused_lines_are_answered_handed_to_the_server_or_dropped_by_what_they_are(monkeypatch):
    monkeypatch.setattr(memory_budget, "shortfall", short_of_memory_over(1000))
    filler = "x" * 2000
    with wire() as pipes:
        async with transport(pipes) as (read_stream, _):
            pipes.send(
                json.dumps(
                    {"jsonrpc": "2.0", "method": "notifications/big", "params": {"f": filler}}
                ).encode()
            )
            pipes.send(json.dumps({"jsonrpc": "2.0", "id": 41, "result": {"f": filler}}).encode())
            pipes.send(
                json.dumps(
                    {"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"f": filler}}
                ).encode()
            )
            pipes.send(b'{"jsonrpc":"2.0","id":43,"method":"ping"}')
            async with asyncio.timeout(10):
                to_server = [await read_stream.receive() for _ in range(2)]
            pipes.end_input()
        answered = pipes.written()
    # The refused response reaches the server as an error for its own request 41; the small request
    # goes through; the refused notification is dropped; the refused request is answered.
    assert isinstance(to_server[0], SessionMessage) and isinstance(to_server[0].message, JSONRPCError)
    assert to_server[0].message.id == 41 and "Out of memory" in to_server[0].message.error.message
    assert isinstance(to_server[1], SessionMessage) and to_server[1].message.id == 43
    assert [(a["id"], a["error"]["code"]) for a in answered] == [(42, -32603)]


async def test_a_reader_thread_that_fails_fails_the_transport_instead_of_hanging(monkeypatch):
    def broken(request_bytes: int) -> Shortfall | None:
        raise RuntimeError("the memory check broke")

    monkeypatch.setattr(memory_budget, "shortfall", broken)
    with wire() as pipes:
        with pytest.raises(ExceptionGroup) as failed:
            async with transport(pipes) as (read_stream, _):
                pipes.send(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
                async with asyncio.timeout(10):
                    await read_stream.receive()
        assert failed.group_contains(RuntimeError, match="the memory check broke")
        pipes.end_input()


async def test_a_line_that_is_not_utf_8_is_read_with_replacement_characters():
    with wire() as pipes:
        async with transport(pipes) as (read_stream, _):
            pipes.send(b'{"jsonrpc":"2.0","method":"notifications/x","params":{"text":"caf\xe9"}}')
            async with asyncio.timeout(10):
                received = await read_stream.receive()
            pipes.end_input()
    assert isinstance(received, SessionMessage)
    assert received.message.params == {"text": "caf\ufffd"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_server_as_closing_its_input_does(tmp_path: Path, signum: int) -> None:
    db = tmp_path / "athena.db"
    server = await StdioServer(db).start()
    stored = await server.call_tool("remember", {"content": "kept across a polite stop"})
    os.kill(server.pid, signum)
    process = server._process
    assert process is not None
    async with asyncio.timeout(30):
        assert await process.wait() == 0
    # The store was closed, not abandoned: its WAL was checked into the file and removed.
    assert not db.with_name("athena.db-wal").exists()
    again = await StdioServer(db).start()
    try:
        found = await again.call_tool("recall", {"query": "polite stop"})
        assert found["results"][0]["id"] == stored["id"]
    finally:
        await again.stop()


@pytest.mark.slow
async def test_a_signal_lets_the_calls_under_way_finish_and_answer(tmp_path: Path) -> None:
    db = tmp_path / "athena.db"
    slow_writes = {"driver": [{"match": "INSERT INTO memories", "delay": 0.5}]}  # a slow disk
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "chaos.server", "--db", str(db), "--log-level", "WARNING"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "CHAOS_FAULTS": json.dumps(slow_writes)},
    )
    assert process.stdin is not None and process.stdout is not None
    call = {"name": "remember", "arguments": {"content": "written while the server was asked to stop"}}
    for message in (
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
    ):
        process.stdin.write(json.dumps(message).encode() + b"\n")
    await process.stdin.drain()
    async with asyncio.timeout(60):
        assert json.loads(await process.stdout.readline())["id"] == 1
        await asyncio.sleep(0.3)  # the write is under way, its INSERT on the slow disk
        os.kill(process.pid, signal.SIGTERM)
        answer = json.loads(await process.stdout.readline())
        assert answer["id"] == 2 and not answer["result"].get("isError"), answer
        assert await process.wait() == 0
    with closing(sqlite_module().connect(str(db))) as connection:
        rows = connection.execute("SELECT content FROM memories").fetchall()
    assert rows == [("written while the server was asked to stop",)]
