"""The in-memory vector copy answers exactly as vec0 does and follows writes from any process."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.retrieval import vector_mirror
from athena_mcp.services import Services
from athena_mcp.settings import Settings
from athena_mcp.store import vectors
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory
from tests.conftest import services_for, wait_for

TOPICS = ["deploys", "database migrations", "lunch plans", "the flaky login test", "holiday travel"]


def event(text: str, namespace: str = "work", session: str = "s1", tags: tuple[str, ...] = ()) -> NewMemory:
    return NewMemory(
        system="episodic",
        namespace=namespace,
        kind="observation",
        content=text,
        session_id=session,
        tags=tags,
    )


async def fill(services: Services) -> list[int]:
    events = [
        event(
            f"Note {n} about {TOPICS[n % len(TOPICS)]}",
            namespace="work" if n % 3 else "home",
            session=f"s{n % 4}",
            tags=("urgent",) if n % 5 == 0 else (),
        )
        for n in range(60)
    ]
    return (await services.episodic.record(events)).ids


FILTERS = [
    MemoryFilter(namespaces=("work",)),
    MemoryFilter(namespaces=("work", "home")),
    MemoryFilter(namespaces=("home",), systems=("episodic",)),
    MemoryFilter(namespaces=("work",), session_id="s2"),
    MemoryFilter(namespaces=("work", "home"), tags=("urgent",)),
    MemoryFilter(namespaces=("nowhere",)),
    MemoryFilter(namespaces=("work",), systems=("semantic",)),
]


vector_mirror_failure = OSError("disk I/O error while scanning")


async def ready(services: Services) -> bool:
    return services.vectors.loaded


async def finished_building(services: Services) -> bool:
    task = services.vectors._build_task
    return task is not None and task.done()


async def assert_same_as_vec0(services: Services, query: str, k: int = 10) -> None:
    [vector] = await services.embeddings.embed([query])
    for memory_filter in FILTERS:
        expected = await vectors.nearest(services.database, vector, memory_filter, k)
        found = await services.vectors.nearest(vector, memory_filter, k)
        assert [mid for mid, _ in found] == [mid for mid, _ in expected], memory_filter
        assert np.allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)


async def test_the_copy_returns_what_vec0_returns_under_every_filter(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with services_for(settings, minilm) as services:
        await fill(services)
        assert not services.vectors.loaded
        await services.vectors.load()
        assert services.vectors.loaded and len(services.vectors) == 60
        for query in ("which test keeps failing at login?", "where do we go on holiday", "schema change"):
            await assert_same_as_vec0(services, query)


async def test_a_selective_filter_still_gets_its_nearest(
    settings: Settings, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
):
    # Check only k candidates first, so that the store has to be asked for the filter's members.
    monkeypatch.setattr(vector_mirror, "FILTER_POOL_FACTOR", 1)
    monkeypatch.setattr(vector_mirror, "MIN_FILTER_POOL", 1)
    async with services_for(settings, minilm) as services:
        await fill(services)
        # One session whose events are all far from the query: none is among the best candidates.
        await services.episodic.record([event(f"Unrelated remark {n}", session="rare") for n in range(3)])
        await services.vectors.load()
        vector = minilm.embed(["flaky login test"])[0]
        rare = MemoryFilter(namespaces=("work",), session_id="rare")
        found = await services.vectors.nearest(vector, rare, 10)
        assert len(found) == 3
        expected = await vectors.nearest(services.database, vector, rare, 10)
        assert [mid for mid, _ in found] == [mid for mid, _ in expected]


async def test_writes_from_another_process_reach_the_copy(settings: Settings, minilm: MiniLMEmbedder):
    async with services_for(settings, minilm) as mine, services_for(settings, minilm) as theirs:
        ids = await fill(mine)
        await mine.vectors.load()
        # The other process adds, forgets (deactivates) and re-embeds: the copy follows each change.
        [added] = (await theirs.episodic.record([event("Quarterly tax filing is due in April")])).ids
        await assert_same_as_vec0(mine, "when are taxes due")
        assert len(mine.vectors) == 61
        async with theirs.database.transaction() as tx:
            await vectors.set_vector_active(tx, added, False)
            await vectors.queue_for_embedding(tx, ids[:5])
        await assert_same_as_vec0(mine, "when are taxes due")
        assert len(mine.vectors) == 56
        assert added not in [
            mid
            for mid, _ in await mine.vectors.nearest(
                minilm.embed(["taxes"])[0], MemoryFilter(namespaces=("work",)), 5
            )
        ]
        await theirs.vector_backlog.run_once()
        await assert_same_as_vec0(mine, "deploys")
        assert len(mine.vectors) == 61


async def test_a_copy_behind_the_pruned_feed_loads_afresh(
    settings: Settings, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(vectors, "CHANGES_KEPT", 5)
    async with services_for(settings, minilm) as mine, services_for(settings, minilm) as theirs:
        await fill(mine)
        await mine.vectors.load()
        for n in range(3):  # more changes than the feed keeps
            await theirs.episodic.record([event(f"Later note {n} on deploys") for _ in range(4)])
        rows = await mine.database.fetchall("SELECT count(*) FROM vector_changes")
        assert rows[0][0] <= 6
        await mine.vectors.nearest(minilm.embed(["deploys"])[0], FILTERS[0], 5)  # finds the gap
        assert not mine.vectors.loaded  # dropped; vec0 answers while the copy is rebuilt
        await wait_for(lambda: ready(mine))
        await assert_same_as_vec0(mine, "deploys")
        assert len(mine.vectors) == 72


async def test_a_reset_index_is_reloaded(tmp_path, minilm: MiniLMEmbedder):
    settings = Settings(toolsets=("all",), db=tmp_path / "a.db")
    async with services_for(settings, minilm) as mine, services_for(settings, minilm) as theirs:
        await fill(mine)
        await mine.vectors.load()
        await vectors.reset_vectors(theirs.database, minilm.identity)  # what `reembed` does first
        assert await mine.vectors.nearest(minilm.embed(["deploys"])[0], FILTERS[1], 10) == []
        await wait_for(lambda: ready(mine))
        assert len(mine.vectors) == 0
        await theirs.vector_backlog.run_once()
        await assert_same_as_vec0(mine, "deploys")
        assert len(mine.vectors) == 60


async def test_a_gap_in_the_feed_makes_the_copy_rebuild(settings: Settings, minilm: MiniLMEmbedder):
    async with services_for(settings, minilm) as mine, services_for(settings, minilm) as theirs:
        ids = await fill(mine)
        await mine.vectors.load()
        async with theirs.database.transaction() as tx:
            await vectors.set_vector_active(tx, ids[0], False)
            await vectors.set_vector_active(tx, ids[1], False)
            # As if pruning had removed the first entry this copy has not seen.
            await tx.execute(
                "DELETE FROM vector_changes WHERE seq = (SELECT max(seq) - 1 FROM vector_changes)"
            )
        await mine.vectors.nearest(minilm.embed(["deploys"])[0], FILTERS[0], 5)
        assert not mine.vectors.loaded
        await wait_for(lambda: ready(mine))
        await assert_same_as_vec0(mine, "deploys")
        found = await mine.vectors.nearest(minilm.embed(["Note 0"])[0], FILTERS[1], 60)
        assert {ids[0], ids[1]}.isdisjoint(mid for mid, _ in found)


async def test_a_failed_build_leaves_vec0_answering(settings: Settings, minilm: MiniLMEmbedder):
    async with services_for(settings, minilm) as services:
        await fill(services)

        def fail_scan(sql: str) -> None:
            if sql.startswith("SELECT rowid, embedding"):
                raise vector_mirror_failure

        services.database.statement_hook = fail_scan
        services.vectors.start()
        await wait_for(lambda: finished_building(services))
        assert not services.vectors.loaded
        services.database.statement_hook = None
        await assert_same_as_vec0(services, "deploys")  # vec0 answers; the retry waits RETRY_AFTER


async def test_the_copy_refuses_statuses_the_index_does_not_hold_as_vec0_does(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with services_for(settings, minilm) as services:
        await fill(services)
        await services.vectors.load()
        [vector] = minilm.embed(["deploys"])
        listing = MemoryFilter(namespaces=("work",), statuses=("active", "forgotten"))
        for search in (services.vectors.nearest, lambda v, f, k: vectors.nearest(services.database, v, f, k)):
            with pytest.raises(ValueError, match="active memories only"):
                await search(vector, listing, 5)


def test_filters_the_copy_cannot_evaluate_are_recognised():
    base = MemoryFilter(namespaces=("a",))
    assert not base.has_extra_conditions()
    assert not dataclasses.replace(base, systems=("semantic",)).has_extra_conditions()
    extras = ({"tags": ("x",)}, {"session_id": "s"}, {"since": 1.0}, {"until": 2.0}, {"kinds": ("fact",)})
    for extra in extras:
        assert dataclasses.replace(base, **extra).has_extra_conditions()  # type: ignore[arg-type]


async def test_the_copy_grows_as_memories_arrive(
    settings: Settings, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(vector_mirror, "INITIAL_CAPACITY", 4)
    async with services_for(settings, minilm) as services:
        await services.vectors.load()  # an empty store: room for 4
        await fill(services)
        await assert_same_as_vec0(services, "lunch plans")
        assert len(services.vectors) == 60


async def test_vectors_of_copies_only_the_asked_memories_that_pass_the_filter(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with services_for(settings, minilm) as services:
        ids = await fill(services)
        work = [memory_id for n, memory_id in enumerate(ids) if n % 3]
        home = [memory_id for n, memory_id in enumerate(ids) if not n % 3]
        asked = [*work[:5], *home[:2], 10**9]  # two of another namespace, one that does not exist
        found_ids, matrix = await services.vectors.vectors_of(asked, MemoryFilter(namespaces=("work",)))
        assert sorted(found_ids.tolist()) == sorted(work[:5])
        for memory_id, row in zip(found_ids.tolist(), matrix, strict=True):
            [expected] = await services.embeddings.embed(
                [f"Note {ids.index(memory_id)} about {TOPICS[ids.index(memory_id) % len(TOPICS)]}"]
            )
            np.testing.assert_allclose(row, expected, atol=1e-6)
        none_ids, none = await services.vectors.vectors_of([], MemoryFilter(namespaces=("work",)))
        assert none_ids.size == 0 and none.shape[0] == 0
