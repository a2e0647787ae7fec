"""Ordered schema migrations: `schema/NNNN_name.sql`, each applied once in its own transaction.

The applied versions are recorded in `schema_migrations`. Several processes may start at once:
each migration re-checks inside its write transaction, so a migration never runs twice. A database
that records a version this code does not know was made by a newer release and is refused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from athena_mcp.errors import StoreUnavailable
from athena_mcp.store.database import Database
from athena_mcp.store.driver import sqlite_module

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def schema_dir() -> Path:
    """The schema folder: inside the installed wheel, or at the top of a source checkout."""
    packaged = Path(str(resources.files("athena_mcp"))) / "schema"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schema"


@cache
def known_migrations() -> tuple[Migration, ...]:
    folder = schema_dir()
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise StoreUnavailable(f"Unexpected file in the schema folder: {path.name} (want NNNN_name.sql)")
        migrations.append(Migration(int(match[1]), match[2], split_statements(path.read_text("utf-8"))))
    if not migrations:
        raise StoreUnavailable(f"No schema migrations found in {folder}; the installation is incomplete.")
    return tuple(migrations)


def split_statements(script: str) -> tuple[str, ...]:
    """Split a SQL script into complete statements (triggers' inner semicolons included)."""
    complete = sqlite_module().complete_statement
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if complete(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise StoreUnavailable("A schema migration ends with an incomplete SQL statement.")
    return tuple(statements)


async def migrate(database: Database) -> int:
    """Apply every pending migration, all in one transaction (so the schema moves from one release's
    to the next whole, and a first start pays one commit, not one per migration); returns the
    schema version the database is now at."""
    migrations = known_migrations()
    newest_known = migrations[-1].version
    async with database.transaction() as tx:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = {row[0] for row in await tx.fetchall("SELECT version FROM schema_migrations")}
        if applied and max(applied) > newest_known:
            raise StoreUnavailable(
                f"The database {database.path} was written by a newer athena-mcp (schema version "
                f"{max(applied)}, this release knows up to {newest_known}). Upgrade athena-mcp, or use "
                "another --db."
            )
        for migration in (m for m in migrations if m.version not in applied):
            for statement in migration.statements:
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
    database.records_writers = True
    return newest_known
