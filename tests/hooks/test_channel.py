"""The hook channel's socket: private to its user, short enough to bind, never reused when stale."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.hooks import channel, listener
from athena_mcp.settings import Settings
from tests.conftest import services_for


def test_the_socket_folder_must_be_private(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(channel.ChannelUnsafe):
        channel.private_folder(shared)
    private = channel.private_folder(tmp_path / "private")
    assert private.stat().st_mode & 0o777 == 0o700


def test_a_runtime_folder_too_deep_for_a_socket_gives_way_to_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("deep" * 30)))
    path = channel.socket_path(tmp_path / "a.db")
    assert (
        len(os.fsencode(path)) <= channel.MAX_PATH_BYTES and path.parent.name == f"athena-mcp-{os.getuid()}"
    )


def test_two_databases_get_two_sockets_and_one_database_one(tmp_path: Path) -> None:
    assert channel.socket_path(tmp_path / "a.db") != channel.socket_path(tmp_path / "b.db")
    assert channel.socket_path(tmp_path / "a.db") == channel.socket_path(tmp_path / "." / "a.db")


async def answers(db: Path) -> bool:
    """Whether a server answers on the database's channel (a whole exchange: it refuses the request)."""
    return await asyncio.to_thread(channel.ask, db, {"event": "Nothing"}, 5.0) is not None


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return await check()


@pytest.mark.parametrize("first_to_stop", [0, 1])
async def test_two_servers_starting_at_once_leave_one_listening_and_the_other_takes_over(
    settings: Settings, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch, first_to_stop: int
) -> None:
    monkeypatch.setattr(listener, "RETRY_SECONDS", 0.1)
    path = channel.socket_path(settings.db)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as gone:
        gone.bind(str(path))  # the socket file of a server killed with -9
    async with services_for(settings, minilm) as one, services_for(settings, minilm) as two:
        servers = [listener.hook_channel(one), listener.hook_channel(two)]
        await asyncio.gather(*(server.__aenter__() for server in servers))  # both start at once
        assert await wait_until(lambda: answers(settings.db))
        await servers[first_to_stop].__aexit__(None, None, None)
        # The one left listens: on the socket it had, or on its own, taken over.
        assert await wait_until(lambda: answers(settings.db)), "the server left does not listen"
        await servers[1 - first_to_stop].__aexit__(None, None, None)
    assert not path.exists(), "a server that stopped left its socket behind"


def test_a_server_that_closes_without_answering_leaves_the_work_to_the_hook(tmp_path: Path) -> None:
    path = channel.socket_path(tmp_path / "a.db")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stopping:
        stopping.bind(str(path))
        stopping.listen()
        asked = threading.Thread(target=lambda: stopping.accept()[0].close())
        asked.start()
        assert channel.ask(tmp_path / "a.db", {"event": "SessionEnd"}, 5.0) is None
        asked.join()
    path.unlink()


async def test_a_server_that_stops_while_answering_a_hook_answers_it_first(
    settings: Settings, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = asyncio.Event()

    async def slow_answer(services: object, line: bytes) -> dict[str, object]:
        await asyncio.sleep(0.5)  # a SessionEnd consolidating, say
        answered.set()
        return {"answer": {"done": True}}

    monkeypatch.setattr(listener, "_answer", slow_answer)
    async with services_for(settings, minilm) as services:
        server = listener.hook_channel(services)
        await server.__aenter__()
        assert await wait_until(lambda: asyncio.to_thread(channel.socket_path(settings.db).exists))
        asked = asyncio.create_task(asyncio.to_thread(channel.ask, settings.db, {"event": "SessionEnd"}, 5.0))
        await asyncio.sleep(0.2)  # the server is answering
        await server.__aexit__(None, None, None)  # and is told to stop
        assert answered.is_set()
        assert await asked == {"answer": {"done": True}}, "the hook was cut off and would do the work again"
