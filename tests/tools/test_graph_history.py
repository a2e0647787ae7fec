"""Time and identity in the graph: as_of reads, contradicted relations, provenance, aliases, and
merges that can be undone, through an in-process MCP client."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Any

import pytest
from mcp import Client

from athena_mcp.memory import graph_search
from athena_mcp.store.database import Database
from tests.conftest import call, call_error, open_client
from tests.tools.test_bad_input import assert_refused

pytestmark = pytest.mark.timeout(120)


def entity(name: str, *observations: str, entity_type: str = "person") -> dict[str, Any]:
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def rel(source: str, target: str, relation_type: str, **extra: Any) -> dict[str, Any]:
    return {"from": source, "to": target, "relationType": relation_type, **extra}


def between(earlier: str, later: str) -> str:
    """An ISO time strictly between two the server reported."""
    start, end = datetime.fromisoformat(earlier), datetime.fromisoformat(later)
    assert start < end
    return (start + (end - start) / 2).isoformat()


async def history(client: Client, name: str) -> dict[str, Any]:
    return await call(client, "get_entity", name=name, include_history=True)


async def test_an_exclusive_relation_ends_the_contradicted_one_and_as_of_still_sees_it(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("Alice"), entity("Paris"), entity("Berlin")])
        await call(client, "create_relations", relations=[rel("Alice", "Paris", "lives_in", exclusive=True)])
        moved = await call(
            client, "create_relations", relations=[rel("Alice", "Berlin", "lives_in", exclusive=True)]
        )
        now = await call(client, "open_nodes", names=["Alice"])
        record = await history(client, "Alice")
        [berlin, paris] = record["relations"]
        then = between(paris["valid_from"], berlin["valid_from"])
        before = await call(client, "open_nodes", names=["Alice"], as_of=then)
        page = await call(client, "read_graph", as_of=then)
    assert moved["ended"] == 1
    assert now["relations"] == [rel("Alice", "Berlin", "lives_in")]
    assert (paris["entity"], paris["valid_to"] is not None) == ("Paris", True)
    assert (berlin["entity"], berlin["valid_to"], berlin["direction"]) == ("Berlin", None, "out")
    assert before["relations"] == [rel("Alice", "Paris", "lives_in")]
    assert page["relations"] == [rel("Alice", "Paris", "lives_in")]


async def test_deleted_facts_stay_readable_as_of_before_the_deletion(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("Alice", "likes tea"), entity("Bob")])
        await call(client, "create_relations", relations=[rel("Alice", "Bob", "knows")])
        await call(
            client, "delete_observations", deletions=[{"entityName": "Alice", "observations": ["likes tea"]}]
        )
        record = await history(client, "Alice")
        [ended], [knows] = record["observations"], record["relations"]
        await call(client, "delete_entities", entityNames=["Bob"])
        then = between(knows["valid_from"], ended["valid_to"])
        past = await call(client, "search_nodes", query="tea", as_of=then)
        present = await call(client, "search_nodes", query="tea")
        bob_then = await call(client, "open_nodes", names=["Bob"], as_of=then)
        bob_now = await call(client, "open_nodes", names=["Bob"])
        too_early = await call(client, "read_graph", as_of="2000-01-01T00:00:00Z")
    assert [e["name"] for e in past["entities"]] == ["Alice"] and present["entities"] == []
    assert past["entities"][0]["observations"] == ["likes tea"]
    assert bob_then["relations"] == [rel("Alice", "Bob", "knows")] and bob_now["entities"] == []
    assert too_early["entities"] == [] and too_early["relations"] == []


async def test_source_memory_ids_record_provenance_and_must_exist_in_the_namespace(settings, minilm):
    async with open_client(settings, minilm) as client:
        said = await call(client, "remember", content="Alice moved to Berlin in March.")
        elsewhere = await call(client, "remember", content="Unrelated note.", namespace="other")
        await call(
            client,
            "create_entities",
            entities=[
                {**entity("Alice"), "source_memory_ids": [said["id"]]},
                entity("Berlin", entity_type="city"),
            ],
        )
        await call(
            client,
            "create_relations",
            relations=[rel("Alice", "Berlin", "lives_in", source_memory_ids=[said["id"]], weight=2.5)],
        )
        await call(
            client,
            "add_observations",
            observations=[
                {"entityName": "Alice", "contents": ["moved in March"], "source_memory_ids": [said["id"]]}
            ],
        )
        record = await call(client, "get_entity", name="alice")
        refused = await call_error(
            client,
            "add_observations",
            observations=[{"entityName": "Alice", "contents": ["x"], "source_memory_ids": [elsewhere["id"]]}],
        )
        unchanged = await call(client, "open_nodes", names=["Alice"])
    [lives_in] = record["relations"]
    assert record["source_memory_ids"] == [said["id"]]
    assert lives_in["source_memory_ids"] == [said["id"]] and lives_in["weight"] == 2.5
    assert record["observations"][0]["source_memory_ids"] == [said["id"]]
    assert_refused(refused, settings, "source_memory_ids", str(elsewhere["id"]), "Nothing was saved")
    assert unchanged["entities"][0]["observations"] == ["moved in March"]


async def test_aliases_resolve_everywhere_and_cannot_take_another_entitys_name(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client, "create_entities", entities=[entity("Robert Smith", "plays chess"), entity("Alice")]
        )
        added = await call(client, "add_aliases", entityName="robert  smith", aliases=["Bob", "Bobby"])
        skipped = await call(client, "create_entities", entities=[entity("BOB", "duplicate")])
        await call(client, "create_relations", relations=[rel("Alice", "bob", "knows")])
        opened = await call(client, "open_nodes", names=["Bobby"])
        found = await call(client, "search_nodes", query="bobb")
        clash = await call_error(client, "add_aliases", entityName="Alice", aliases=["Bob"])
        removed = await call(client, "remove_aliases", entityName="Bob", aliases=["bobby"])
        gone = await call(client, "open_nodes", names=["Bobby"])
    assert added["aliases"] == ["Bob", "Bobby"] and skipped["entities"] == []
    assert [e["name"] for e in opened["entities"]] == ["Robert Smith"]
    assert opened["relations"] == [rel("Alice", "Robert Smith", "knows")]
    assert [e["name"] for e in found["entities"]] == ["Robert Smith"]
    assert_refused(clash, settings, "aliases[0]", "merge_entities")
    assert removed["aliases"] == ["Bob"] and gone["entities"] == []


async def test_a_merge_moves_everything_and_an_unmerge_restores_it_with_history_kept(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "create_entities",
            entities=[
                entity("Robert", "plays chess", "lives in Leeds"),
                entity("Bob Smith", "plays chess", "works at ACME"),
                entity("Alice"),
                entity("ACME", entity_type="company"),
            ],
        )
        await call(
            client,
            "create_relations",
            relations=[
                rel("Alice", "Bob Smith", "knows"),
                rel("Bob Smith", "ACME", "works_at"),
                rel("Robert", "Bob Smith", "same_as"),
            ],
        )
        merged = await call(client, "merge_entities", entityName="Bob Smith", into="Robert")
        after = await call(client, "open_nodes", names=["bob smith"])
        again = await call_error(client, "merge_entities", entityName="Bob Smith", into="Robert")
        record = await call(client, "get_entity", name="Robert", include_history=True)
        then = between(record["created_at"], record["merges"][0]["merged_at"])
        before = await call(client, "open_nodes", names=["Robert", "Bob Smith"], as_of=then)
        unmerged = await call(client, "unmerge_entities", merge_id=merged["merge_id"])
        restored = await call(client, "open_nodes", names=["Robert", "Bob Smith"])
        twice = await call_error(client, "unmerge_entities", merge_id=merged["merge_id"])
        foreign = await call_error(client, "unmerge_entities", merge_id=merged["merge_id"], namespace="other")
    assert (merged["survivor"], merged["observations_moved"], merged["relations_moved"]) == ("Robert", 2, 3)
    [robert] = after["entities"]
    assert robert["name"] == "Robert"
    assert robert["observations"] == ["plays chess", "lives in Leeds", "works at ACME"]
    assert sorted((r["from"], r["to"]) for r in after["relations"]) == [
        ("Alice", "Robert"),
        ("Robert", "ACME"),
    ]
    assert_refused(again, settings, "same entity")
    assert "Bob Smith" in record["aliases"] or record["aliases"] == ["Bob Smith"]
    assert [e["name"] for e in before["entities"]] == ["Robert", "Bob Smith"]
    assert unmerged == {
        "merge_id": merged["merge_id"],
        "restored": "Bob Smith",
        "observations_restored": 2,
        "relations_restored": 3,
    }
    by_name = {e["name"]: e["observations"] for e in restored["entities"]}
    assert by_name == {
        "Robert": ["plays chess", "lives in Leeds"],
        "Bob Smith": ["plays chess", "works at ACME"],
    }
    assert sorted((r["from"], r["to"], r["relationType"]) for r in restored["relations"]) == [
        ("Alice", "Bob Smith", "knows"),
        ("Bob Smith", "ACME", "works_at"),
        ("Robert", "Bob Smith", "same_as"),
    ]
    assert_refused(twice, settings, "already undone")
    assert_refused(foreign, settings, "merge_id", "no merge")


async def test_merges_are_undone_newest_first(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("A"), entity("B"), entity("C")])
        first = await call(client, "merge_entities", entityName="B", into="A")
        await call(client, "merge_entities", entityName="C", into="A")
        refused = await call_error(client, "unmerge_entities", merge_id=first["merge_id"])
        missing = await call_error(client, "merge_entities", entityName="Zed", into="A")
    assert_refused(refused, settings, "merge_id", "newest first")
    assert_refused(missing, settings, "entityName", "Zed", "not found")


async def test_rebuild_graph_index_restores_search_from_the_tables(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("Robert", "plays chess")])
        await call(client, "add_aliases", entityName="Robert", aliases=["Bob"])
    async with Database.open(settings.db) as database, database.transaction() as tx:
        await tx.execute("DELETE FROM graph_fts")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "athena_mcp",
        "rebuild-graph-index",
        "--db",
        str(settings.db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    async with open_client(settings, minilm) as client:
        found = await call(client, "search_nodes", query="chess")
        by_alias = await call(client, "search_nodes", query="bob")
    assert process.returncode == 0 and "1 entities indexed" in stderr.decode()
    assert [e["name"] for e in found["entities"]] == ["Robert"] == [e["name"] for e in by_alias["entities"]]


async def test_a_chain_of_merges_undone_newest_first_leaves_each_entity_its_own_facts(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "create_entities",
            entities=[entity("A", "a"), entity("B", "b"), entity("C", "c"), entity("X")],
        )
        await call(client, "create_relations", relations=[rel("C", "X", "likes")])
        first = await call(client, "merge_entities", entityName="C", into="B")
        second = await call(client, "merge_entities", entityName="B", into="A")
        merged = await call(client, "open_nodes", names=["A"])
        await call(client, "unmerge_entities", merge_id=second["merge_id"])
        await call(client, "unmerge_entities", merge_id=first["merge_id"])
        apart = await call(client, "read_graph")
    assert merged["entities"][0]["observations"] == ["a", "b", "c"]
    assert merged["relations"] == [rel("A", "X", "likes")]
    assert [(e["name"], e["observations"]) for e in apart["entities"]] == [
        ("A", ["a"]),
        ("B", ["b"]),
        ("C", ["c"]),
        ("X", []),
    ]
    assert apart["relations"] == [rel("C", "X", "likes")]


async def test_a_relation_whose_two_ends_were_merged_apart_comes_back_between_the_right_entities(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity(n) for n in ("A", "B", "S", "T")])
        await call(client, "create_relations", relations=[rel("A", "B", "knows")])
        into_s = await call(client, "merge_entities", entityName="B", into="S")
        into_t = await call(client, "merge_entities", entityName="A", into="T")
        await call(client, "unmerge_entities", merge_id=into_s["merge_id"])
        half = await call(client, "read_graph")
        await call(client, "unmerge_entities", merge_id=into_t["merge_id"])
        whole = await call(client, "read_graph")
    assert half["relations"] == [rel("T", "B", "knows")]
    assert whole["relations"] == [rel("A", "B", "knows")]


async def test_a_name_read_as_of_a_merge_finds_the_survivor_even_after_the_unmerge(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("S", "s"), entity("B", "b")])
        merged = await call(client, "merge_entities", entityName="B", into="S")
        await call(client, "unmerge_entities", merge_id=merged["merge_id"])
        [merge] = (await call(client, "get_entity", name="B"))["merges"]
        during = between(merge["merged_at"], merge["unmerged_at"])
        then = await call(client, "open_nodes", names=["B"], as_of=during)
        now = await call(client, "open_nodes", names=["B"])
    assert [(e["name"], e["observations"]) for e in then["entities"]] == [("S", ["s", "b"])]
    assert now["entities"] == [entity("B", "b")]


async def test_deleting_by_an_alias_deletes_nothing_and_says_why(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=[entity("Robert", "plays chess")])
        await call(client, "add_aliases", entityName="Robert", aliases=["Bobby"])
        answer = await call(client, "delete_entities", entityNames=["Bobby"])
        still = await call(client, "open_nodes", names=["Robert"])
    assert answer["message"].startswith("Deleted 0 of 1 entities. Not found: Bobby (aliases, not names")
    assert still["entities"] == [entity("Robert", "plays chess")]


async def test_a_search_that_walks_the_namespace_pages_through_it(settings, minilm, monkeypatch):
    monkeypatch.setattr(graph_search, "MAX_EXAMINED", 2)
    monkeypatch.setattr(graph_search, "SEARCH_BATCH", 2)
    many = [entity(f"item {i}", "plain") for i in range(5)] + [entity("Éclair", "pastry")]
    async with open_client(settings, minilm) as client:
        await call(client, "create_entities", entities=many)
        seen: list[str] = []
        pages = 0
        arguments: dict[str, Any] = {"query": "é"}
        while True:
            page = await call(client, "search_nodes", **arguments)
            seen += [e["name"] for e in page["entities"]]
            pages += 1
            if page["next_cursor"] is None:
                break
            arguments["cursor"] = page["next_cursor"]
    assert seen == ["Éclair"] and pages == 4  # 6 entities, 2 examined a call: the last page is empty
