"""A stdio server whose address space is capped while it runs (as `ulimit -v`, set with prlimit):
a request that would not fit is answered with an out-of-memory error before it is parsed (the SDK's
parser aborts the process when an allocation fails inside it), nothing of it is kept, the server
serves on, and once the limit is raised the same request goes through. The chaos harness's
memory_pressure scenario runs this at length."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from athena_mcp.store.driver import sqlite_module
from tests.stdio_server import StdioServer

resource = pytest.importorskip("resource")  # not on Windows

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and caps RLIMIT_AS"),
]

# Room left under the cap: a 10 MB request needs about 72 MB (memory_budget), a small one 32 MB.
HEADROOM = 44 << 20
BATCH = {
    "events": [
        {"content": f"Event {n}: " + "x" * 19_980, "session_id": "big", "event_type": "action"}
        for n in range(500)
    ]
}


def address_space(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize for {pid}")


def stored_events(db: Path) -> int:
    connection = sqlite_module().connect(f"file:{db}?mode=ro", uri=True)
    try:
        sql = "SELECT count(*) FROM memories WHERE session_id = 'big'"
        count: int = connection.execute(sql).fetchone()[0]
        return count
    finally:
        connection.close()


def cap(pid: int, soft: int) -> None:
    # Only the soft limit: an unprivileged process may raise it again, up to the hard one.
    resource.prlimit(pid, resource.RLIMIT_AS, (soft, resource.getrlimit(resource.RLIMIT_AS)[1]))


async def test_a_request_too_big_for_the_memory_left_is_refused_and_taken_once_the_limit_rises(tmp_path):
    db = tmp_path / "athena.db"
    server = await StdioServer(db).start()
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

        cap(server.pid, resource.RLIM_INFINITY)
        stored = await server.call_tool("record_events", BATCH)
        assert len(stored["ids"]) == 500
        assert stored_events(db) == 500
    finally:
        await server.stop()
