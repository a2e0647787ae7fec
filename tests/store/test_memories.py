"""Memories written in one call get their ids in order, each with its own tags."""

from __future__ import annotations

from athena_mcp.store.database import Database
from athena_mcp.store.memories import NewMemory, get_memories, insert_memories
from athena_mcp.store.migrations import migrate


def note(text: str, tags: tuple[str, ...] = ()) -> NewMemory:
    return NewMemory("episodic", "default", "observation", text, tags=tags)


async def test_a_batch_gets_its_ids_in_order_with_each_memorys_tags(tmp_path):
    async with Database.open(tmp_path / "m.db") as database:
        await migrate(database)
        async with database.transaction() as tx:
            first = await insert_memories(tx, [note("one", ("a",)), note("two"), note("three", ("b", "c"))])
            # The newest row gone: the next ids may reuse its id, and must still be the new rows'.
            await tx.execute("DELETE FROM memories WHERE id = ?", (first[-1],))
            second = await insert_memories(tx, [note("four", ("d",)), note("five")])
        assert first == sorted(first) and second == sorted(second)
        stored = await get_memories(database, [*first[:2], *second])
        assert [stored[i].content for i in [*first[:2], *second]] == ["one", "two", "four", "five"]
        tags = await database.fetchall("SELECT memory_id, tag FROM memory_tags ORDER BY memory_id, tag")
        assert [tuple(row) for row in tags] == [(first[0], "a"), (second[0], "d")]
