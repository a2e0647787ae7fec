"""The local channel between a hook and the server already running on the same database.

A hook is a fresh process on every prompt and tool call. Opening the store, importing the memory
systems and loading the embedding model there costs 0.5-0.9 s (perf/bench_hooks.py); the server the
editor keeps running has all of it ready. So a running server listens on a Unix socket named after
its database, and a hook sends it one JSON line and reads one back; with no server listening the
hook does the work itself. The socket lives in a folder only its user may enter (the user's runtime
folder, or a private one under the temporary folder), so no other user can reach the memory
through it.

This module is imported by every hook before anything else: it keeps to the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from athena_mcp.paths import path_digest

MAX_MESSAGE_BYTES = 4 * 2**20
# Socket paths are limited to 104-108 bytes by the system: the database's path is hashed into the
# name, and a runtime folder too deep for it gives way to the temporary folder.
NAME_DIGITS = 16
MAX_PATH_BYTES = 100


class ChannelUnsafe(Exception):
    """The socket's folder could be entered by other users: the channel is not used."""


def socket_path(db: Path) -> Path:
    """Where the server for database `db` listens. Without Unix sockets (Windows) there is no channel:
    ChannelUnsafe, and hooks do their own work."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        raise ChannelUnsafe("no Unix sockets here: the hook channel is off")
    name = f"hooks-{path_digest(db, NAME_DIGITS)}.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and len(os.fsencode(Path(runtime) / "athena-mcp" / name)) <= MAX_PATH_BYTES:
        return private_folder(Path(runtime) / "athena-mcp") / name
    return private_folder(Path(tempfile.gettempdir()) / f"athena-mcp-{os.getuid()}") / name


def private_folder(base: Path) -> Path:
    """`base`, made if missing, checked to be a folder that only this user may enter."""
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = base.stat()
    if status.st_uid != os.getuid() or stat.S_IMODE(status.st_mode) & 0o077:
        raise ChannelUnsafe(f"{base} is not private to this user (owner or mode): the hook channel is off")
    return base


def ask(db: Path, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """The server's answer to `request`, or None when no server listens for this database."""
    try:
        path = socket_path(db)
    except (ChannelUnsafe, OSError):
        return None
    if not hasattr(socket, "AF_UNIX") or not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        try:
            connection.connect(str(path))
        except OSError:
            return None  # a socket left by a server that is gone
        try:
            connection.sendall(json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n")
            reply = _read_line(connection)
        except ConnectionError:
            reply = b""
    if not reply.strip():
        # Closed without an answer: the server was stopping. Its work was not done (a server answers
        # once it is), so the hook does it itself.
        return None
    answer = json.loads(reply)
    if not isinstance(answer, dict):
        raise ValueError("the server's hook channel answered something other than a JSON object")
    return answer


def _read_line(connection: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > MAX_MESSAGE_BYTES:
            break
    return b"".join(chunks)


@contextlib.contextmanager
def ownership(path: Path) -> Iterator[bool]:
    """The lock the server listening at `path` holds for as long as it listens: True when this caller
    holds it now, False when another server does. The system releases it when its holder exits, even
    by kill -9, so a free lock means a socket file left there is stale."""
    import fcntl  # Unix only, as the channel is

    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # and with it the lock


def ours(path: Path, inode: int) -> bool:
    """Whether the socket file at `path` is still the one bound with `inode`."""
    try:
        return os.stat(path).st_ino == inode
    except FileNotFoundError:
        return False


def remove(path: Path, inode: int | None = None) -> None:
    """Remove the socket file at `path`; with `inode`, only if it is still that one (a server that
    stops must not remove the socket another server listens on)."""
    if inode is not None and not ours(path, inode):
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
