"""The database file on disk: created readable by its owner only (with its -wal and -shm files and the
folders made for it), refused with one clear line when it cannot be a database."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import pytest

from athena_mcp.errors import StoreUnavailable
from athena_mcp.store import files
from athena_mcp.store.database import Database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def write_something(db: Path) -> None:
    async with Database.open(db) as database, database.transaction() as tx:
        await tx.execute("CREATE TABLE IF NOT EXISTS t (x)")
        await tx.execute("INSERT INTO t VALUES (1)")
        # Still open: the -wal and -shm files exist while a connection holds the file.
        for suffix in ("", "-wal", "-shm"):
            assert mode(db.with_name(db.name + suffix)) == 0o600, suffix


async def test_a_new_database_and_the_folders_made_for_it_are_private(tmp_path: Path):
    db = tmp_path / "made" / "for" / "it" / "athena.db"
    await write_something(db)
    assert mode(db) == 0o600
    for folder in (db.parent, db.parent.parent, db.parent.parent.parent):
        assert mode(folder) == 0o700, folder


async def test_an_existing_database_elsewhere_keeps_its_mode_with_a_warning(tmp_path: Path, caplog):
    db = tmp_path / "shared.db"
    await write_something(db)
    db.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="athena_mcp.store.files"):
        async with Database.open(db):
            pass
    assert mode(db) == 0o644
    assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text


async def test_the_servers_own_default_folder_is_tightened(tmp_path: Path, monkeypatch):
    default = tmp_path / "athena-mcp" / "athena.db"
    monkeypatch.setattr(files, "default_db_path", lambda: default)
    await write_something(default)
    default.parent.chmod(0o755)
    for suffix in ("", "-wal", "-shm"):
        target = default.with_name(default.name + suffix)
        if target.exists():
            target.chmod(0o644)
    files.prepare(default)
    assert mode(default.parent) == 0o700 and mode(default) == 0o600


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: os.mkfifo(p), "a FIFO (named pipe), not a database file"),
        (lambda p: p.mkdir(), "a directory, not a database file"),
        (lambda p: p.write_text("SQLite? no, just notes\n"), "not an SQLite database"),
    ],
)
async def test_a_path_that_is_no_database_is_refused_before_sqlite_opens_it(tmp_path: Path, make, reason):
    db = tmp_path / "athena.db"
    make(db)
    with pytest.raises(StoreUnavailable, match=re.escape(reason)) as refused:
        async with Database.open(db):
            pass
    assert "\n" not in str(refused.value) and "--db" in str(refused.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may read and write any file")
async def test_a_database_this_user_may_not_write_is_refused(tmp_path: Path):
    db = tmp_path / "athena.db"
    await write_something(db)
    db.chmod(0o400)
    with pytest.raises(StoreUnavailable, match="may not read and write it"):
        async with Database.open(db):
            pass


async def test_an_empty_file_is_a_new_database(tmp_path: Path):
    db = tmp_path / "athena.db"
    db.touch(mode=0o600)
    await write_something(db)
