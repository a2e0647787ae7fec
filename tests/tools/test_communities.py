"""The community tools through an in-process MCP client: detect, list (paged, as of a time), get,
the background pass that keeps them current, and bad input."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from mcp import Client

from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client, wait_for
from tests.tools.test_bad_input import assert_refused, cursor_of

pytestmark = pytest.mark.timeout(120)

# Two cliques of four joined by one relation, and a pair.
CLIQUES = (("Ada", "Bo", "Cy", "Di"), ("Ed", "Flo", "Gil", "Hu"), ("Io", "Jay"))


async def seed(client: Client, namespace: str = "default") -> None:
    names = [name for clique in CLIQUES for name in clique]
    await call(
        client,
        "create_entities",
        entities=[{"name": n, "entityType": "person", "observations": []} for n in names],
        namespace=namespace,
    )
    relations = [
        {"from": a, "to": b, "relationType": "knows"}
        for clique in CLIQUES
        for i, a in enumerate(clique)
        for b in clique[i + 1 :]
    ]
    relations.append({"from": "Di", "to": "Ed", "relationType": "met"})
    await call(client, "create_relations", relations=relations, namespace=namespace)


def members(community: dict[str, Any]) -> set[str]:
    return {member["name"] for member in community["members"]}


async def test_detect_list_and_get_communities(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        run = await call(client, "detect_communities")
        again = await call(client, "detect_communities")
        listed = await call(client, "list_communities")
        first = await call(client, "get_community", community_id=listed["communities"][0]["id"])
        last = await call(
            client, "get_community", community_id=listed["communities"][-1]["id"], member_limit=1
        )

    assert (run["entities"], run["relations"], run["communities"], run["reused"]) == (10, 14, 3, False)
    assert again["reused"] and again["run_id"] == run["run_id"]
    assert listed["run"]["run_id"] == run["run_id"] and not listed["stale"]
    assert [c["size"] for c in listed["communities"]] == [4, 4, 2]
    assert listed["next_cursor"] is None
    assert members(first) == {"Ada", "Bo", "Cy", "Di"}
    # Di ties the clique to the next one but is ranked on the weight inside: 3, like the others.
    assert first["label"] == "Ada, Bo, Cy and others (person)"
    assert [(m["rank"], m["entityType"], m["strength"]) for m in first["members"]] == [
        (rank, "person", 3.0) for rank in (1, 2, 3, 4)
    ]
    assert len(first["relations"]) == first["relation_count"] == 6
    assert not first["relations_truncated"]
    # At most member_limit members, and only the relations between those shown.
    assert [m["name"] for m in last["members"]] == ["Io"] and last["size"] == 2
    assert last["relations"] == []


async def test_list_communities_pages_largest_first_and_as_of_reads_an_older_run(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client)
        first_run = await call(client, "detect_communities")
        await call(
            client,
            "create_relations",
            relations=[{"from": "Jay", "to": n, "relationType": "knows"} for n in CLIQUES[1]],
        )
        stale = await call(client, "list_communities")
        await call(client, "detect_communities")
        pages, cursor = [], None
        while True:
            page = await call(client, "list_communities", limit=1, **({"cursor": cursor} if cursor else {}))
            pages.append(page["communities"])
            if (cursor := page["next_cursor"]) is None:
                break
        then = await call(client, "list_communities", as_of=first_run["computed_at"])

    assert stale["stale"] and stale["run"]["run_id"] == first_run["run_id"]
    assert [len(p) for p in pages] == [1, 1]
    assert [p[0]["size"] for p in pages] == [6, 4]  # Jay joined the second clique, bringing Io
    assert then["run"]["run_id"] == first_run["run_id"]
    assert [c["size"] for c in then["communities"]] == [4, 4, 2]


async def test_the_background_pass_computes_communities_after_a_change(settings, minilm):
    quick = dataclasses.replace(settings, community_interval=0.05)
    async with open_client(quick, minilm) as client:
        await seed(client, "project")

        async def current() -> bool:
            listed = await call(client, "list_communities", namespace="project")
            return listed["run"] is not None and not listed["stale"]

        await wait_for(current)
        listed = await call(client, "list_communities", namespace="project")
    assert [c["size"] for c in listed["communities"]] == [4, 4, 2]


async def test_communities_stay_in_their_namespace_and_bad_input_is_refused(settings, minilm):
    async with open_client(settings, minilm) as client:
        await seed(client, "work")
        await call(client, "detect_communities", namespace="work")
        work = await call(client, "list_communities", namespace="work")
        community_id = work["communities"][0]["id"]
        elsewhere = await call(client, "list_communities")
        errors = {
            "other namespace": await call_error(client, "get_community", community_id=community_id),
            "unknown id": await call_error(client, "get_community", community_id=999, namespace="work"),
            "zero id": await call_error(client, "get_community", community_id=0),
            "member_limit": await call_error(client, "get_community", community_id=1, member_limit=501),
            "limit": await call_error(client, "list_communities", limit=101),
            "as_of": await call_error(client, "list_communities", as_of="last tuesday"),
            "cursor": await call_error(client, "list_communities", cursor="nonsense"),
            "forged cursor": await call_error(client, "list_communities", cursor=cursor_of([1, 4, -1])),
            "cursor from another namespace": await call_error(
                client, "list_communities", cursor=cursor_of([work["run"]["run_id"], 4, community_id])
            ),
            "namespace": await call_error(client, "detect_communities", namespace="no spaces"),
        }

    assert elsewhere["run"] is None and "detect_communities" in elsewhere["notice"]
    assert_refused(errors["other namespace"], settings, "community_id", "list_communities")
    assert_refused(errors["unknown id"], settings, "community_id", "999")
    assert_refused(errors["zero id"], settings, "community_id")
    assert_refused(errors["member_limit"], settings, "member_limit", "500")
    assert_refused(errors["limit"], settings, "limit", "100")
    assert_refused(errors["as_of"], settings, "as_of")
    assert_refused(errors["cursor"], settings, "cursor", "list_communities")
    assert_refused(errors["forged cursor"], settings, "cursor")
    assert_refused(errors["cursor from another namespace"], settings, "cursor", "namespace")
    assert_refused(errors["namespace"], settings, "namespace")


def test_the_community_interval_setting_refuses_a_negative_value(tmp_path):
    with pytest.raises(ValueError, match="community_interval"):
        Settings(toolsets=("all",), db=tmp_path / "athena.db", community_interval=-1)
