"""A --db that cannot be a database (a FIFO, a text file behind a symlink, a directory) stops the
server at once with one line saying why, while the client still holds stdin open: it never leaves
`initialize` waiting until the client gives up."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.stdio_server import ATHENA_MCP, INITIALIZE, free_port


def fifo(folder: Path) -> Path:
    path = folder / "pipe.db"
    os.mkfifo(path)
    return path


def text_behind_a_link(folder: Path) -> Path:
    (folder / "notes.txt").write_text("not a database at all\n")
    (folder / "link.db").symlink_to(folder / "notes.txt")
    return folder / "link.db"


def directory(folder: Path) -> Path:
    (folder / "dir.db").mkdir()
    return folder / "dir.db"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (fifo, "it is a FIFO (named pipe), not a database file"),
        (text_behind_a_link, "it is not an SQLite database (it holds something else)"),
        (directory, "it is a directory, not a database file"),
    ],
)
async def test_a_database_that_cannot_be_opened_is_one_line_at_once(
    tmp_path: Path, make: Callable[[Path], Path], reason: str
):
    db = make(tmp_path)
    process = await asyncio.create_subprocess_exec(
        ATHENA_MCP,
        *("--db", str(db)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
    await process.stdin.drain()
    try:
        # stdin stays open: the server must not wait for the client to close it.
        async with asyncio.timeout(60):
            stderr = await process.stderr.read()
            await process.wait()
    finally:
        process.stdin.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1 and "Traceback" not in stderr.decode()
    assert stderr.decode().strip().splitlines()[-1] == (
        f"athena-mcp: Cannot open the database {db}: {reason}. Choose another with --db or ATHENA_DB."
    )


@pytest.mark.slow
async def test_over_http_too_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path):
    db = text_behind_a_link(tmp_path)
    process = await asyncio.create_subprocess_exec(
        ATHENA_MCP,
        *("--transport", "http", "--port", str(free_port()), "--db", str(db)),
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 1 and "Traceback" not in stderr.decode()
    assert "it is not an SQLite database" in stderr.decode().strip().splitlines()[-1]
