"""`athena-mcp export`: the store, or the selected part of it, as one consistent JSON Lines file."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from athena_mcp.errors import AthenaError
from athena_mcp.exchange.format import header, json_schema
from athena_mcp.settings import Settings
from athena_mcp.store.database import Database
from athena_mcp.store.driver import plain_connection
from athena_mcp.store.exchange import RECORD_TYPES, Selection, columns, read_records
from athena_mcp.store.migrations import migrate


async def prepared(db: Path, busy_timeout: float) -> None:
    """Bring the store to this build's schema, so that its records are in this build's format."""
    async with Database.open(db, busy_timeout=busy_timeout) as database:
        await migrate(database)


def write_export(db: Path, out: TextIO, selection: Selection) -> Counter[str]:
    """Write the header and every selected record to `out`, all read in one snapshot of `db` (servers
    may keep writing meanwhile); returns how many records of each type were written."""
    written: Counter[str] = Counter()
    with plain_connection(db, read_only=True) as connection:
        connection.execute("BEGIN")
        try:
            version = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
            out.write(json.dumps(header(int(version), selection)) + "\n")
            for record_type, table_columns, rows in read_records(connection, selection):
                names = [column.name for column in table_columns]
                for row in rows:
                    record = {"type": record_type.name, **dict(zip(names, row, strict=True))}
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    written[record_type.name] += 1
        finally:
            connection.execute("COMMIT")
    return written


def current_schema() -> dict[str, Any]:
    """The format's JSON Schema for this build, read off a store made afresh for the purpose."""
    import asyncio
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "schema.db"
        asyncio.run(prepared(scratch, busy_timeout=5.0))
        with plain_connection(scratch, read_only=True) as connection:
            return json_schema(
                {record_type.name: columns(connection, record_type) for record_type in RECORD_TYPES}
            )


def print_schema() -> None:
    print(json.dumps(current_schema(), indent=2))


def export(settings: Settings, target: Path | None, selection: Selection) -> None:
    """The command: to `target` (a new file, complete or absent) or to standard output."""
    import asyncio

    if not settings.db.exists():
        raise AthenaError(f"export: there is no database at {settings.db}; name it with --db")
    asyncio.run(prepared(settings.db, settings.busy_timeout))
    if target is None:
        written = write_export(settings.db, sys.stdout, selection)
    else:
        with _new_private_file(target) as out:
            written = write_export(settings.db, out, selection)
    total = sum(written.values())
    detail = ", ".join(f"{name} {count}" for name, count in written.items())
    print(f"exported {total} records{f' ({detail})' if detail else ''}", file=sys.stderr)


@contextlib.contextmanager
def _new_private_file(target: Path) -> Iterator[TextIO]:
    """`target` written whole or not at all, readable by its owner only (it holds every memory)."""
    if target.exists():
        raise AthenaError(f"export: {target} exists; name a new file (exports are never overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with open(descriptor, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
