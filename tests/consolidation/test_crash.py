"""kill -9 in the middle of a consolidation run: the restarted server resumes without duplicates."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from athena_mcp.store.driver import sqlite_module
from tests.stdio_server import StdioServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SESSIONS = 900  # three chunks of at most 400 sessions: a kill lands between chunk commits
EVENTS_PER_SESSION = 3


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite_module().connect(str(db))
    try:
        return [tuple(row) for row in connection.execute(sql).fetchall()]
    finally:
        connection.close()


async def test_a_run_killed_mid_way_resumes_without_duplicating_products(tmp_path: Path):
    db = tmp_path / "a.db"
    server = await StdioServer(db, "--consolidation-interval", "0").start()
    for first in range(0, SESSIONS, 150):
        events = [
            {
                "content": f"Session {s} step {n}: check item {s * 7 + n}",
                "session_id": f"s{s}",
                "event_type": "action",
            }
            for s in range(first, first + 150)
            for n in range(EVENTS_PER_SESSION)
        ]
        await server.call_tool("record_events", {"events": events})
    total = SESSIONS * EVENTS_PER_SESSION
    async with asyncio.timeout(120):  # consolidation waits for vectors; so does the test
        while query(db, "SELECT count(*) FROM vector_backlog")[0][0]:
            await asyncio.sleep(0.2)

    run = asyncio.create_task(server.call_tool("consolidate", {"settle_seconds": 0}))
    async with asyncio.timeout(120):
        while not (taken := query(db, "SELECT count(*) FROM consolidated_events")[0][0]):
            assert not run.done(), "the run ended before it could be killed"
            await asyncio.sleep(0.005)
    await server.kill()
    with contextlib.suppress(ConnectionError):
        await run
    assert 0 < taken < total, taken  # killed between chunks, with work committed and work left

    server = await StdioServer(db, "--consolidation-interval", "0").start()
    try:
        report = await server.call_tool("consolidate", {"settle_seconds": 0})
        assert report["status"] == "done" and report["events"] == total - taken
        status = await server.call_tool("consolidation_status", {})
        assert [run["status"] for run in status["runs"]] == ["done", "interrupted"]
        assert status["backlog"] == 0
    finally:
        await server.stop()

    assert query(db, "SELECT count(*), count(DISTINCT memory_id) FROM consolidated_events") == [
        (total, total)
    ]
    assert query(db, "SELECT count(*), count(DISTINCT session_id) FROM memories WHERE kind = 'episode'") == [
        (SESSIONS, SESSIONS)
    ]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
