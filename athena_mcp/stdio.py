"""The stdio transport: newline-delimited JSON-RPC on stdin and stdout, built to keep answering.

The SDK's `stdio_server` is not used, for three reasons found under chaos runs:
- it drops a line it cannot read (logged at debug level), so the client waits for an answer for
  ever; JSON-RPC 2.0 asks for a Parse error (-32700) or an Invalid Request (-32600), id null;
- it reads and writes through anyio worker threads, started on demand and retired when idle. Under
  a capped address space a new thread cannot start, the transport's task fails and the server exits;
- it reads a line whole, whatever its size, and parses it with pydantic-core, which aborts the
  process when an allocation fails inside it.
So this transport has two threads of its own, started once: one reads lines, refusing one over
`MAX_MESSAGE_BYTES` or one that would not fit in memory (see memory_budget) with an answer that
says so, before it is read whole or parsed; the other writes answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Literal

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from athena_mcp import memory_budget

log = logging.getLogger(__name__)

# Far above the largest request the tools accept (500 events of 20,000 characters, up to 4 bytes
# each in UTF-8, is 40 MB), so only a runaway client meets it.
MAX_MESSAGE_BYTES = 64 * memory_budget.MIB
CHUNK_BYTES = memory_budget.MIB  # a line is read, and its size checked, a chunk at a time
PEEK_BYTES = 4096  # how much of each end of a refused line is kept, to find its id
RETRY_AFTER_MEMORY_ERROR = 0.05  # seconds: a read that could not allocate waits before the next try

# A request's id, as clients write it: first (after "jsonrpc" and "method", as the Python SDK
# writes) or last (as the TypeScript SDK writes, maybe followed by "jsonrpc"). Either way it is a
# member of the outermost object, never one inside the params.
_ID = rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")'
_STRING_MEMBER = rb'\s*"(?:jsonrpc|method)"\s*:\s*"(?:[^"\\]|\\.)*"\s*,'
ID_FIRST = re.compile(rb"^\s*\{(?:" + _STRING_MEMBER + rb")*\s*" + _ID)
ID_LAST = re.compile(rb"[{,]\s*" + _ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$')


def request_id(head: bytes, tail: bytes) -> int | str | None:
    """The id of a request known only by its two ends, or None if it cannot be found there."""
    found = ID_FIRST.search(head) or ID_LAST.search(tail)
    if found is None:
        return None
    value: int | str = json.loads(found.group(1))
    return value


def rejection(exc: ValueError) -> JSONRPCError:
    """The error response to a line that is not a JSON-RPC message."""
    unparsable = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    code, message = (PARSE_ERROR, "Parse error") if unparsable else (INVALID_REQUEST, "Invalid Request")
    return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))


@dataclass(frozen=True)
class Refusal:
    """A line refused before it was read whole: the answer to send in its place."""

    answer: JSONRPCError


class LineReader:
    """Reads the wire a line at a time, a chunk at a time, refusing lines that must not be read whole.

    Blocking: it runs in the reader thread.
    """

    def __init__(self, wire: IO[bytes], shortfall: Callable[[int], memory_budget.Shortfall | None]) -> None:
        self._wire = wire
        self._shortfall = shortfall

    def next(self) -> bytes | Refusal | None:
        """The next line, a Refusal in its place, or None at the end of input."""
        chunks: list[bytes] = []
        size = 0
        head = tail = b""
        refused: Literal["size", "memory"] | None = None
        while True:
            try:
                chunk = self._wire.readline(CHUNK_BYTES)
            except MemoryError:
                chunks.clear()
                refused = refused or "memory"
                time.sleep(RETRY_AFTER_MEMORY_ERROR)
                continue
            if not chunk:
                if not size:
                    return None
                break  # the last line, without its newline
            size += len(chunk)
            head = head or chunk[:PEEK_BYTES]
            tail = chunk[-PEEK_BYTES:] if len(chunk) >= PEEK_BYTES else (tail + chunk)[-PEEK_BYTES:]
            # A long line is checked as each chunk comes, so it is refused before it is read whole.
            refused = refused or self._too_much(size)
            if refused is None:
                chunks.append(chunk)
            else:
                chunks.clear()  # the rest of the line is read and dropped
            if chunk.endswith(b"\n"):
                break
        if refused is None:
            try:
                return b"".join(chunks)
            except MemoryError:
                chunks.clear()
                refused = "memory"
        error = self._too_large(size) if refused == "size" else self._out_of_memory(size)
        return Refusal(JSONRPCError(jsonrpc="2.0", id=request_id(head, tail), error=error))

    def _too_much(self, size: int) -> Literal["size", "memory"] | None:
        if size > MAX_MESSAGE_BYTES:
            return "size"
        return "memory" if self._shortfall(size) is not None else None

    @staticmethod
    def _too_large(size: int) -> ErrorData:
        return ErrorData(
            code=INVALID_REQUEST,
            message=f"Message too large: {size / memory_budget.MIB:.0f} MB, over the "
            f"{MAX_MESSAGE_BYTES // memory_budget.MIB} MB this server reads in one message. Send fewer "
            "or smaller items per call.",
        )

    def out_of_memory(self, line: bytes) -> JSONRPCError:
        """The answer to a line read whole that there was then no memory to parse."""
        error = self._out_of_memory(len(line))
        return JSONRPCError(jsonrpc="2.0", id=request_id(line[:PEEK_BYTES], line[-PEEK_BYTES:]), error=error)

    def _out_of_memory(self, size: int) -> ErrorData:
        short = self._shortfall(size)
        message = short.explain(size) if short else "Out of memory reading this request; nothing was kept."
        return ErrorData(code=INTERNAL_ERROR, message=message)


class WireWriter:
    """Writes answers from a thread of its own, started once, so writing never needs a new thread."""

    def __init__(self, wire: IO[bytes]) -> None:
        self._wire = wire
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="athena-stdout", daemon=True)
        self._thread.start()

    async def write(self, data: bytes) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((data, done))
        await done

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            data, done = item
            try:
                self._wire.write(data)
                self._wire.flush()
            except Exception as exc:  # handed to the waiting task, which raises it
                _settle(done, exc)
            else:
                _settle(done, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    def settle() -> None:
        if done.done():
            return  # the waiting task was cancelled
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)

    with contextlib.suppress(RuntimeError):  # the loop closed while the write finished
        done.get_loop().call_soon_threadsafe(settle)


@contextlib.contextmanager
def claimed_wire() -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """The process's stdin and stdout for the protocol alone: fd 0 and fd 1 are pointed elsewhere
    (the null device, stderr) while serving, so a stray print or child process cannot touch the wire."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        with open(wire_in, "rb", closefd=False) as reader, open(wire_out, "wb", closefd=False) as writer:
            yield reader, writer
    finally:
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        for fd in (null, wire_out):
            os.close(fd)
        # wire_in stays open: the reader thread may still be blocked reading it, and closing it
        # under a blocked read would let the number be reused for another file.


