"""`athena-mcp import`: an export taken into a store in one transaction, whole or not at all.

Records keep their ids. A record whose key the store already holds is skipped when the row there
is the same (so importing a file twice adds nothing) and refuses the import when it differs: this
format restores and moves stores; it does not merge two stores that numbered their rows apart.
References to rows that are neither in the file nor in the store (a partial export) are cleared
where the column may be empty and refuse the import where it may not. The import itself appears in
the audit trail (tool `import`), and its memories are queued for vectors.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from athena_mcp.caller import Caller, acting_as, reset_caller
from athena_mcp.errors import InvalidInput
from athena_mcp.exchange.format import checked_header, checked_record
from athena_mcp.settings import Settings
from athena_mcp.store import exchange, graph, memories, vectors
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.driver import sqlite_module
from athena_mcp.store.exchange import RECORD_TYPES, RECORD_TYPES_BY_NAME, Column, RecordType
from athena_mcp.store.migrations import migrate


@dataclass
class ImportSummary:
    added: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)
    cleared: int = 0  # references to rows the file and the store lack, set to null
    queued: int = 0  # memories waiting for their vectors
    seconds: float = 0.0

    def describe(self) -> str:
        detail = ", ".join(f"{name} {count}" for name, count in self.added.items())
        parts = [f"added {sum(self.added.values())} records{f' ({detail})' if detail else ''}"]
        parts.append(f"{sum(self.present.values())} already here")
        if self.cleared:
            parts.append(f"{self.cleared} references to records in neither the file nor this store cleared")
        return f"imported in {self.seconds:.1f} s: " + "; ".join(parts)


class _Writer:
    """Takes checked records one at a time inside the import's transaction."""

    def __init__(self, tx: Transaction, columns_by_type: dict[str, list[Column]]) -> None:
        self.tx = tx
        self.columns_by_type = columns_by_type
        self.summary = ImportSummary()
        self.order = {record_type.name: position for position, record_type in enumerate(RECORD_TYPES)}
        self.last_type: RecordType | None = None
        self.keys: dict[str, set[tuple[Any, ...]]] = {}
        self.lines: dict[tuple[str, int], int] = {}  # (table, rowid) → line, for the reference check
        self.memory_ids: list[int] = []
        self.references: dict[tuple[str, str], str] = {}  # nullable (table, column) → table referred to

    async def take(self, number: int, record_type: RecordType, record: dict[str, Any]) -> None:
        if self.last_type is not None and self.order[record_type.name] < self.order[self.last_type.name]:
            raise InvalidInput(
                f"line {number}: a {record_type.name} record after {self.last_type.name} records; records "
                "come in the order of their types, as `athena-mcp export` writes them"
            )
        self.last_type = record_type
        # checked_record made sure every key column is there and not null.
        key = [column.name for column in self.columns_by_type[record_type.name] if column.key]
        if record_type.name not in self.keys:
            self.keys[record_type.name] = await exchange.existing_keys(self.tx, record_type, key)
        values = tuple(record[column] for column in key)
        if values in self.keys[record_type.name]:
            if record_type.renumbered:
                if await exchange.identical_exists(self.tx, record_type, record):
                    self.summary.present[record_type.name] += 1
                else:  # its id went to a row of this store's own: it takes another
                    await exchange.insert_renumbered(self.tx, record_type, record)
                    self.summary.added[record_type.name] += 1
                return
            await self._check_held(number, record_type, record, dict(zip(key, values, strict=True)))
            self.summary.present[record_type.name] += 1
            return
        try:
            rowid = await exchange.insert(self.tx, record_type, record)
        except sqlite_module().IntegrityError as exc:
            raise InvalidInput(f"line {number}: {record_type.name} refused by the store: {exc}") from None
        self.keys[record_type.name].add(values)
        self.lines[(record_type.table, rowid)] = number
        self.summary.added[record_type.name] += 1
        if record_type.table == "memories":
            self.memory_ids.append(int(record["id"]))

    async def _check_held(
        self, number: int, record_type: RecordType, record: dict[str, Any], key: dict[str, Any]
    ) -> None:
        """The row this store holds at the record's key is the record, or the record with references
        an earlier import cleared (they pointed outside a partial export): those are set again
        where what they refer to is here now. Anything else refuses the import."""
        held = await exchange.existing_row(self.tx, record_type, record, list(key))
        assert held is not None  # its key was read in this transaction
        differing = [name for name in record if held[name] != record[name]]
        cleared = [
            name for name in differing if held[name] is None and (record_type.table, name) in self.references
        ]
        if len(cleared) < len(differing):
            raise InvalidInput(
                f"line {number}: this store already holds a different {record_type.name} at "
                f"{', '.join(f'{c}={v!r}' for c, v in key.items())}; an export imports into a new "
                "store, or into the one it came from (run `athena-mcp import` with another --db)"
            )
        for name in cleared:
            if await exchange.has_row(self.tx, self.references[(record_type.table, name)], record[name]):
                await exchange.set_column(self.tx, record_type, key, name, record[name])

    async def finish(self) -> ImportSummary:
        tables = {RECORD_TYPES_BY_NAME[name].table for name in self.summary.added}
        for reference in await exchange.broken_references(self.tx, sorted(tables)):
            if (reference.table, reference.column) in self.references and reference.rowid is not None:
                await exchange.clear_reference(self.tx, reference)
                self.summary.cleared += 1
                continue
            line = self.lines.get((reference.table, reference.rowid or 0))
            raise InvalidInput(
                f"{f'line {line}: ' if line else ''}a {reference.table} row refers through "
                f"'{reference.column}' to a {reference.parent} row that is in neither the file nor this store"
            )
        if self.memory_ids:
            await memories.refresh_preceding(self.tx, self.memory_ids)
            await vectors.enqueue(self.tx, self.memory_ids)
            self.summary.queued = len(self.memory_ids)
        if "graph_entity" in self.summary.added:
            await graph.rebuild_search(self.tx)
        return self.summary


