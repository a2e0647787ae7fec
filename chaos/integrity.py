"""The database file checked directly, while no server has it open: SQLite's own checks, the FTS5
indexes against their tables, and the mirrors that must agree with the canonical rows.

This is the harness reading the file from outside, as an operator would after a crash; the
server's own reads are checked through MCP by each scenario.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from athena_mcp.store.driver import driver_errors, load_vector_extension, sqlite_module

FTS_TABLES = ("memories_fts", "procedures_fts", "graph_fts")
# Each query counts rows that break an invariant a half-finished write would break.
CONSISTENCY = {
    "memory tags disagree with memory_tags": """
        SELECT count(*) FROM memories m
        WHERE json_array_length(m.tags) != (SELECT count(*) FROM memory_tags t WHERE t.memory_id = m.id)""",
    "active entity without its search row": """
        SELECT count(*) FROM graph_entities e
        WHERE e.status = 'active' AND NOT EXISTS (SELECT 1 FROM graph_fts f WHERE f.rowid = e.id)""",
    "search row of an entity that is not active": """
        SELECT count(*) FROM graph_fts f
        WHERE NOT EXISTS (SELECT 1 FROM graph_entities e WHERE e.id = f.rowid AND e.status = 'active')""",
    "merged entity without its merge record": """
        SELECT count(*) FROM graph_entities e
        WHERE e.status = 'merged' AND NOT EXISTS (
            SELECT 1 FROM graph_merges g WHERE g.absorbed_id = e.id AND g.unmerged_at IS NULL)""",
}


@contextlib.contextmanager
def read_only(db: Path) -> Iterator[Any]:
    """A read-only connection to the file for the block: for reading back what a run stored."""
    connection = sqlite_module().connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def check_file(db: Path) -> list[str]:
    """Every failed check, described; an empty list means the file is sound."""
    failures: list[str] = []
    connection = sqlite_module().connect(str(db))
    try:
        load_vector_extension(connection)
        result = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            failures.append(f"integrity_check: {'; '.join(result[:5])}")
        foreign = connection.execute("PRAGMA foreign_key_check").fetchall()
        if foreign:
            failures.append(f"foreign_key_check: {len(foreign)} rows, first {tuple(foreign[0])}")
        for table in FTS_TABLES:
            try:
                connection.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            except driver_errors()[1] as exc:
                failures.append(f"{table} integrity-check: {exc}")
        for what, sql in CONSISTENCY.items():
            count = connection.execute(sql).fetchone()[0]
            if count:
                failures.append(f"{what}: {count} rows")
    finally:
        connection.close()
    return failures
