"""The async façade over one SQLite file, and the single write path.

One writer connection runs every write as `BEGIN IMMEDIATE ... COMMIT` under an asyncio lock,
so concurrent tool calls never interleave inside a transaction; a separate read-only connection
serves reads in parallel (WAL lets readers and the writer proceed together). Other processes on
the same file are kept apart by SQLite's own lock, with a bounded wait. Every statement passes
through one seam, `_before` inside `_translated`, for fault injection and error translation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import anyio

from athena_mcp.caller import current_caller
from athena_mcp.errors import StoreBusy, StoreFault, StoreFull, StoreUnavailable
from athena_mcp.store import files
from athena_mcp.store.audit import CLEAR_WRITER, SET_WRITER, register_functions, writer_params
from athena_mcp.store.driver import (
    ResultCode,
    driver_errors,
    load_vector_extension,
    result_code,
    sqlite_module,
)

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]


class Row(Protocol):
    """The driver's row: indexable by position and by column name, and iterable."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


StatementHook = Callable[[str], None]


class Transaction:
    """Statements run inside one open write transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the last inserted rowid (for INSERTs)."""
        cursor = await self._database._run(self._database._writer, "execute", sql, params)
        return int(cursor.lastrowid or 0)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._database._run(self._database._writer, "executemany", sql, list(rows))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._database._fetch(self._database._writer, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


class Database:
    """One SQLite file opened for the server: use `Database.open(...)` as an async context manager."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        connect_reader: Callable[[], Any],
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._connect_reader = connect_reader
        self._write_lock = asyncio.Lock()
        # Called with each SQL statement before it runs; the chaos harness and tests inject faults here.
        self.statement_hook: StatementHook | None = None
        # Set once the schema has write_context (see migrations): from then on every transaction
        # names its writer for the audit trail and the provenance of new memories.
        self.records_writers = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: Path, *, busy_timeout: float = 30.0, synchronous: str = "full"
    ) -> AsyncIterator[Database]:
        """Open (creating if needed) the database file with WAL, foreign keys and a busy timeout."""
        module = sqlite_module()
        files.prepare(path)
        timeout_ms = int(busy_timeout * 1000)

        def connector(read_only: bool) -> Callable[[], Any]:
            def connect() -> Any:
                connection = module.connect(str(path), isolation_level=None, check_same_thread=False)
                connection.row_factory = module.Row
                load_vector_extension(connection)
                register_functions(connection)
                connection.execute(f"PRAGMA busy_timeout = {timeout_ms}")
                connection.execute("PRAGMA foreign_keys = ON")
                if read_only:
                    connection.execute("PRAGMA query_only = ON")
                else:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
                return connection

            return connect

        async with AsyncExitStack() as stack:
            try:
                writer = await stack.enter_async_context(aiosqlite.Connection(connector(False), 64))
                reader = await stack.enter_async_context(aiosqlite.Connection(connector(True), 64))
            except driver_errors()[0] as exc:
                raise StoreUnavailable(
                    f"Cannot open the database {path}: {exc}. Check the path and its "
                    "permissions, or choose another with --db."
                ) from None
            yield cls(path, writer, reader, connector(True))

    async def set_driver_hook(self, hook: StatementHook | None) -> None:
        """Call `hook` with each statement as the driver starts it, in the driver's own thread (writer
        and shared reader). Unlike `statement_hook` it cannot fail a statement (the driver ignores
        its errors), but a delay there stalls storage as a slow disk does while the event loop
        keeps serving: the chaos harness slows storage here."""
        for connection in (self._writer, self._reader):
            # None clears it, as in sqlite3; aiosqlite's annotation leaves None out.
            await connection.set_trace_callback(hook)  # type: ignore[arg-type]

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read through the read-only connection; never blocks on writers."""
        return await self._fetch(self._reader, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetch_batches(
        self, sql: str, params: Params = (), size: int = 2000
    ) -> AsyncGenerator[list[Row], None]:
        """Read a large result a batch at a time, so it never sits in memory whole.

        On a read connection of its own, opened for the scan: an open cursor holds its snapshot for
        as long as it runs, and every other read on the shared connection would see only that
        snapshot (a write acknowledged meanwhile would look missing). Close the iterator early with
        `contextlib.aclosing`."""
        with _translated():
            self._before(sql)
            async with (
                aiosqlite.Connection(self._connect_reader, 64) as connection,
                connection.execute(sql, params) as cursor,
            ):
                while rows := await cursor.fetchmany(size):
                    yield list(rows)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Do not await unrelated slow work (embedding, network) inside the block: every other
        writer in this process and in other processes waits for it.
        """
        async with self._write_lock:
            if self._writer.in_transaction:
                # The last transaction's ROLLBACK failed (see _rollback), leaving it open with its
                # changes: end it before beginning, or every later BEGIN would fail.
                await self._rollback()
                if self._writer.in_transaction:
                    raise StoreFault(
                        "The memory database's storage failed to end an earlier failed write (its "
                        "ROLLBACK failed); nothing was written. Retry the call; if the error persists, "
                        "the disk or the database file needs attention (see the server log)."
                    )
            try:
                # Inside the try: a caller cancelled while BEGIN waits for another process's lock
                # must still roll back, because the driver's thread completes the BEGIN regardless.
                await self._run(self._writer, "execute", "BEGIN IMMEDIATE", ())
                if self.records_writers:
                    await self._run(self._writer, "execute", SET_WRITER, writer_params(current_caller()))
                yield Transaction(self)
            except BaseException:
                await self._rollback()
                raise
            else:
                # Shielded: a cancelled caller must not leave the transaction half-finished.
                with anyio.CancelScope(shield=True):
                    try:
                        if self.records_writers:
                            # A writer that is not this server (a SQL shell) then shows as unknown.
                            await self._run(self._writer, "execute", CLEAR_WRITER, ())
                        await self._run(self._writer, "execute", "COMMIT", ())
                    except BaseException:
                        await self._rollback()
                        raise

    async def _rollback(self) -> None:
        # Always sent (never guarded by in_transaction, which the event loop may read before a
        # queued BEGIN has run); the driver runs statements in order, so it follows that BEGIN.
        with anyio.CancelScope(shield=True):
            try:
                await self._run(self._writer, "execute", "ROLLBACK", ())
            except Exception as exc:
                # SQLITE_ERROR is what ROLLBACK gives when no transaction is open (BEGIN failed, or
                # SQLite already rolled back on a full disk): a fixed statement has no other one.
                if result_code(exc) != ResultCode.ERROR:
                    # Never mask the original failure with a rollback failure. The transaction
                    # stays open, holding the file's write lock, until this process's next
                    # transaction ends it before it begins.
                    log.exception("rollback failed")

    async def _fetch(self, connection: aiosqlite.Connection, sql: str, params: Params) -> list[Row]:
        with _translated():
            self._before(sql)
            return list(await connection.execute_fetchall(sql, params))

    async def _run(self, connection: aiosqlite.Connection, method: str, sql: str, params: Any) -> Any:
        with _translated():
            self._before(sql)
            return await getattr(connection, method)(sql, params)

    def _before(self, sql: str) -> None:
        # Inside the callers' _translated(): a driver error injected here is translated like a real one.
        if self.statement_hook is not None:
            self.statement_hook(sql)


# A disk or a database file that failed under the call: the storage, not the request, is at fault.
_STORAGE_FAULTS = frozenset(
    {
        ResultCode.IOERR,
        ResultCode.CORRUPT,
        ResultCode.NOTADB,
        ResultCode.READONLY,
        ResultCode.CANTOPEN,
        ResultCode.PERM,
    }
)


@contextmanager
def _translated() -> Iterator[None]:
    """Raise the driver's errors that a caller can act on as AthenaErrors; let every other one (a bug
    in our SQL, an unanticipated constraint, a misused driver) propagate unchanged, as the bug it is."""
    try:
        yield
    except driver_errors()[0] as exc:
        fault = _operational_fault(exc)
        if fault is None:
            raise
        raise fault from exc


def _operational_fault(exc: Exception) -> Exception | None:
    """What a driver error means for the caller, told by SQLite's result code (never by its message,
    which quotes our SQL: `no such column: fullname` is no full disk); None for a programming error."""
    code = result_code(exc)
    if code == ResultCode.BUSY:
        return StoreBusy(
            "The memory database is busy: another process held its write lock past the "
            "busy timeout. Retry the call in a moment."
        )
    if code == ResultCode.FULL:
        return StoreFull(
            "The memory database cannot grow (disk or size limit full). Reads still work; "
            "free space and retry the write."
        )
    if code in _STORAGE_FAULTS:
        return StoreFault(
            f"The memory database's storage failed during this call ({exc}); nothing it was writing "
            "was kept. Retry the call; if the error persists, the disk or the database file needs "
            "attention (see the server log)."
        )
    if code == ResultCode.NOMEM:
        # Drivers raise SQLITE_NOMEM as MemoryError themselves; a coded one is made the same, which
        # the tools report as out of memory.
        return MemoryError(str(exc))
    # SQLITE_LOCKED too: without a shared cache it comes only from a conflict within one of our own
    # connections (a table dropped under an open cursor), never from another process.
    return None
