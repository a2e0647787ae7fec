"""Backups of a live database and restores, through the command line as a user runs them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from athena_mcp.store.driver import sqlite_module
from tests.stdio_server import StdioServer, run_athena

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def athena(db: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run_athena("--db", str(db), *arguments)


def facts_in(db: Path) -> set[str]:
    with sqlite_module().connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT content FROM memories WHERE system = 'semantic'").fetchall()
    return {row[0] for row in rows}


async def test_a_backup_and_an_export_taken_while_two_servers_write_hold_every_write_acknowledged_before_them(
    tmp_path: Path,
) -> None:
    db, copy, export = tmp_path / "live.db", tmp_path / "backups" / "monday.db", tmp_path / "monday.jsonl"
    servers = [await StdioServer(db).start(), await StdioServer(db).start()]  # two editors on one file
    acknowledged: list[tuple[float, str]] = []

    async def write(server: StdioServer, name: str) -> None:
        for n in range(400):
            content = f"fact number {n} of {name}, written during the backup"
            await server.call_tool("remember", {"content": content})
            acknowledged.append((time.monotonic(), content))

    try:
        writers = [asyncio.create_task(write(server, f"writer {n}")) for n, server in enumerate(servers)]
        while len(acknowledged) < 20:
            await asyncio.sleep(0.02)
        started = time.monotonic()
        done, exported = await asyncio.gather(
            asyncio.to_thread(athena, db, "backup", str(copy)),
            asyncio.to_thread(athena, db, "export", str(export)),
        )
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
    finally:
        for server in servers:
            await server.kill()
    assert done.returncode == 0, done.stderr
    assert "integrity ok" in done.stderr
    saved = facts_in(copy)
    before = {content for at, content in acknowledged if at < started}
    assert {"writer 0", "writer 1"} <= {content.split(" of ")[1][:8] for content in before}
    assert before and before <= saved
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()[1:]]
    assert before <= {line["content"] for line in lines if line["type"] == "memory"}
    assert copy.with_name("monday.db.sha256").read_text().split()[1] == "monday.db"
    # The copy is one self-contained file, private like the database.
    assert not copy.with_name("monday.db-wal").exists() and copy.stat().st_mode & 0o777 == 0o600

    restored = tmp_path / "restored.db"
    back = athena(restored, "restore", str(copy))
    assert back.returncode == 0, back.stderr
    assert facts_in(restored) == saved
    stats = json.loads(athena(restored, "stats", "--json").stdout)
    assert stats["namespaces"]["default"]["facts"] == len(saved)


async def test_restore_refuses_a_held_database_and_keeps_the_one_it_replaces(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    server = await StdioServer(db).start()
    try:
        await server.call_tool("remember", {"content": "kept in the backup"})
        assert athena(db, "backup", str(copy)).returncode == 0
        await server.call_tool("remember", {"content": "written after the backup"})
        refused = athena(db, "restore", str(copy))
        assert (
            refused.returncode != 0 and "is open in process" in refused.stderr and "--force" in refused.stderr
        )
    finally:
        await server.kill()
    _restore_keeps_the_replaced_file(db, copy)


def _restore_keeps_the_replaced_file(db: Path, copy: Path) -> None:
    done = athena(db, "restore", str(copy))
    assert done.returncode == 0, done.stderr
    assert facts_in(db) == {"kept in the backup"}
    [kept] = db.parent.glob("live.db.replaced-*[0-9]")
    assert "written after the backup" in facts_in(kept)


def test_a_damaged_or_altered_backup_is_never_restored(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "copy.db"
    assert athena(db, "stats").returncode == 0  # makes the database
    assert athena(db, "backup", str(copy)).returncode == 0
    again = athena(db, "backup", str(copy))
    assert again.returncode != 0 and "never overwritten" in again.stderr
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    target = tmp_path / "target.db"
    refused = athena(target, "restore", str(copy))
    assert refused.returncode != 0 and ("checksum" in refused.stderr or "damaged" in refused.stderr)
    assert not target.exists()
    missing = athena(target, "restore", str(tmp_path / "nothing.db"))
    assert missing.returncode != 0 and "no backup at" in missing.stderr


def test_stats_reads_as_a_table_and_as_json(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    table = athena(db, "stats")
    assert table.returncode == 0 and "MB" in table.stdout and "waiting" in table.stdout
    assert json.loads(athena(db, "stats", "--json").stdout)["namespaces"] == {}


def test_paths_with_uri_characters_are_plain_names(tmp_path: Path) -> None:
    folder = tmp_path / "C#x?y%z"
    folder.mkdir()
    db, copy = folder / "live.db", folder / "copy#1.db"
    assert athena(db, "stats").returncode == 0
    done = athena(db, "backup", str(copy))
    assert done.returncode == 0, done.stderr
    assert copy.exists() and copy.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["C#x?y%z"]  # no stray file beside
