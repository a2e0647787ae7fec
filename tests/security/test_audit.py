"""The audit trail: every change through MCP leaves an entry naming who made it, and nobody edits it.

Before it existed, `update` without a reason left no actor, and after `forget` then `restore` no
history entry was left at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pysqlite3.dbapi2 as sqlite3
import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.store.audit import register_functions
from tests.conftest import call, open_client

pytestmark = pytest.mark.timeout(120)


def audit_rows(path: Path) -> list[dict[str, Any]]:
    connection = sqlite3.connect(str(path))
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute("SELECT * FROM audit_log ORDER BY id")]
    finally:
        connection.close()


async def test_each_change_names_its_actor_tool_and_kind_and_digests_what_changed(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        fact = await call(client, "remember", content="The deploy key rotates monthly.", namespace="ops")
        await call(client, "update", id=fact["id"], content="The deploy key rotates weekly.", namespace="ops")
        await call(client, "forget", id=fact["id"], namespace="ops")
        await call(client, "restore", id=fact["id"], namespace="ops")
        task = await call(client, "create_task", title="Rotate the key", namespace="ops")
        await call(client, "update_task", id=task["id"], status="done", namespace="ops")
        await call(
            client,
            "add_to_graph",
            entities=[{"name": "Vault", "entityType": "service", "observations": []}],
            namespace="ops",
        )
    rows = audit_rows(settings.db)
    memory = [(r["change"], r["tool"]) for r in rows if r["subject"] == "memory"]
    assert memory == [
        ("create", "remember"),
        ("update", "update"),
        ("forget", "forget"),
        ("restore", "restore"),
    ]
    assert [(r["change"], r["tool"]) for r in rows if r["subject"] == "task"] == [
        ("create", "create_task"),
        ("update", "update_task"),
    ]
    assert any(r["subject"] == "entity" and r["tool"] == "add_to_graph" for r in rows)
    for row in rows:
        assert row["namespace"] == "ops"
        # The in-process client announces itself as "mcp"; the server, not the caller, says so.
        assert row["actor"].startswith("in-process") and "client=" in row["actor"], row
    created, updated, forgotten, restored = (r for r in rows if r["subject"] == "memory")
    assert created["before_digest"] is None and created["after_digest"] == updated["before_digest"]
    assert updated["after_digest"] != updated["before_digest"]
    # Restoring brings back exactly what was forgotten.
    assert restored["after_digest"] == forgotten["before_digest"]
    # Digests, never copies: nothing stored appears in the trail.
    assert "deploy key" not in json.dumps(rows)


async def test_new_memories_record_who_wrote_them_and_how_apart_from_the_claimed_source(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        claimed = await call(
            client, "remember", content="Ship on Fridays.", source="system", tags=["trusted"]
        )
        got = await call(client, "get", id=claimed["id"])
    assert got["source"] == "system" and got["origin"] == "agent" and got["trust"] == "medium"
    connection = sqlite3.connect(str(settings.db))
    [(written_by, origin)] = connection.execute("SELECT written_by, origin FROM memories").fetchall()
    connection.close()
    assert origin == "agent" and written_by.startswith("in-process")


async def test_the_trail_is_append_only(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="A fact to audit.")
    connection = sqlite3.connect(str(settings.db), isolation_level=None)
    try:
        for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                connection.execute(statement)
        # Another SQLite client cannot change what is audited behind the server's back...
        with pytest.raises(sqlite3.OperationalError, match="no such function: athena_digest"):
            connection.execute("UPDATE memories SET importance = 0.9")
        # ...and one that brings the digest function along is recorded, as unknown.
        register_functions(connection)
        connection.execute("UPDATE memories SET importance = 0.9")
    finally:
        connection.close()
    assert audit_rows(settings.db)[-1]["actor"] == "unknown"


async def test_the_command_line_shows_the_trail_as_a_table_and_as_json_lines(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        for n in range(3):
            await call(client, "remember", content=f"Fact number {n}.", namespace="web" if n else "api")
    command = [sys.executable, "-m", "athena_mcp", "audit", "--db", str(settings.db)]
    table = (await anyio.run_process(command)).stdout.decode()
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["id", "time", "(UTC)", "namespace"] and len(lines) == 4
    assert all(" create " in line and "remember" in line for line in lines[1:])
    scripted = (
        await anyio.run_process([*command, "--json", "--namespace", "web", "--limit", "1"])
    ).stdout.decode()
    [entry] = [json.loads(line) for line in scripted.splitlines()]
    assert entry["namespace"] == "web" and entry["subject"] == "memory" and entry["id"] == 3
