"""The running server's end of the hook channel (channel.py): one JSON request line in, one answer
line out, handled with the server's open services like any tool call.

Only one server per database listens: the one holding the channel's lock, which it keeps while it
listens; the others look again now and then, and take over once it has gone (the system releases
the lock of a process that exits, however it exits). A server that stops removes only its own socket. A
request that fails is answered with the failure's kind, never its trace; the trace goes to the
server's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from athena_mcp.hooks import channel
from athena_mcp.hooks.handlers import HookOptions, handle
from athena_mcp.hooks.payload import HookInput
from athena_mcp.in_flight import InFlight
from athena_mcp.services import Services

log = logging.getLogger(__name__)

# How often a server that found the socket taken looks again (the other server may have stopped).
RETRY_SECONDS = 30.0
# When the server stops, how long the hooks it is answering may take to get their answers.
FINISH_SECONDS = 10.0


@contextlib.asynccontextmanager
async def hook_channel(services: Services) -> AsyncIterator[None]:
    """Serve the hook channel for the services' database while the context is open."""
    if not hasattr(asyncio, "start_unix_server"):
        yield  # no Unix sockets here: hooks do their work in their own process
        return
    try:
        path = channel.socket_path(services.settings.db)
    except (channel.ChannelUnsafe, OSError) as exc:
        log.warning("hook channel off: %s", exc)
        yield
        return
    task = asyncio.create_task(_listen(services, path), name="hook channel")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _listen(services: Services, path: Path) -> None:
    """Listen whenever the socket is free; let go when another server took it meanwhile."""

    open_connections: set[asyncio.StreamWriter] = set()
    answering = InFlight()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_connections.add(writer)
        answering.begin()
        try:
            line = await reader.readline()
            if line.strip():  # else a client that only looked whether a server listens
                reply = await _answer(services, line)
                writer.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
                await writer.drain()
        except ConnectionError:
            pass  # the hook gave up waiting; it does the work itself
        finally:
            open_connections.discard(writer)
            answering.end()
            writer.close()

    while True:
        with channel.ownership(path) as owner:
            if owner:
                await _serve_while_ours(path, serve, open_connections, answering)
                return
        await asyncio.sleep(RETRY_SECONDS)


async def _serve_while_ours(
    path: Path,
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    open_connections: set[asyncio.StreamWriter],
    answering: InFlight,
) -> None:
    """Listen at `path` (whoever left a socket file there has gone: this server holds the lock) until
    cancelled, or until the socket file is not this one any more."""
    channel.remove(path)
    try:
        server = await asyncio.start_unix_server(serve, path=str(path), limit=channel.MAX_MESSAGE_BYTES)
    except OSError as exc:
        log.warning("hook channel off: cannot listen at %s: %s", path, exc)
        return
    os.chmod(path, 0o600)
    inode = os.stat(path).st_ino
    log.info("hook channel listening at %s", path)
    try:
        while True:  # a file to watch, not an event to wait for
            await asyncio.sleep(RETRY_SECONDS)
            if not channel.ours(path, inode):
                log.warning("hook channel off: %s was replaced by another process", path)
                return
    finally:
        server.close()
        # The hooks being answered get their answers (bounded): one cut off does the work itself,
        # and work this server had begun would then be done twice.
        await answering.finished(FINISH_SECONDS)
        for writer in list(open_connections):
            writer.close()
        channel.remove(path, inode)


async def _answer(services: Services, line: bytes) -> dict[str, object]:
    try:
        request = json.loads(line)
        event = str(request["event"])
        payload = HookInput.model_validate(request.get("payload") or {})
        options = HookOptions.model_validate(request["options"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        return {"error": f"malformed hook request: {type(exc).__name__}"}
    allowed = services.settings.namespaces
    if allowed and options.namespace not in allowed:
        return {"error": "the namespace is outside this server's --namespaces"}
    try:
        return {"answer": await handle(event, payload, options, services)}
    except Exception as exc:
        log.exception("hook %s failed in the server", event)
        return {"error": type(exc).__name__}
