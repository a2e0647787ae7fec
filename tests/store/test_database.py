"""The write path: transactions are all-or-nothing, faults roll back, errors are actionable."""

from __future__ import annotations

import asyncio

import pytest

from athena_mcp.errors import StoreFault, StoreFull, StoreUnavailable
from athena_mcp.memory.semantic import FactDraft
from athena_mcp.store.database import Database
from athena_mcp.store.driver import ResultCode, driver_error, driver_errors
from athena_mcp.store.migrations import known_migrations, migrate, split_statements
from tests.conftest import call, call_error, open_client, services_for


class InjectedFault(Exception):
    pass


INSERT_MEMORY = (
    "INSERT INTO memories (system, namespace, kind, content, content_hash, occurred_at, created_at, "
    "updated_at) VALUES ('semantic', 'n', 'fact', 'x', 'h', 0, 0, 0)"
)


# A fault of our own passes through as it is, and so does a driver error without SQLite's code for
# it, whatever its message says; the driver's own I/O error becomes a clear StoreFault.
@pytest.mark.parametrize(
    "fault, raised, message",
    [
        (lambda: InjectedFault("disk I/O error"), InjectedFault, "disk I/O error"),
        (lambda: driver_errors()[1]("disk I/O error"), driver_errors()[1], "^disk I/O error$"),
        (
            lambda: driver_error(ResultCode.IOERR, "disk I/O error"),
            StoreFault,
            r"disk I/O error.*Retry the call",
        ),
    ],
    ids=["injected", "uncoded driver error", "driver I/O error"],
)
async def test_a_fault_mid_transaction_rolls_everything_back(tmp_path, fault, raised, message):
    async with Database.open(tmp_path / "a.db") as db:
        await migrate(db)
        seen = []

        def fail_on_second_insert(sql: str) -> None:
            if sql.startswith("INSERT INTO memory_tags"):
                seen.append(sql)
                raise fault()

        db.statement_hook = fail_on_second_insert
        with pytest.raises(raised, match=message):
            async with db.transaction() as tx:
                await tx.execute(INSERT_MEMORY)
                await tx.executemany("INSERT INTO memory_tags (memory_id, tag) VALUES (?, ?)", [(1, "t")])
        db.statement_hook = None
        assert seen
        assert (await db.fetchone("SELECT count(*) FROM memories"))[0] == 0
        async with db.transaction() as tx:  # the next write works
            await tx.execute("INSERT INTO store_meta (key, value) VALUES ('k', 'v')")
            await tx.execute(INSERT_MEMORY)
        assert (await db.fetchone("SELECT value FROM store_meta WHERE key = 'k'"))[0] == "v"
        assert (await db.fetchone("SELECT count(*) FROM memories"))[0] == 1


async def test_a_write_hit_by_a_storage_fault_leaves_nothing_and_the_next_write_works(settings, minilm):
    async with services_for(settings, minilm) as services:

        def fail_tags(sql: str) -> None:
            if sql.startswith("INSERT OR IGNORE INTO memory_tags"):
                raise InjectedFault("simulated I/O error")

        services.database.statement_hook = fail_tags
        with pytest.raises(InjectedFault):
            await services.semantic.remember(draft("Half-written facts must not exist", tags=("t",)))
        services.database.statement_hook = None
        assert (await services.database.fetchone("SELECT count(*) FROM memories"))[0] == 0
        assert (await services.database.fetchone("SELECT count(*) FROM memory_vectors"))[0] == 0
        stored = await services.semantic.remember(draft("Half-written facts must not exist", tags=("t",)))
        assert stored.status == "stored"


@pytest.mark.parametrize("failed_rollbacks", [1, 2])
async def test_a_failed_rollback_is_finished_before_the_next_write_and_keeps_nothing(
    settings, minilm, failed_rollbacks
):
    async with services_for(settings, minilm) as services:
        failures = iter(["simulated I/O error"] + ["simulated I/O error on rollback"] * failed_rollbacks)

        def fail_tags_then_rollback(sql: str) -> None:
            failing = sql.startswith(("INSERT OR IGNORE INTO memory_tags", "ROLLBACK"))
            if failing and (failure := next(failures, None)) is not None:
                raise InjectedFault(failure)

        services.database.statement_hook = fail_tags_then_rollback
        with pytest.raises(InjectedFault, match=r"simulated I/O error$"):
            await services.semantic.remember(draft("Half-written facts must not exist", tags=("t",)))
        if failed_rollbacks == 2:  # the next write's attempt to end the open transaction fails too
            with pytest.raises(StoreFault, match="failed to end an earlier failed write"):
                await services.semantic.remember(draft("Refused, clearly", tags=("t",)))
        stored = await services.semantic.remember(draft("The next write goes through", tags=("t",)))
        assert stored.status == "stored"
        rows = await services.database.fetchall("SELECT content FROM memories")
        assert [row[0] for row in rows] == ["The next write goes through"]


