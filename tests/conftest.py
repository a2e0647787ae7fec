"""Shared fixtures: the real default model (loaded once), fresh stores and in-process MCP clients."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from chaos.process import error_text


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers the tests start prepare the embedding model in a folder of the run's own, not in the
    user's cache (the default folder follows XDG_CACHE_HOME, and server processes inherit it)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real default embedder, loaded once for the whole run."""
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Every tool: most tests exercise a toolset's own tools; tests of the default surface say so.
    return Settings(db=tmp_path / "athena.db", backlog_interval=0.05, toolsets=("all",))


@contextlib.asynccontextmanager
async def open_client(settings: Settings, embedder: Embedder) -> AsyncIterator[Client]:
    """An MCP client session connected in-process to a fresh server on `settings.db`."""
    async with Client(build_server(settings, embedder)) as client:
        yield client


@contextlib.asynccontextmanager
async def services_for(settings: Settings, embedder: Embedder) -> AsyncIterator[Services]:
    async with open_services(settings, embedder, background=False) as services:
        await services.embeddings.wait_ready()
        yield services


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; returns its structured result."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; returns the error text the client sees."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed but returned {json.dumps(result.structured_content)}"
    return error_text(result)


async def wait_for(predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    """Poll a condition (a plain or an async one) until it holds; fails the test after `timeout` s."""
    async with asyncio.timeout(timeout):
        while not await _holds(predicate()):
            await asyncio.sleep(0.02)


async def _holds(value: bool | Awaitable[bool]) -> bool:
    return await value if inspect.isawaitable(value) else bool(value)
