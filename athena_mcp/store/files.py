"""The database file on disk: checked before SQLite opens it, and kept to its owner.

SQLite is given only a regular file that it can read and write and that is a database (or empty):
anything else would fail later with a vaguer message, and a FIFO would block the opening thread
until something wrote to it. A file the server creates is its owner's alone (0600, in a folder it
creates 0700); SQLite gives the -wal and -shm files it makes beside it the database file's mode.
Existing files keep the mode they were given (it may be a deliberate group share), with a warning
when others may read them, except in the server's own default folder, which it tightens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from athena_mcp.errors import StoreUnavailable
from athena_mcp.settings import default_db_path

log = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
COMPANIONS = ("-wal", "-shm")
FILE_MODE = 0o600
FOLDER_MODE = 0o700
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


# A database file and the two SQLite keeps beside it while it is open in WAL mode.
SUFFIXES = ("", "-wal", "-shm")


def disk_bytes(db: Path) -> int:
    """What the database takes on disk: the file and its WAL and shared-memory files."""
    return sum(
        path.stat().st_size
        for path in (db.with_name(db.name + suffix) for suffix in SUFFIXES)
        if path.exists()
    )


def prepare(path: Path) -> None:
    """Make `path` ready for SQLite: its folder and an empty private file if missing, else check it.

    Raises StoreUnavailable with one line saying what is wrong and what to do."""
    if str(path) == ":memory:" or str(path).startswith("file:"):
        return
    _make_folder(path.parent)
    try:
        info = path.stat()
    except FileNotFoundError:
        _create(path)
        _keep_private(path, FILE_MODE)
        return
    except OSError as exc:
        raise _unavailable(path, exc.strerror or str(exc)) from None
    kind = _KINDS.get(stat.S_IFMT(info.st_mode))
    if kind is not None:
        raise _unavailable(path, f"it is {kind}, not a database file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise _unavailable(path, f"this user may not read and write it (mode {stat.filemode(info.st_mode)})")
    try:
        with path.open("rb") as file:
            header = file.read(len(HEADER))
    except OSError as exc:
        raise _unavailable(path, exc.strerror or str(exc)) from None
    if header and header != HEADER[: len(header)]:
        raise _unavailable(path, "it is not an SQLite database (it holds something else)")
    _keep_private(path, info.st_mode)


def _make_folder(folder: Path) -> None:
    """Create the folder and any missing parents, each 0700."""
    missing: list[Path] = []
    try:
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for parent in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                parent.mkdir(mode=FOLDER_MODE)
    except OSError as exc:
        raise StoreUnavailable(
            f"Cannot create the database folder {exc.filename or folder}: {exc.strerror}. "
            "Choose another location with --db or ATHENA_DB."
        ) from None


def _create(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass  # another process made it meanwhile (or a dangling link names it: SQLite says so)
    except OSError as exc:
        raise _unavailable(path, exc.strerror or str(exc)) from None


def _keep_private(path: Path, mode: int) -> None:
    """Tighten the server's own default folder; warn about a database others may read elsewhere."""
    own_folder = path.parent.resolve() == default_db_path().parent.resolve()
    files = [path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)]
    if own_folder:
        with contextlib.suppress(OSError):
            path.parent.chmod(FOLDER_MODE)
            for file in files:
                if file.exists():
                    file.chmod(FILE_MODE)
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the database %s can be read by other users (mode %s): everything in it is theirs to read; "
            "`chmod 600` it and its -wal and -shm files unless that is meant",
            path,
            stat.filemode(mode),
        )


def _unavailable(path: Path, why: str) -> StoreUnavailable:
    return StoreUnavailable(f"Cannot open the database {path}: {why}. Choose another with --db or ATHENA_DB.")
