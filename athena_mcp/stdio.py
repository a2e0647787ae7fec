"""The stdio transport, answering unreadable lines as JSON-RPC 2.0 asks.

The SDK's stdio reader hands a line it cannot read to the server as an exception, which logs it at
debug level and drops it, so a client that sent a broken request waits for an answer forever.
JSON-RPC 2.0 requires a Parse error (-32700) for invalid JSON and an Invalid Request (-32600) for
JSON that is not a valid message, with id null since the id could not be read.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

log = logging.getLogger(__name__)


def rejection(exc: Exception) -> JSONRPCError:
    """The error response to a line the transport could not read as a JSON-RPC message."""
    unparsable = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    code, message = (PARSE_ERROR, "Parse error") if unparsable else (INVALID_REQUEST, "Invalid Request")
    return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))


class AnsweringReadStream:
    """The transport's read stream, minus unreadable lines: each is answered with an error instead."""

    def __init__(
        self, inner: ReadStream[SessionMessage | Exception], write_stream: WriteStream[SessionMessage]
    ) -> None:
        self._inner = inner
        self._write_stream = write_stream

    @property
    def last_context(self) -> Any:
        # The dispatcher reads the sender's context from here (see mcp.shared._stream_protocols).
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            answer = rejection(item)
            log.info("unreadable message on stdin: %s", answer.error.message)
            await self._write_stream.send(SessionMessage(answer))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None


async def run_stdio(server: MCPServer) -> None:
    """Serve `server` on stdin/stdout, as `MCPServer.run_stdio_async` does, answering unreadable lines."""
    # The low-level server is what run_stdio_async drives too; MCPServer offers no public handle on it.
    lowlevel = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(
            AnsweringReadStream(read_stream, write_stream),
            write_stream,
            lowlevel.create_initialization_options(),
        )
