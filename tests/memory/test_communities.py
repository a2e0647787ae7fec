"""Graph communities: Leiden finds planted groups, recomputes after edits, keeps one result per graph
revision (whichever process stores it first), answers as_of from older runs, and keeps few of them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from athena_mcp.errors import NotFound
from athena_mcp.memory import leiden
from athena_mcp.memory.communities import GraphCommunities
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.graph_models import NewEntity, NewRelation, RelationKey
from athena_mcp.models import to_datetime
from athena_mcp.store import communities as store
from athena_mcp.store.communities import SnapshotEntity, SnapshotRelation
from athena_mcp.store.database import Database
from athena_mcp.store.migrations import migrate

pytestmark = pytest.mark.timeout(120)

GROUPS = {
    "team": ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay"),
    "band": ("Gus", "Hal", "Ivy", "Jo", "Kim", "Lu"),
    "club": ("Max", "Ned", "Oli", "Pam", "Quin", "Rex"),
}


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database.open(tmp_path / "athena.db") as opened:
        await migrate(opened)
        yield opened


async def plant(graph: GraphMemory, namespace: str = "default") -> None:
    """Three groups of six, every pair inside a group related, one bridge between neighbouring groups;
    Cat also works with the rest of the team."""
    await graph.create_entities(
        namespace,
        [NewEntity(name, kind, ()) for kind, names in GROUPS.items() for name in names],
    )
    cat = [RelationKey("Cat", b, "works_with") for b in GROUPS["team"] if b != "Cat"]
    inside = [
        RelationKey(a, b, "knows")
        for names in GROUPS.values()
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    keys = [*inside, RelationKey("Fay", "Gus", "met"), RelationKey("Lu", "Max", "met"), *cat]
    await graph.create_relations(namespace, [NewRelation(key) for key in keys])


async def groups(communities: GraphCommunities, namespace: str = "default") -> list[set[str]]:
    listed = await communities.list_communities(namespace, 100)
    found = []
    for summary in listed.communities:
        detail = await communities.get_community(namespace, summary.id, 500)
        found.append({member.name for member in detail.members})
    return found


async def test_planted_groups_are_found_with_labels_ranks_and_summaries(database):
    await plant(GraphMemory(database))
    communities = GraphCommunities(database)

    run = await communities.detect("default")

    assert (run.entities, run.relations, run.communities, run.reused) == (18, 52, 3, False)
    assert run.modularity is not None and run.modularity > 0.5
    assert sorted(map(sorted, await groups(communities))) == sorted(map(sorted, GROUPS.values()))
    listed = await communities.list_communities("default", 10)
    team = next(c for c in listed.communities if "(team)" in c.label)
    detail = await communities.get_community("default", team.id, 500)
    # Cat has the most weight inside, so she leads the ranks and the label; ties go by name.
    assert detail.label == "Cat, Ann, Ben and others (team)"
    assert [(m.name, m.rank, m.strength) for m in detail.members] == [
        ("Cat", 1, 10.0),
        ("Ann", 2, 6.0),
        ("Ben", 3, 6.0),
        ("Dan", 4, 6.0),
        ("Eve", 5, 6.0),
        ("Fay", 6, 6.0),
    ]
    assert {m.entityType for m in detail.members} == {"team"}
    assert detail.summary == (
        "6 entities (6 team); 20 relations inside, mostly 15 knows, 5 works_with; "
        "most central: Cat, Ann, Ben, Dan, Eve."
    )
    assert len(detail.relations) == detail.relation_count == 20
    assert {r.relationType for r in detail.relations} == {"knows", "works_with"}


def test_the_same_graph_gives_the_same_communities():
    # A graph without planted structure, where an unseeded search would land on different answers.
    rng = random.Random(7)
    entities = [SnapshotEntity(i, f"e{i}", "thing") for i in range(1, 301)]
    relations = [SnapshotRelation(rng.randint(1, 300), rng.randint(1, 300), 1.0, "r") for _ in range(900)]

    first = leiden.detect(entities, relations)

    assert len(first.communities) > 3
    assert leiden.detect(entities, relations) == first


async def test_a_run_for_the_current_revision_is_reused(database):
    await plant(GraphMemory(database))
    communities = GraphCommunities(database)
    first = await communities.detect("default")

    again = await communities.detect("default")

    assert again.reused and again.run_id == first.run_id
    assert await communities.run_once() == 0


async def test_only_one_result_is_stored_per_revision_when_two_processes_compute_at_once(database):
    await plant(GraphMemory(database))
    async with Database.open(database.path) as other:
        results = await asyncio.gather(
            GraphCommunities(database).detect("default"), GraphCommunities(other).detect("default")
        )

    assert results[0].run_id == results[1].run_id
    assert sorted(r.reused for r in results) == [False, True]
    rows = await database.fetchall("SELECT count(*) FROM graph_community_runs")
    assert rows[0][0] == 1


async def test_storing_a_run_rechecks_the_revision_and_writes_nothing_when_one_is_there(database):
    await plant(GraphMemory(database))
    stored = await GraphCommunities(database).detect("default")
    run = await store.run(database, "default", stored.run_id)
    assert run is not None
    async with database.transaction() as tx:
        assert await store.save_run(tx, replace(run, algorithm="late"), ()) is None
    rows = await database.fetchall(
        "SELECT count(*), max(algorithm) FROM graph_communities c "
        "JOIN graph_community_runs r ON r.id = c.run_id"
    )
    assert tuple(rows[0]) == (3, run.algorithm)


async def test_an_edit_is_taken_in_by_the_next_pass_only_where_the_graph_changed(database):
    graph = GraphMemory(database)
    await plant(graph)
    await plant(graph, "quiet")
    communities = GraphCommunities(database)
    assert await communities.run_once() == 2
    quiet = await communities.list_communities("quiet", 10)

    # Ann leaves the team for the club; Eve is deleted.
    await graph.delete_relations("default", [RelationKey("Ann", b, "knows") for b in GROUPS["team"][1:]])
    await graph.create_relations(
        "default", [NewRelation(RelationKey("Ann", b, "knows")) for b in GROUPS["club"]]
    )
    await graph.delete_entities("default", ["Eve"])
    assert (await communities.list_communities("default", 10)).stale

    assert await communities.run_once() == 1

    found = await groups(communities)
    assert {"Ann", *GROUPS["club"]} in found
    assert set(GROUPS["team"]) - {"Ann", "Eve"} in found
    assert not (await communities.list_communities("default", 10)).stale
    assert (await communities.list_communities("quiet", 10)).run == quiet.run


async def test_as_of_lists_the_run_in_force_at_that_time(database):
    graph = GraphMemory(database)
    await plant(graph)
    communities = GraphCommunities(database)
    first = await communities.detect("default")
    await graph.create_entities("default", [NewEntity("Sol", "club", ())])
    await graph.create_relations(
        "default", [NewRelation(RelationKey("Sol", b, "knows")) for b in GROUPS["club"]]
    )
    second = await communities.detect("default")
    assert second.revision > first.revision

    then = await communities.list_communities("default", 10, as_of=first.computed_at)
    now = await communities.list_communities("default", 10, as_of=second.computed_at)
    before = await communities.list_communities(
        "default", 10, as_of=to_datetime(first.computed_at.timestamp() - 1)
    )

    assert then.run is not None and then.run.run_id == first.run_id
    assert now.run is not None and now.run.run_id == second.run_id
    assert before.run is None and before.communities == [] and before.notice is not None
    sizes = {c.label: c.size for c in then.communities}
    assert max(sizes.values()) == 6
    assert max(c.size for c in now.communities) == 7


async def test_old_runs_are_dropped_beyond_the_newest_few(database):
    graph = GraphMemory(database)
    await plant(graph)
    communities = GraphCommunities(database)
    oldest = await communities.detect("default")
    old_community = (await communities.list_communities("default", 1)).communities[0].id
    for index in range(store.KEPT_RUNS):
        await graph.create_entities("default", [NewEntity(f"New {index}", "team", ())])
        await communities.detect("default")

    rows = await database.fetchall("SELECT count(*) FROM graph_community_runs")
    assert rows[0][0] == store.KEPT_RUNS
    assert await store.run(database, "default", oldest.run_id) is None
    with pytest.raises(NotFound, match="community_id"):
        await communities.get_community("default", old_community, 10)


async def test_an_empty_graph_and_one_without_relations_have_no_communities(database):
    communities = GraphCommunities(database)
    empty = await communities.detect("nothing")
    assert (empty.entities, empty.relations, empty.communities, empty.modularity) == (0, 0, 0, None)
    assert (await communities.detect("nothing")).reused

    await GraphMemory(database).create_entities("loners", [NewEntity("A", "x", ()), NewEntity("B", "x", ())])
    loners = await communities.detect("loners")
    listed = await communities.list_communities("loners", 10)
    assert (loners.entities, loners.communities, loners.modularity) == (2, 0, None)
    assert listed.run is not None and listed.communities == [] and not listed.stale
