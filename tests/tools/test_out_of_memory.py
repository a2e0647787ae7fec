"""Out of memory under a call (pysqlite raises MemoryError for SQLITE_NOMEM): a clear tool error, the
write rolled back whole, and the server keeps serving. The real server process under a capped
address space is chaos/scenarios/memory_pressure.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from mcp import Client

from athena_mcp.server import build_server
from athena_mcp.services import Services
from chaos.embedder import HashingEmbedder
from tests.conftest import call, call_error


class NoMemoryOnTags:
    """Fails the statement that stores a memory's tags, after the memory's own row, while armed."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.armed = True

    def __call__(self, sql: str) -> None:
        if self.armed and sql.startswith("INSERT OR IGNORE INTO memory_tags"):
            raise self.failure

    @contextlib.asynccontextmanager
    async def around(self, services: Services) -> AsyncIterator[None]:
        services.database.statement_hook = self
        yield


# Under `ulimit -v` memory runs out as a MemoryError, or as a worker thread (aiosqlite's, the
# embedder's) that cannot start because its stack cannot be mapped.
@pytest.mark.parametrize("failure", [MemoryError(), RuntimeError("can't start new thread")])
async def test_running_out_of_memory_mid_write_is_a_clear_error_and_keeps_nothing(settings, failure):
    fault = NoMemoryOnTags(failure)
    async with Client(build_server(settings, HashingEmbedder(), around=fault.around)) as client:
        text = await call_error(client, "remember", content="The staging key rotates weekly", tags=["ops"])
        assert "ran out of memory" in text and "nothing from it was kept" in text
        fault.armed = False
        listed = await call(client, "list_memories")
        assert listed["items"] == []
        kept = await call(client, "remember", content="The staging key rotates monthly", tags=["ops"])
        assert (await call(client, "get", id=kept["id"]))["tags"] == ["ops"]


async def test_another_runtime_error_is_not_taken_for_lack_of_memory(settings):
    fault = NoMemoryOnTags(RuntimeError("a bug"))
    async with Client(build_server(settings, HashingEmbedder(), around=fault.around)) as client:
        text = await call_error(client, "remember", content="The staging key rotates weekly", tags=["ops"])
        assert "memory" not in text