async def import_lines(database: Database, lines: Iterable[bytes]) -> ImportSummary:
    """Take an export's lines into `database`, all in one transaction; InvalidInput naming the line
    and nothing written if any line is bad."""
    async with database.transaction() as tx:
        # Checked once all is written: an entity may name the one it was merged into, written later.
        await tx.execute("PRAGMA defer_foreign_keys = ON")
        row = await tx.fetchone("SELECT max(version) FROM schema_migrations")
        schema_version = int(row[0]) if row else 0
        writer = _Writer(tx, await exchange.table_columns(tx))
        writer.references = await exchange.nullable_references(
            tx,
            {
                record_type.table: {c.name for c in writer.columns_by_type[record_type.name] if c.nullable}
                for record_type in RECORD_TYPES
            },
        )
        header_seen = False
        for number, raw in enumerate(lines, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(f"line {number}: not UTF-8 text") from None
            if not text.strip():
                continue
            if not header_seen:
                checked_header(number, text, schema_version)
                header_seen = True
                continue
            record_type, record = checked_record(number, text, writer.columns_by_type)
            await writer.take(number, record_type, record)
        if not header_seen:
            raise InvalidInput("the file is empty: an export starts with its header line")
        return await writer.finish()


async def import_file(settings: Settings, source: BinaryIO) -> ImportSummary:
    """The command's import, as the command line's caller; InvalidInput says nothing was written."""
    started = time.perf_counter()
    importing = acting_as(Caller(transport="cli", tool="import", origin="imported"))
    try:
        async with Database.open(settings.db, busy_timeout=settings.busy_timeout) as database:
            await migrate(database)
            try:
                summary = await import_lines(database, source)
            except InvalidInput as exc:
                raise InvalidInput(f"import refused, nothing written: {exc}") from None
    finally:
        reset_caller(importing)
    summary.seconds = time.perf_counter() - started
    return summary


def opened(path: Path) -> BinaryIO:
    return sys.stdin.buffer if str(path) == "-" else path.open("rb")
