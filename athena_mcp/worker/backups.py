"""Scheduled backups: every server checks now and then whether the newest backup in `--backup-dir`
is older than `--backup-interval-hours`; if so it takes one (store/backup.py) and deletes the oldest
past `--backup-keep`. Several servers on one database share the folder: a lock on it lets one decide
and write at a time, so an interval gets one backup, not one per server."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from athena_mcp.paths import path_digest
from athena_mcp.store import backup

log = logging.getLogger(__name__)

PREFIX = "athena-"
SUFFIX = ".db"
# How often a server looks whether a backup is due (the interval itself is hours).
CHECK_SECONDS = 300.0


class ScheduledBackups:
    def __init__(self, db: Path, folder: str, interval_hours: float, keep: int) -> None:
        self._db = db
        self._folder = Path(folder).expanduser()
        # Named after the database too: two databases backed up into one folder keep apart.
        self._prefix = f"{PREFIX}{db.stem}-{path_digest(db, 8)}-"
        self._interval = interval_hours * 3600
        self._keep = keep

    @property
    def prefix(self) -> str:
        """How this database's scheduled backups' names begin."""
        return self._prefix

    async def run_once(self) -> Path | None:
        """Take a backup if one is due; the new backup's path, or None."""
        return await asyncio.to_thread(self._run)

    def backups(self) -> list[Path]:
        """This database's scheduled backups, oldest first."""
        return sorted(self._folder.glob(f"{glob.escape(self._prefix)}*{SUFFIX}"))

    def _run(self) -> Path | None:
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(self._folder / ".lock"):
            held = self.backups()
            if held and time.time() - held[-1].stat().st_mtime < self._interval:
                return None
            target = self._folder / f"{self._prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}{SUFFIX}"
            if target.exists():
                return None  # one this second already
            snapshot = backup.backup(self._db, target)
            log.info("scheduled backup: %s", snapshot.describe())
            for old in self.backups()[: -self._keep]:
                old.unlink(missing_ok=True)
                backup.checksum_file(old).unlink(missing_ok=True)
            return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` between processes, released when the block ends (or the process)."""
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock on either system
