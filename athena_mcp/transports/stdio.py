"""The stdio transport: newline-delimited JSON-RPC on stdin and stdout, built to keep answering.

The SDK's `stdio_server` is not used, for three reasons found under chaos runs:
- it drops a line it cannot read (logged at debug level), so the client waits for an answer for
  ever; JSON-RPC 2.0 asks for a Parse error (-32700) or an Invalid Request (-32600), id null;
- it reads and writes through anyio worker threads, started on demand and retired when idle. Under
  a capped address space a new thread cannot start, the transport's task fails and the server exits;
- it reads a line whole, whatever its size, and parses it with pydantic-core, which aborts the
  process when an allocation fails inside it.
So this transport has two threads of its own, started once: one reads lines (stdio_lines), where
one over the size limit or one that would not fit in memory (memory_budget) is refused before it is
read whole or parsed, with an answer that says so; the other writes answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import IO

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from athena_mcp.in_flight import InFlight
from athena_mcp.tools.gate import ToolsetServer
from athena_mcp.transports import memory_budget
from athena_mcp.transports.stdio_lines import (
    PEEK_BYTES,
    RETRY_AFTER_MEMORY_ERROR,
    LineReader,
    Refusal,
    refusal,
)

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0  # at the end, how long answers the server sent may take to be written out
FINISH_SECONDS = 10.0  # at the end, how long tool calls still running may take to finish


def rejection(exc: ValueError) -> JSONRPCError:
    """The error response to a line that is not a JSON-RPC message."""
    unparsable = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    code, message = (PARSE_ERROR, "Parse error") if unparsable else (INVALID_REQUEST, "Invalid Request")
    return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))


def parse(line: bytes) -> JSONRPCMessage:
    """The message a line holds. Parsed from the bytes: a str of the line would take four bytes a
    character for the whole line as soon as one character is outside Latin-1. Invalid UTF-8 is
    read with replacement characters, as the SDK's transport reads it."""
    try:
        return jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        if not any("unicode" in error["msg"] for error in exc.errors()):
            raise
    return jsonrpc_message_adapter.validate_json(line.decode("utf-8", "replace"), by_name=False)


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
        """Stop once everything queued is written (for at most FLUSH_SECONDS)."""
        self._queue.put(None)
        self._thread.join(FLUSH_SECONDS)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            data, done = item
            outcome: BaseException | None = None
            try:
                self._wire.write(data)
                self._wire.flush()
            except BaseException as exc:  # handed to the waiting task, which raises it
                outcome = exc
            # The waiting task must hear back, or it waits for ever: retried while memory is short.
            while True:
                try:
                    _settle(done, outcome)
                    break
                except MemoryError:
                    time.sleep(RETRY_AFTER_MEMORY_ERROR)


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


def _private_copy(fd: int) -> int:
    """A duplicate of `fd` above the standard three, so redirecting 0-2 never touches it."""
    try:
        import fcntl
    except ImportError:  # Windows
        return os.dup(fd)
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


@contextlib.contextmanager
def claimed_wire() -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """The process's stdin and stdout for the protocol alone: fd 0 and fd 1 are pointed elsewhere
    (the null device; stderr, or the null device without one) while serving, so a stray print or a
    child process cannot touch the wire."""
    wire_in, wire_out = _private_copy(0), _private_copy(1)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, 0)
        try:
            os.dup2(2, 1)
        except OSError:  # no stderr
            os.dup2(null, 1)
        # The reader is never closed: closing a buffered file waits for a read in progress, and the
        # reader thread may be blocked in one (a server that failed to start would then wait, silent,
        # until the client closed stdin). Its descriptor stays open anyway (below).
        reader = open(wire_in, "rb", closefd=False)  # noqa: SIM115
        with open(wire_out, "wb", closefd=False) as writer:
            yield reader, writer
    finally:
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        for fd in (null, wire_out):
            os.close(fd)
        # wire_in stays open: the reader thread may still be blocked reading it, and closing it
        # under a blocked read would let the number be reused for another file.


Line = bytes | Refusal | BaseException | None  # what the reader thread hands over; None: input ended


