"""The lexical index reads each event beside the two active events before it in its session."""

from __future__ import annotations

from pathlib import Path

from athena_mcp.store import compaction, fts, health, memories
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory
from athena_mcp.store.mentions import texts_with_words
from athena_mcp.store.migrations import known_migrations, migrate
from tests.conftest import call, open_client, services_for

ROAD_TRIP = [
    "Melanie said the road trip to the coast last weekend was insane.",
    "Caroline asked whether the kids enjoyed the hike afterwards.",
    "Melanie said yes, we did it yesterday and it was a nice way to relax.",
    "Caroline said her painting class starts in June.",
]


def event(
    content: str, *, namespace: str = "default", session: str | None = "chat", at: float = 0.0
) -> NewMemory:
    return NewMemory("episodic", namespace, "message", content, session_id=session, occurred_at=at)


async def lexical(database: Database, query: str, namespace: str = "default") -> list[int]:
    memory_filter = MemoryFilter(namespaces=(namespace,))
    found = await fts.lexical_search(database, query, memory_filter, 10, fts.TermStatistics())
    return [memory_id for memory_id, _ in found]


async def preceding(database: Database, memory_id: int) -> str | None:
    row = await database.fetchone("SELECT preceding FROM memories WHERE id = ?", (memory_id,))
    assert row is not None
    return row[0]


async def test_the_reply_to_a_question_split_over_turns_is_recalled_first(settings, minilm):
    """ "When do they leave for the road trip with the kids?" is answered by a turn that says only
    "leave": the two turns before it hold the rest of the question's words."""
    planning = [
        "Melanie said we finally booked the road trip to the coast.",
        "Caroline asked whether the kids are coming along.",
        "Melanie said yes, all of them; we leave on Saturday morning.",
    ]
    elsewhere = [
        "Caroline said she will leave work early on Friday.",
        "Melanie said the kids loved the museum.",
        "Caroline said her last road trip was years ago.",
        "Melanie said the trip to the dentist went fine.",
    ]
    async with open_client(settings, minilm) as client:
        ids = (
            await call(
                client,
                "record_events",
                events=[{"content": text, "session_id": "plans"} for text in planning]
                + [{"content": text, "session_id": f"other-{n}"} for n, text in enumerate(elsewhere)],
            )
        )["ids"]
        result = await call(
            client, "recall_events", query="When do they leave for the road trip with the kids?"
        )
        assert result["results"][0]["id"] == ids[2]


