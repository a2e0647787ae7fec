"""SQLite's errors are told apart by the driver's result code, never by words in the message: storage
faults stay clear operational errors; a bug in our SQL stays a bug, logged and never shown."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import pysqlite3.dbapi2 as sqlite3
import pytest
from mcp import Client

from athena_mcp.errors import AthenaError, StoreBusy, StoreFault, StoreFull
from athena_mcp.server import build_server
from athena_mcp.services import Services
from athena_mcp.store.database import Database
from athena_mcp.store.driver import ResultCode, driver_errors, result_code
from athena_mcp.store.migrations import migrate
from chaos.embedder import HashingEmbedder
from tests.conftest import call, call_error

FULL = (
    "The memory database cannot grow (disk or size limit full). Reads still work; "
    "free space and retry the write."
)
BUSY = (
    "The memory database is busy: another process held its write lock past the "
    "busy timeout. Retry the call in a moment."
)


@contextlib.asynccontextmanager
async def open_db(tmp_path, **options) -> AsyncIterator[Database]:
    async with Database.open(tmp_path / "a.db", **options) as db:
        await migrate(db)
        yield db


# Each message names a storage fault ("full", "readonly") or none, but only as words of our own SQL.
@pytest.mark.parametrize(
    "sql, params, message",
    [
        ("SELECT fullname FROM memories", (), "no such column: fullname"),
        ("SELECT * FROM memories readonly readonly", (), 'near "readonly": syntax error'),
        ("SELECT 1 WHERE 1 = ?", (1, 2), "Incorrect number of bindings"),
    ],
    ids=["no such column: fullname", 'near "readonly"', "bindings"],
)
async def test_a_bug_in_our_sql_is_raised_as_the_drivers_own_error_never_as_a_storage_fault(
    tmp_path, sql, params, message
):
    async with open_db(tmp_path) as db:
        with pytest.raises(driver_errors()[0], match=message) as read:
            await db.fetchall(sql, params)
        with pytest.raises(driver_errors()[0], match=message) as written:
            async with db.transaction() as tx:
                await tx.execute(sql, params)
        for raised in (read.value, written.value):
            assert not isinstance(raised, AthenaError)
            assert result_code(raised) in (ResultCode.ERROR, None)
        async with db.transaction() as tx:  # the failed write was rolled back: the next one works
            await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', 'v')")


async def test_a_database_at_its_size_limit_is_a_full_store_with_the_same_message(tmp_path):
    async with open_db(tmp_path) as db:
        pages = (await db.fetchone("PRAGMA page_count"))[0]
        async with db.transaction() as tx:
            await tx.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreFull) as full:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', zeroblob(100000))")
        assert str(full.value) == FULL
        assert result_code(full.value.__cause__) == ResultCode.FULL


async def test_a_read_only_database_refuses_a_write_as_a_storage_fault(tmp_path):
    async with open_db(tmp_path) as db:
        with pytest.raises(StoreFault, match=r"^The memory database's storage failed") as refused:
            async with db.transaction() as tx:
                await tx.execute("PRAGMA query_only = ON")  # SQLite now answers as for a read-only file
                await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', 'v')")
        assert "(attempt to write a readonly database)" in str(refused.value)
        assert result_code(refused.value.__cause__) == ResultCode.READONLY


async def test_a_write_lock_held_by_another_process_is_a_busy_store_and_nothing_is_left_open(
    tmp_path, caplog
):
    async with open_db(tmp_path, busy_timeout=0.05) as db:
        other = sqlite3.connect(str(tmp_path / "a.db"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreBusy) as busy:
                async with db.transaction() as tx:
                    await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', 'v')")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert str(busy.value) == BUSY
        assert result_code(busy.value.__cause__) == ResultCode.BUSY
        # BEGIN never began, so the ROLLBACK after it found no transaction: expected, not logged.
        assert not [r for r in caplog.records if r.getMessage() == "rollback failed"]
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', 'v')")


async def test_an_extended_result_code_is_classified_by_its_primary_code(tmp_path):
    failure = driver_errors()[1]("disk I/O error")
    failure.sqlite_errorcode = ResultCode.IOERR | (3 << 8)  # SQLITE_IOERR_WRITE

    def fail(sql: str) -> None:
        raise failure

    async with open_db(tmp_path) as db:
        db.statement_hook = fail
        with pytest.raises(StoreFault, match=r"\(disk I/O error\)"):
            await db.fetchall("SELECT 1")


class SqlBugOnTags:
    """A trigger whose SQL names a missing column: every memory stored with tags hits a real SQL error."""

    @contextlib.asynccontextmanager
    async def around(self, services: Services) -> AsyncIterator[None]:
        async with services.database.transaction() as tx:
            await tx.execute(
                "CREATE TRIGGER sql_bug AFTER INSERT ON memory_tags BEGIN SELECT fullname FROM memories; END"
            )
        yield


async def test_a_bug_in_our_sql_reaches_the_client_as_a_bare_error_and_the_log_with_its_trace(
    settings, caplog
):
    caplog.set_level(logging.ERROR)
    bug = SqlBugOnTags()
    async with Client(build_server(settings, HashingEmbedder(), around=bug.around)) as client:
        text = await call_error(client, "remember", content="The staging key rotates weekly", tags=["ops"])
        assert text == "Error executing tool remember"  # not "cannot grow", and no SQL
        assert (await call(client, "list_memories"))["items"] == []  # rolled back; the server serves on
    crashes = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(crashes) == 1
    chain, exc = [], crashes[0].exc_info[1]
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__
    assert any(
        isinstance(e, sqlite3.OperationalError) and str(e) == "no such column: fullname" for e in chain
    )
    assert not any(isinstance(e, AthenaError) for e in chain)