async def test_concurrent_writes_from_one_process_never_interleave(settings, minilm):
    async with open_client(settings, minilm) as client:
        results = await asyncio.gather(
            *[
                client.call_tool(
                    "record_events",
                    {
                        "events": [
                            {"content": f"batch {b} event {e}", "session_id": f"b{b}"} for e in range(5)
                        ]
                    },
                )
                for b in range(8)
            ]
        )
        assert not any(r.is_error for r in results)
        for b in range(8):
            events = (await call(client, "timeline", session_id=f"b{b}"))["events"]
            ids = [e["id"] for e in events]
            assert ids == list(range(ids[0], ids[0] + 5)), "a batch's rows were interleaved with another's"


async def test_a_full_database_refuses_writes_clearly_keeps_reads_and_recovers(settings, minilm):
    async with services_for(settings, minilm) as services:
        first = await services.semantic.remember(draft("Stored before the disk filled"))
        database = services.database
        pages = (await database.fetchone("PRAGMA page_count"))[0]
        async with database.transaction() as tx:
            await tx.execute(f"PRAGMA max_page_count = {pages + 1}")
        big = "x" * 15_000
        with pytest.raises(StoreFull, match="Reads still work"):
            for n in range(20):
                await services.semantic.remember(draft(f"filler {n} {big}"))
        row = await database.fetchone("SELECT content FROM memories WHERE id = ?", (first.id,))
        assert row[0] == "Stored before the disk filled"
        assert (await database.fetchone("PRAGMA integrity_check"))[0] == "ok"
        async with database.transaction() as tx:
            await tx.execute("PRAGMA max_page_count = 1073741823")
        assert (await services.semantic.remember(draft("Space is back"))).status == "stored"


def draft(content: str, tags: tuple[str, ...] = ()) -> FactDraft:
    return FactDraft(
        content=content,
        kind="fact",
        namespace="default",
        tags=tags,
        importance=0.5,
        source=None,
        occurred_at=None,
    )


def test_migrations_split_triggers_as_single_statements():
    statements = split_statements(
        "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  INSERT INTO a VALUES (1);\n  INSERT INTO a VALUES (2);\nEND;\n-- done\n"
    )
    assert len(statements) == 2 and statements[1].endswith("END;")


async def test_migrations_apply_once_and_are_recorded(tmp_path):
    async with Database.open(tmp_path / "a.db") as db:
        assert await migrate(db) == known_migrations()[-1].version
        await migrate(db)
        rows = await db.fetchall("SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == [m.version for m in known_migrations()]


async def test_a_database_from_a_newer_release_is_refused(tmp_path):
    async with Database.open(tmp_path / "a.db") as db:
        await migrate(db)
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 0)")
    async with Database.open(tmp_path / "a.db") as db:
        with pytest.raises(StoreUnavailable, match="newer athena-mcp"):
            await migrate(db)


async def test_an_unusable_database_path_is_reported_with_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="--db"):
        async with Database.open(blocker / "sub" / "a.db"):
            pass


async def test_sql_errors_never_reach_the_client(settings, minilm):
    async with open_client(settings, minilm) as client:
        message = await call_error(client, "get", id=424242)
        assert "SELECT" not in message and "sqlite" not in message.lower()


async def test_a_write_cancelled_while_waiting_for_another_process_leaves_no_open_transaction(tmp_path):
    import pysqlite3.dbapi2 as sqlite3

    path = tmp_path / "a.db"
    async with Database.open(path, busy_timeout=5) as db:
        await migrate(db)
        other = sqlite3.connect(str(path), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        async def write() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO store_meta (key, value) VALUES ('a', '1')")

        task = asyncio.create_task(write())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        other.execute("ROLLBACK")  # the other process lets go; the queued BEGIN now completes

        async with db.transaction() as tx:  # and must have been rolled back, not left open
            await tx.execute("INSERT INTO store_meta (key, value) VALUES ('b', '2')")
        other.execute("BEGIN IMMEDIATE")  # the lock is free again for others
        other.execute("ROLLBACK")
        other.close()
        rows = await db.fetchall("SELECT key FROM store_meta WHERE key IN ('a', 'b')")
        assert [row[0] for row in rows] == ["b"]
