"""Entity linking: which names each memory is linked to, kept right across writes, graph changes,
purges, restarts and several processes on one file."""

from __future__ import annotations

import asyncio

from athena_mcp.memory.entity_linking import NameMatcher, linked_names
from athena_mcp.memory.graph import NewEntity
from athena_mcp.memory.semantic import FactDraft
from athena_mcp.services import Services
from athena_mcp.store import graph, mentions
from athena_mcp.store.database import Database
from athena_mcp.store.memories import FactChanges, NewMemory
from athena_mcp.worker.entity_linker import EntityLinker
from tests.conftest import services_for


async def link_all(linker: EntityLinker) -> None:
    for _ in range(100):
        if not await linker.run_once():
            return
    raise AssertionError("the linker kept finding work")


async def names_of(database: Database, memory_id: int) -> set[str]:
    found = await mentions.names_mentioned(database, [memory_id])
    return set(found[memory_id][1]) if memory_id in found else set()


async def record(services: Services, *texts: str, namespace: str = "default") -> list[int]:
    events = [NewMemory("episodic", namespace, "observation", text) for text in texts]
    return (await services.episodic.record(events)).ids


async def entity(services: Services, *names: str, namespace: str = "default") -> None:
    await services.graph.create_entities(namespace, [NewEntity(name, "thing", ()) for name in names])


async def alias(services: Services, name: str, other: str, namespace: str = "default") -> None:
    async with services.database.transaction() as tx:
        [entity_id] = (await graph.resolve(tx, namespace, [name])).values()
        await tx.execute(
            "INSERT INTO graph_aliases (entity_id, namespace, alias, norm_alias, created_at) "
            "VALUES (?, ?, ?, ?, 0)",
            (entity_id, namespace, other, graph.normalise(other)),
        )
        await graph.bump_revision(tx, namespace)


def test_known_names_match_on_word_bounds_in_any_case():
    matcher = NameMatcher(["postgresql", "new york", "node.js", "al"])
    assert matcher.find("We moved to PostgreSQL in NEW  York; Alice stayed.") == {"postgresql", "new york"}
    assert matcher.find("node.js and node js") == {"node.js"}
    assert matcher.find("Al's car") == {"al"}


def test_capitalised_and_quoted_phrases_are_linked_by_normalised_name():
    names = linked_names('I met Alice  Smith at the "blue door" cafe in Berlin.', NameMatcher([]))
    assert names == {"alice smith", "blue door", "berlin"}


async def test_known_entity_names_and_aliases_are_linked(settings, minilm):
    async with services_for(settings, minilm) as services:
        await entity(services, "PostgreSQL")
        await alias(services, "PostgreSQL", "pg")
        [memory_id] = await record(services, "we moved the db to postgresql, and pg is fast")
        await link_all(services.linker)
        assert await names_of(services.database, memory_id) == {"postgresql", "pg"}


async def test_an_entity_created_later_is_linked_to_earlier_memories(settings, minilm):
    async with services_for(settings, minilm) as services:
        first, other = await record(services, "deploy to staging failed again", "lunch was fine")
        elsewhere = await record(services, "staging is down", namespace="team")
        await link_all(services.linker)
        assert await names_of(services.database, first) == set()
        await entity(services, "Staging")
        await alias(services, "Staging", "lunch")
        await link_all(services.linker)
        assert await names_of(services.database, first) == {"staging"}
        assert await names_of(services.database, other) == {"lunch"}
        assert await names_of(services.database, elsewhere[0]) == set()  # another namespace's graph


async def test_a_name_deleted_and_created_again_is_searched_for_again(settings, minilm):
    async with services_for(settings, minilm) as services:
        await entity(services, "kafka")
        await link_all(services.linker)
        await services.graph.delete_entities("default", ["kafka"])
        await link_all(services.linker)
        [memory_id] = await record(services, "the kafka consumer lags")
        await link_all(services.linker)
        assert await names_of(services.database, memory_id) == set()
        await entity(services, "kafka")
        await link_all(services.linker)
        assert await names_of(services.database, memory_id) == {"kafka"}


async def test_an_edited_fact_is_linked_again(settings, minilm):
    async with services_for(settings, minilm) as services:
        stored = await services.semantic.remember(
            FactDraft("The office is in Berlin now.", "fact", "default", (), 0.5, None, None)
        )
        await link_all(services.linker)
        assert await names_of(services.database, stored.id) == {"berlin"}
        await services.semantic.update(
            "default", stored.id, FactChanges(content="The office moved to Lisbon."), None
        )
        await link_all(services.linker)
        assert await names_of(services.database, stored.id) == {"lisbon"}


async def test_purging_a_memory_removes_its_links(settings, minilm):
    async with services_for(settings, minilm) as services:
        kept, purged = await record(services, "We met Bob in Paris", "We met Bob in Rome")
        await link_all(services.linker)
        async with services.database.transaction() as tx:
            await tx.execute("DELETE FROM memories WHERE id = ?", (purged,))
        assert await names_of(services.database, purged) == set()
        assert await names_of(services.database, kept) == {"bob", "paris"}
        assert await mentions.mention_counts(services.database, "default", ["bob", "rome"]) == {"bob": 1}


async def test_linkers_of_two_processes_link_everything_once(settings, minilm):
    async with services_for(settings, minilm) as services:
        ids = await record(services, *[f"Ticket {n} was closed by Dana in Oslo" for n in range(300)])
        await entity(services, "ticket")
        async with Database.open(settings.db) as second:
            # Two linkers on two connections, as two server processes would run them.
            await asyncio.gather(link_all(services.linker), link_all(EntityLinker(second, batch_size=64)))
        assert await mentions.backlog_size(services.database) == 0
        counts = await mentions.mention_counts(services.database, "default", ["ticket", "dana", "oslo"])
        assert counts == {"ticket": 300, "dana": 300, "oslo": 300}
        assert await names_of(services.database, ids[0]) == {"ticket", "dana", "oslo"}
        assert await EntityLinker(services.database).run_once() == 0  # nothing left, nothing redone
