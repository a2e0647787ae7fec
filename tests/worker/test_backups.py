"""Scheduled backups: one per interval whichever servers run, the oldest deleted past the limit."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.store import backup
from athena_mcp.worker.backups import ScheduledBackups
from tests.conftest import call, open_client, wait_for

pytestmark = pytest.mark.timeout(120)


async def _store(db: Path, minilm: MiniLMEmbedder) -> None:
    async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
        await call(client, "remember", content="Backups run nightly")


async def test_a_backup_is_taken_when_due_and_not_again_within_the_interval(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    db, folder = tmp_path / "a.db", tmp_path / "backups"
    await _store(db, minilm)
    first, second = (ScheduledBackups(db, str(folder), 24, 3) for _ in range(2))
    # Two servers at once: the folder's lock lets one of them take the interval's backup.
    taken = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(path is not None for path in taken) == 1
    [made] = first.backups()
    assert backup.verify(made).size > 0


async def test_the_oldest_backups_go_past_the_limit(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    db, folder = tmp_path / "a.db", tmp_path / "backups"
    await _store(db, minilm)
    folder.mkdir()
    scheduled = ScheduledBackups(db, str(folder), 24, 2)
    another = folder / "athena-other-12345678-20260101-000000.db"  # another database's
    another.write_bytes(b"")
    for day in range(1, 4):  # three old backups, a day apart
        old = folder / f"{scheduled.prefix}2026010{day}-000000.db"
        old.write_bytes(b"")
        stamp = time.time() - (10 - day) * 86400
        os.utime(old, (stamp, stamp))
    made = await scheduled.run_once()
    assert made is not None
    assert [path.name for path in scheduled.backups()] == [f"{scheduled.prefix}20260103-000000.db", made.name]
    assert another.exists()


async def test_a_server_with_a_backup_folder_takes_its_first_backup_at_start(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    folder = tmp_path / "backups"
    settings = Settings(db=tmp_path / "a.db", toolsets=("all",), backup_dir=str(folder))
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="Backups run nightly")
        await wait_for(lambda: any(folder.glob("athena-*.db")))
