"""Backups of a live database and restoring one, with SQLite's own online backup.

A backup copies the database in one step of SQLite's backup API, inside one read transaction: in WAL
mode servers keep writing meanwhile, and the copy is the database exactly as it stood when the step
began (every write committed before then, none after). The copy is checked (`integrity_check`,
`foreign_key_check`) before it is renamed into place, and its SHA-256 is written beside it, so a
backup that exists is a whole one. Restoring checks a backup the same way first, refuses while a
process holds the database unless forced, and keeps the file it replaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from athena_mcp.errors import AthenaError
from athena_mcp.store.driver import plain_connection
from athena_mcp.store.files import SUFFIXES
from athena_mcp.store.migrations import known_migrations

CHUNK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    path: Path
    size: int
    sha256: str
    schema_version: int
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"{self.path}: {self.size / 2**20:.1f} MB, schema {self.schema_version}, integrity ok, "
            f"sha256 {self.sha256[:16]}…" + (f", {self.seconds:.1f} s" if self.seconds else "")
        )


def checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def backup(db: Path, target: Path) -> Snapshot:
    """Copy the live database `db` to `target` (which must not exist), checked and checksummed."""
    if not db.exists():
        raise AthenaError(f"backup: there is no database at {db}")
    if target.exists():
        raise AthenaError(f"backup: {target} exists; name a new file (backups are never overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    started = time.perf_counter()
    _create_private(partial)
    try:
        with plain_connection(db, read_only=True) as source, plain_connection(partial) as copy:
            # One step: one read transaction, so one consistent snapshot while others write.
            source.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        snapshot = _checked(partial)
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    checksum_file(target).write_text(f"{snapshot.sha256}  {target.name}\n", encoding="utf-8")
    return Snapshot(
        target, snapshot.size, snapshot.sha256, snapshot.schema_version, time.perf_counter() - started
    )


def verify(path: Path) -> Snapshot:
    """A backup's checks: its checksum file (when there is one) matches, and SQLite finds it whole."""
    if not path.is_file():
        raise AthenaError(f"restore: there is no backup at {path}")
    snapshot = _checked(path)
    recorded = checksum_file(path)
    if recorded.exists():
        expected = recorded.read_text(encoding="utf-8").split()[0]
        if expected != snapshot.sha256:
            raise AthenaError(
                f"restore: {path} does not match its checksum ({recorded}): the file changed or is "
                "damaged; nothing was restored"
            )
    return snapshot


def restore(backup_file: Path, db: Path, force: bool) -> tuple[Snapshot, Path | None]:
    """Put a verified backup in place of `db`; the replaced file kept beside it (or None)."""
    snapshot = verify(backup_file)
    holders = processes_holding(db)
    if holders and not force:
        raise AthenaError(
            f"restore: {db} is open in process {', '.join(map(str, holders))} (a server?); stop it first, "
            "or pass --force to replace the file under it (it keeps the old file open, not the new one)"
        )
    staged = db.with_name(f".{db.name}.{os.getpid()}.restoring")
    _create_private(staged)
    with open(backup_file, "rb") as source, open(staged, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    kept = None
    if db.exists():
        kept = db.with_name(f"{db.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in SUFFIXES:
            with contextlib.suppress(FileNotFoundError):
                os.replace(db.with_name(db.name + suffix), kept.with_name(kept.name + suffix))
    os.replace(staged, db)
    return snapshot, kept


def processes_holding(db: Path) -> list[int]:
    """Other processes with the database (or its WAL) open, read from /proc; empty where there is none."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    wanted = {str(db.resolve().with_name(db.name + suffix)) for suffix in SUFFIXES}
    found = []
    for process in proc.iterdir():
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (process / "fd").iterdir()):
                found.append(int(process.name))
    return sorted(found)


def _checked(path: Path) -> Snapshot:
    with plain_connection(path, read_only=True) as connection:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise AthenaError(f"{path} is damaged (integrity_check: {'; '.join(problems[:3])}); not used")
        if connection.execute("PRAGMA foreign_key_check").fetchall():
            raise AthenaError(f"{path} has rows whose references are missing (foreign_key_check); not used")
        row = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()
    version = int(row[0] or 0)
    newest = known_migrations()[-1].version
    if version > newest:
        raise AthenaError(
            f"{path} was written by a newer athena-mcp (schema {version}, this one knows {newest}); "
            "upgrade first"
        )
    return Snapshot(path, path.stat().st_size, _sha256(path), version)


def _create_private(path: Path) -> None:
    """An empty file only its owner may read, made before any of the database is copied into it."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