async def test_an_event_reads_the_two_active_events_before_it_in_its_session_and_namespace(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(
                tx,
                [event(text, at=float(n)) for n, text in enumerate(ROAD_TRIP)]
                + [
                    event("Other namespace, same session id: the coast", namespace="work", at=0.5),
                    event("Another session of the same namespace: the coast", session="other", at=0.5),
                    event("No session at all: the coast", session=None, at=0.5),
                ],
            )
        assert await preceding(services.database, ids[0]) is None
        assert await preceding(services.database, ids[1]) == ROAD_TRIP[0]
        # Both before it, nearest first; never a third, another session's or another namespace's.
        assert await preceding(services.database, ids[3]) == f"{ROAD_TRIP[2]}\n{ROAD_TRIP[1]}"
        assert [await preceding(services.database, memory_id) for memory_id in ids[4:]] == [None] * 3
        # "coast" is said in the first turn only: the next two match it through the index, weaker.
        found = await lexical(services.database, "coast")
        assert [memory_id for memory_id in found if memory_id in ids[:4]] == ids[:3]
        assert set(found) - set(ids[:4]) == {ids[5], ids[6]}  # each by its own text
        assert await lexical(services.database, "coast", namespace="work") == [ids[4]]


async def test_a_forgotten_event_leaves_the_text_of_those_after_it_and_comes_back_with_it(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(
                tx, [event(text, at=float(n)) for n, text in enumerate(ROAD_TRIP)]
            )
        await services.semantic.forget("default", ids[0], "said by mistake")
        assert await lexical(services.database, "coast") == []
        assert await preceding(services.database, ids[1]) is None
        await services.semantic.restore("default", ids[0])
        assert await lexical(services.database, "coast") == ids[:3]
        assert await preceding(services.database, ids[2]) == f"{ROAD_TRIP[1]}\n{ROAD_TRIP[0]}"


async def test_an_event_recorded_late_takes_its_place_in_the_text_of_the_events_after_it(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            _, third = await memories.insert_memories(tx, [event("first", at=1.0), event("third", at=3.0)])
        async with services.database.transaction() as tx:
            (second,) = await memories.insert_memories(tx, [event("second", at=2.0)])
        assert await preceding(services.database, second) == "first"
        assert await preceding(services.database, third) == "second\nfirst"


async def test_a_name_in_the_turn_before_is_no_mention_by_this_one(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(
                tx, [event("Ask Priya Raman"), event("Sure, tomorrow", at=1.0)]
            )
            found = await memories_mentioning(tx, ["Priya", "Raman"])
        assert found == [ids[0]]


async def memories_mentioning(tx: Transaction, words: list[str]) -> list[int]:
    return [text.memory_id for text in await texts_with_words(tx, "default", words)]


async def test_the_migration_gives_existing_events_their_preceding_text(tmp_path: Path):
    """A database made before the preceding-text column: the migration fills it and the index."""
    before, added = known_migrations()[:-1], known_migrations()[-1]
    assert added.name == "preceding_context"
    async with Database.open(tmp_path / "old.db") as database:
        async with database.transaction() as tx:
            await tx.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at REAL NOT NULL)"
            )
            for migration in before:
                for statement in migration.statements:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, 0)", (migration.version, migration.name)
                )
            for n, text in enumerate(ROAD_TRIP):
                await tx.execute(
                    "INSERT INTO memories (system, namespace, kind, content, content_hash, session_id, "
                    "occurred_at, created_at, updated_at) VALUES ('episodic', 'default', 'message', ?, ?, "
                    "'chat', ?, 0, 0)",
                    (text, str(n), float(n)),
                )
        assert await migrate(database) == added.version
        assert await preceding(database, 3) == f"{ROAD_TRIP[1]}\n{ROAD_TRIP[0]}"
        assert await lexical(database, "coast") == [1, 2, 3]


async def test_a_word_said_only_in_the_turns_before_counts_less_than_said_in_the_event(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(
                tx, [event(text, at=float(n)) for n, text in enumerate(ROAD_TRIP)]
            )
        found = dict(
            await fts.lexical_search(
                services.database, "coast", MemoryFilter(namespaces=("default",)), 10, fts.TermStatistics()
            )
        )
        assert found[ids[0]] > found[ids[1]] > 0 and found[ids[2]] > 0


async def test_a_purged_event_leaves_none_of_its_words_in_any_other(settings, minilm):
    """A forgotten event holds no one's text: when the event before it is purged later, nothing of
    that event is left in the store."""
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            secret, forgotten, _ = await memories.insert_memories(
                tx, [event("my password is hunter2", at=0.0), event("noted", at=1.0), event("thanks", at=2.0)]
            )
            (digest,) = await memories.insert_memories(
                tx, [NewMemory("semantic", "default", "episode", "a digest")]
            )
        await services.semantic.forget("default", forgotten, "not wanted")
        assert await preceding(services.database, forgotten) is None
        async with services.database.transaction() as tx:
            assert await compaction.compact(tx, [(secret, digest, 0.1)], now=10.0, restorable_until=11.0)
            await compaction.purge_expired(tx, now=12.0, namespace=None)
        rows = await services.database.fetchall("SELECT id FROM memories WHERE preceding LIKE '%hunter2%'")
        assert rows == []
        assert (
            await services.database.fetchall(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'hunter2'"
            )
            == []
        )


async def test_doctor_repair_rebuilds_the_preceding_text(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(
                tx, [event(text, at=float(n)) for n, text in enumerate(ROAD_TRIP)]
            )
            await tx.execute("UPDATE memories SET preceding = 'stale words' WHERE id = ?", (ids[2],))
            await health.repair(tx)
        assert await preceding(services.database, ids[2]) == f"{ROAD_TRIP[1]}\n{ROAD_TRIP[0]}"
        assert await lexical(services.database, "stale") == []