class StdioTransport:
    """Lines in, messages to the server; the server's messages out, one line each."""

    def __init__(self, reader: LineReader, writer: WireWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def pump_in(self, to_server: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        """Read lines in a thread of its own until the input ends; hand each on or answer it."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[bytes | Refusal | None] = asyncio.Queue(maxsize=1)

        def read_all() -> None:
            item: bytes | Refusal | None = b""
            while item is not None:
                try:
                    item = self._reader.next()
                except (OSError, ValueError):
                    item = None  # stdin failed or was closed under the read: the input has ended
                try:
                    # Waits for the loop to take the line, so a flood of input waits in the pipe.
                    asyncio.run_coroutine_threadsafe(lines.put(item), loop).result()
                except (RuntimeError, concurrent.futures.CancelledError):
                    return  # the server stopped serving

        threading.Thread(target=read_all, name="athena-stdin", daemon=True).start()
        async with to_server:
            while (item := await lines.get()) is not None:
                message, answer = self._read(item)
                if message is not None:
                    await to_server.send(message)
                elif answer is not None:
                    await self.send(SessionMessage(answer))

    def _read(self, item: bytes | Refusal) -> tuple[SessionMessage | None, JSONRPCError | None]:
        """The message a line carries for the server, or the answer to send back instead."""
        if isinstance(item, Refusal):
            log.warning("refused a message: %s", item.answer.error.message)
            return None, item.answer
        try:
            text = item.decode("utf-8", "replace")
            return SessionMessage(jsonrpc_message_adapter.validate_json(text, by_name=False)), None
        except ValueError as exc:  # pydantic's ValidationError among them
            answer = rejection(exc)
            log.info("unreadable message on stdin: %s", answer.error.message)
            return None, answer
        except MemoryError:
            answer = self._reader.out_of_memory(item)
            log.warning("refused a message: %s", answer.error.message)
            return None, answer

    async def pump_out(self, from_server: MemoryObjectReceiveStream[SessionMessage]) -> None:
        async with from_server:
            async for session_message in from_server:
                await self.send(session_message)

    async def send(self, session_message: SessionMessage) -> None:
        text = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
        await self._writer.write(text.encode() + b"\n")


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """The server's read and write streams over this process's stdin and stdout."""
    with claimed_wire() as (wire_in, wire_out):
        writer = WireWriter(wire_out)
        transport = StdioTransport(LineReader(wire_in, memory_budget.shortfall), writer)
        to_server, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, from_server = anyio.create_memory_object_stream[SessionMessage](0)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(transport.pump_in, to_server)
                tasks.start_soon(transport.pump_out, from_server)
                yield read_stream, write_stream
                tasks.cancel_scope.cancel()
        finally:
            writer.close()


async def run_stdio(server: MCPServer) -> None:
    """Serve `server` on stdin and stdout until the input ends."""
    # The low-level server is what MCPServer.run_stdio_async drives too; MCPServer offers no public
    # handle on it.
    lowlevel = server._lowlevel_server
    async with stdio_streams() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
