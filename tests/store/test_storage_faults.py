"""Storage faults under a call: a clear error, nothing half-written, and the next call works."""

from __future__ import annotations

import pytest

from athena_mcp.errors import StoreFault
from athena_mcp.store.database import Database
from athena_mcp.store.driver import driver_errors
from athena_mcp.store.migrations import migrate

INSERT_MEMORY = (
    "INSERT INTO memories (system, namespace, kind, content, content_hash, occurred_at, created_at, "
    "updated_at) VALUES ('semantic', 'n', 'fact', 'x', 'h', 0, 0, 0)"
)


async def test_a_driver_io_error_mid_transaction_is_a_store_fault_and_rolls_back(tmp_path):
    async with Database.open(tmp_path / "a.db") as db:
        await migrate(db)

        def fail_tags(sql: str) -> None:
            if sql.startswith("INSERT INTO memory_tags"):
                raise driver_errors()[1]("disk I/O error")

        db.statement_hook = fail_tags
        with pytest.raises(StoreFault, match=r"disk I/O error.*Retry the call"):
            async with db.transaction() as tx:
                await tx.execute(INSERT_MEMORY)
                await tx.execute("INSERT INTO memory_tags (memory_id, tag) VALUES (1, 't')")
        db.statement_hook = None
        assert (await db.fetchone("SELECT count(*) FROM memories"))[0] == 0
        async with db.transaction() as tx:
            await tx.execute(INSERT_MEMORY)
        assert (await db.fetchone("SELECT count(*) FROM memories"))[0] == 1
