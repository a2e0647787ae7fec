"""A stdio server whose address space is capped while it runs (as `ulimit -v`, set with prlimit):
a request that would not fit is answered with an out-of-memory error before it is parsed (the SDK's
parser aborts the process when an allocation fails inside it), nothing of it is kept, the server
serves on, and once the limit is raised the same request goes through. The chaos harness's
memory_pressure scenario runs this at length."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chaos.integrity import read_only
from chaos.scenarios.memory_pressure import BIG_CHARS, address_space, batch, cap
from tests.stdio_server import StdioServer

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and caps RLIMIT_AS"),
]

# Room left under the cap: a 10 MB request needs about 72 MB (memory_budget), a small one 32 MB.
HEADROOM = 44 << 20
BATCH = batch("big", BIG_CHARS).arguments  # 500 events of 20,000 characters: a 10 MB request
DOWN_EMBEDDER = (
    *("--embedder", "http", "--embedding-url", "http://127.0.0.1:9/v1"),
    *("--embedding-model", "down", "--embedding-dim", "384", "--embedding-timeout", "1"),
)


def stored_events(db: Path) -> int:
    with read_only(db) as connection:
        sql = "SELECT count(*) FROM memories WHERE session_id = 'big'"
        count: int = connection.execute(sql).fetchone()[0]
        return count


async def test_a_request_too_big_for_the_memory_left_is_refused_and_taken_once_the_limit_rises(tmp_path):
    db = tmp_path / "athena.db"
    # The model has no part in what is checked, and embedding 500 texts of 20,000 characters took
    # most of the test's 35 s: an embedder that is down stores the events with their vectors pending.
    server = await StdioServer(db, *DOWN_EMBEDDER).start()
    try:
        await server.call_tool("remember", {"content": "the server at rest has its threads"})
        cap(server.pid, address_space(server.pid) + HEADROOM)

        refused = await server.exchange("tools/call", {"name": "record_events", "arguments": BATCH})
        assert refused["error"]["code"] == -32603, refused
        message = refused["error"]["message"]
        assert "Out of memory" in message and "ulimit -v" in message and "Nothing from it was kept" in message

        small = await server.exchange("tools/call", {"name": "list_memories", "arguments": {"limit": 1}})
        assert "result" in small or "Out of memory" in small["error"]["message"]
        assert stored_events(db) == 0

        cap(server.pid, None)
        stored = await server.call_tool("record_events", BATCH)
        assert len(stored["ids"]) == 500
        assert stored_events(db) == 500
    finally:
        await server.stop()