class StdioTransport:
    """Lines in, messages to the server; the server's messages out, one line each."""

    def __init__(
        self,
        reader: LineReader,
        writer: WireWriter,
        stop: asyncio.Event | None = None,
        in_flight: InFlight | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._in_flight = in_flight
        self.drained = anyio.Event()  # set once every message the server sent is written
        # Set (by SIGTERM or SIGINT): the input ends here, as if the client had closed it.
        self._stop = stop or asyncio.Event()

    async def pump_in(self, to_server: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        """Read lines in a thread of its own until the input ends; hand each on or answer it."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[Line] = asyncio.Queue(maxsize=1)
        threading.Thread(target=self._read_all, args=(lines, loop), name="athena-stdin", daemon=True).start()
        async with to_server:
            while (item := await self._next(lines)) is not None:
                if isinstance(item, BaseException):
                    raise item  # the reader thread failed: the transport fails loudly, not silently
                read = item if isinstance(item, Refusal) else self._read(item)
                if isinstance(read, Refusal):
                    await self._refuse(read, to_server)
                elif isinstance(read, JSONRPCError):
                    await self.send(SessionMessage(read))
                else:
                    await to_server.send(read)
            # The end of the input ends the session, which cancels the calls still running: let them
            # finish first (bounded), so a write under way completes and its answer goes out.
            if self._in_flight is not None and not await self._in_flight.finished(FINISH_SECONDS):
                log.warning(
                    "stopping with tool calls still running after %.0f s: they are cancelled", FINISH_SECONDS
                )

    async def _next(self, lines: asyncio.Queue[Line]) -> Line:
        """The next line, or None once the input ended or a stop was asked for."""
        if self._stop.is_set():
            return None
        line = asyncio.ensure_future(lines.get())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({line, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not line.done():
                line.cancel()
        return None if self._stop.is_set() or line.cancelled() else line.result()

    def _read_all(self, lines: asyncio.Queue[Line], loop: asyncio.AbstractEventLoop) -> None:
        item: Line = b""
        while item is not None and not isinstance(item, BaseException):
            try:
                item = self._reader.next()
            except MemoryError:
                time.sleep(RETRY_AFTER_MEMORY_ERROR)
                continue
            except (OSError, ValueError):
                item = None  # stdin failed or was closed under the read: the input has ended
            except BaseException as exc:
                item = exc
            try:
                # Waits for the loop to take the line, so a flood of input waits in the pipe.
                asyncio.run_coroutine_threadsafe(lines.put(item), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return  # the server stopped serving

    async def _refuse(
        self, refused: Refusal, to_server: MemoryObjectSendStream[SessionMessage | Exception]
    ) -> None:
        log.warning("refused a %s: %s", refused.kind, refused.error.message)
        answer = SessionMessage(JSONRPCError(jsonrpc="2.0", id=refused.message_id, error=refused.error))
        if refused.kind == "request":
            await self.send(answer)
        elif refused.kind == "response" and refused.message_id is not None:
            # The client's answer to a request of the server's (sampling): the server's request
            # ends with this error instead of waiting for an answer that will not come.
            await to_server.send(answer)

    def _read(self, line: bytes) -> SessionMessage | JSONRPCError | Refusal:
        """The message a line carries for the server; else the answer to a line that is not a
        message, or a Refusal of one there was no memory to parse."""
        try:
            return SessionMessage(parse(line))
        except ValueError as exc:  # pydantic's ValidationError among them
            answer = rejection(exc)
            log.info("unreadable message on stdin: %s", answer.error.message)
            return answer
        except MemoryError:
            return refusal(line[:PEEK_BYTES], line[-PEEK_BYTES:], self._reader.out_of_memory(len(line)))

    async def pump_out(self, from_server: MemoryObjectReceiveStream[SessionMessage]) -> None:
        try:
            async with from_server:
                async for session_message in from_server:
                    await self.send(session_message)
        finally:
            self.drained.set()

    async def send(self, session_message: SessionMessage) -> None:
        text = session_message.message.model_dump_json(by_alias=True, exclude_unset=True)
        await self._writer.write(text.encode() + b"\n")


@contextlib.asynccontextmanager
async def stdio_streams(
    wire_in: IO[bytes],
    wire_out: IO[bytes],
    stop: asyncio.Event | None = None,
    in_flight: InFlight | None = None,
) -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """The server's read and write streams over the two ends of the wire."""
    writer = WireWriter(wire_out)
    transport = StdioTransport(LineReader(wire_in, memory_budget.shortfall), writer, stop, in_flight)
    to_server, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, from_server = anyio.create_memory_object_stream[SessionMessage](0)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(transport.pump_in, to_server)
            tasks.start_soon(transport.pump_out, from_server)
            try:
                yield read_stream, write_stream
            finally:
                # The server has stopped: what it sent is written out before reading stops.
                write_stream.close()
                with anyio.move_on_after(FLUSH_SECONDS, shield=True):
                    await transport.drained.wait()
                tasks.cancel_scope.cancel()
    finally:
        read_stream.close()
        writer.close()


@contextlib.contextmanager
def stopped_by_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT end the input as closing stdin does: no new request is read, what the
    server sent is written out, its lifespan closes the store (and its workers) and the process
    exits 0. Where the loop cannot take signal handlers (Windows), the defaults stay."""
    loop = asyncio.get_running_loop()
    taken = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, _stopping, stop, signum)
            taken.append(signum)
    try:
        yield
    finally:
        for signum in taken:
            loop.remove_signal_handler(signum)


def _stopping(stop: asyncio.Event, signum: int) -> None:
    log.info("%s: finishing and stopping", signal.Signals(signum).name)
    stop.set()


async def run_stdio(server: MCPServer) -> None:
    """Serve `server` on this process's stdin and stdout until the input ends."""
    # The low-level server is what MCPServer.run_stdio_async drives too; MCPServer offers no public
    # handle on it.
    lowlevel = server._lowlevel_server
    if isinstance(server, ToolsetServer):
        server.local_transport = "stdio"  # its callers are "stdio" in the audit trail
    stop = asyncio.Event()
    with claimed_wire() as (wire_in, wire_out), stopped_by_signals(stop):
        in_flight = server.in_flight if isinstance(server, ToolsetServer) else None
        async with stdio_streams(wire_in, wire_out, stop, in_flight) as (read_stream, write_stream):
            # Sessions turn toolsets on (memory_status), and clients on handshake-era protocol
            # versions learn of it only if the server says it announces tools/list changes.
            options = lowlevel.create_initialization_options(NotificationOptions(tools_changed=True))
            await lowlevel.run(read_stream, write_stream, options)
