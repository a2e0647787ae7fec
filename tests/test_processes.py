"""Real server processes: launched as editors launch them, restarted, killed, and run side by side."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from chaos.process import wait_for_port
from tests.stdio_server import ATHENA_MCP, StdioServer, free_port, http_server

pytestmark = pytest.mark.slow


async def test_an_editor_launched_server_round_trips_remember_and_recall(tmp_path: Path):
    params = StdioServerParameters(
        command=ATHENA_MCP, args=["--db", str(tmp_path / "a.db"), "--log-level", "ERROR"]
    )
    async with Client(params, read_timeout_seconds=120) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        # The default surface: the core dozen, the rest a memory_status call away.
        assert {"remember", "recall", "brief", "memory_status"} <= names and "timeline" not in names
        stored = await client.call_tool("remember", {"content": "The editor launched me over stdio"})
        assert not stored.is_error
        found = await client.call_tool("recall", {"query": "launched over stdio"})
        assert [hit["id"] for hit in found.structured_content["results"]] == [stored.structured_content["id"]]


async def test_memories_survive_a_restart(tmp_path: Path):
    db = tmp_path / "a.db"
    server = await StdioServer(db).start()
    stored = await server.call_tool("remember", {"content": "Persisted across restarts", "tags": ["durable"]})
    await server.stop()

    server = await StdioServer(db).start()
    try:
        detail = await server.call_tool("get", {"id": stored["id"]})
        assert detail["content"] == "Persisted across restarts" and detail["tags"] == ["durable"]
    finally:
        await server.stop()


async def test_every_acknowledged_write_survives_kill_9(tmp_path: Path):
    db = tmp_path / "a.db"
    server = await StdioServer(db).start()
    acknowledged = []
    for n in range(20):
        result = await server.call_tool(
            "record_event", {"content": f"event {n} before the crash", "session_id": "k"}
        )
        acknowledged += result["ids"]
    await server.kill()

    server = await StdioServer(db).start()
    try:
        timeline = await server.call_tool("timeline", {"session_id": "k", "limit": 100})
        assert [event["id"] for event in timeline["events"]] == acknowledged
    finally:
        await server.stop()


async def test_two_servers_on_one_file_lose_no_writes(tmp_path: Path):
    db = tmp_path / "shared.db"
    servers = [await StdioServer(db).start(), await StdioServer(db).start()]

    async def write(index: int, server: StdioServer) -> list[int]:
        ids = []
        for n in range(25):
            ids += (
                await server.call_tool(
                    "record_event", {"content": f"editor {index} step {n}", "session_id": f"editor-{index}"}
                )
            )["ids"]
            stored = await server.call_tool("remember", {"content": f"editor {index} fact {n}"})
            ids.append(stored["id"])
            await server.call_tool("recall", {"query": f"editor {index}"})
        return ids

    try:
        written = await asyncio.gather(*(write(i, s) for i, s in enumerate(servers)))
        all_ids = [i for ids in written for i in ids]
        assert len(set(all_ids)) == 100
        for server in servers:
            for index in range(2):
                events = (
                    await server.call_tool("timeline", {"session_id": f"editor-{index}", "limit": 100})
                )["events"]
                assert len(events) == 25
            facts = await server.call_tool("list_memories", {"limit": 100})
            assert len(facts["items"]) == 50
        # The same fact stored by both editors at once still ends as one memory.
        both = await asyncio.gather(*(s.call_tool("remember", {"content": "shared fact"}) for s in servers))
        assert both[0]["id"] == both[1]["id"]
    finally:
        for server in servers:
            await server.stop()


async def test_a_procedure_saved_by_one_server_is_found_and_measured_by_another(tmp_path: Path):
    db = tmp_path / "shared.db"
    servers = [await StdioServer(db).start(), await StdioServer(db).start()]
    try:
        saved = await servers[0].call_tool(
            "save_procedure",
            {
                "name": "Rotate the signing key",
                "goal": "Replace the release signing key before it expires",
                "steps": ["Generate a new key", "Upload the public half", "Revoke the old key"],
            },
        )
        # By its words: found whether or not the second server's model has loaded yet.
        found = await servers[1].call_tool("find_procedures", {"query": "rotate the signing key"})
        assert [hit["id"] for hit in found["results"]] == [saved["id"]]
        run = await servers[1].call_tool(
            "record_execution", {"id": saved["id"], "outcome": "success", "duration": 90, "session_id": "s1"}
        )
        detail = await servers[0].call_tool("get_procedure", {"id": saved["id"]})
        assert run["recorded"] and detail["stats"]["runs"] == 1 and detail["stats"]["mean_duration"] == 90
        assert detail["evidence_sessions"] == ["s1"]
    finally:
        for server in servers:
            await server.stop()


async def test_a_trigger_made_before_a_kill_9_fires_exactly_once_across_restarted_servers(tmp_path: Path):
    db = tmp_path / "a.db"
    server = await StdioServer(db).start()
    trigger = await server.call_tool(
        "create_trigger", {"kind": "after", "after_seconds": 1, "reminder": "Check the deploy"}
    )
    await server.kill()

    servers = [await StdioServer(db).start(), await StdioServer(db).start()]
    try:
        # Both servers' workers race for it; each due call runs a pass of its own as well.
        async with asyncio.timeout(60):
            while not (fired := (await servers[0].call_tool("due", {}))["fired"]):
                await asyncio.sleep(0.2)
        assert [item["trigger_id"] for item in fired] == [trigger["id"]]
        await servers[0].kill()
        servers[0] = await StdioServer(db).start()
        for each in servers:
            assert [item["firing_id"] for item in (await each.call_tool("due", {}))["fired"]] == [
                fired[0]["firing_id"]
            ]
        [done] = (await servers[1].call_tool("list_triggers", {"status": ["done"]}))["triggers"]
        assert (done["id"], done["fired"]) == (trigger["id"], 1)
    finally:
        for each in servers:
            await each.stop()


def test_python_dash_m_runs_the_same_cli():
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "athena_mcp", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--db" in result.stdout


async def test_the_http_transport_serves_streamable_http_on_loopback(tmp_path: Path):
    port = free_port()
    async with http_server(tmp_path / "a.db", port):
        await wait_for_port(port)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            stored = await client.call_tool("remember", {"content": "Reached over streamable HTTP"})
            found = await client.call_tool("recall", {"query": "streamable HTTP"})
            assert [hit["id"] for hit in found.structured_content["results"]] == [
                stored.structured_content["id"]
            ]


async def test_a_start_up_refusal_is_one_clear_line_not_a_traceback(tmp_path: Path):
    from athena_mcp.models import EmbeddingIdentity
    from athena_mcp.store.database import Database
    from athena_mcp.store.migrations import migrate
    from athena_mcp.store.vectors import ensure_vector_index

    db = tmp_path / "other-model.db"
    async with Database.open(db) as database:
        await migrate(database)
        await ensure_vector_index(database, EmbeddingIdentity("some/other-model", 768))
    process = await asyncio.create_subprocess_exec(
        ATHENA_MCP,
        "--db",
        str(db),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate(b"")
    assert process.returncode == 1 and stdout == b""
    assert "some/other-model (768-d)" in stderr.decode() and "athena-mcp reembed" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_an_http_server_stops_cleanly_on_sigterm(tmp_path: Path):
    db, port = tmp_path / "a.db", free_port()
    async with http_server(db, port) as process:
        await wait_for_port(port)
        process.terminate()
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    assert not db.with_name("a.db-wal").exists()
