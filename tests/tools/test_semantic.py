"""The semantic toolset through an in-process MCP client session, with the real default model."""

from __future__ import annotations

import pytest

from athena_mcp.retrieval.calibration import Evidence
from tests.conftest import call, call_error, open_client


async def test_remember_then_recall_finds_it_by_meaning_and_by_keyword(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(
            client,
            "remember",
            content="The user's favourite database is PostgreSQL 16",
            tags=["prefs"],
            importance=0.8,
            source="chat",
        )
        await call(client, "remember", content="Deploys happen every Tuesday after the standup")
        assert stored["status"] == "stored" and stored["vector"] == "stored"

        by_keyword = await call(client, "recall", query="PostgreSQL")
        by_meaning = await call(client, "recall", query="which relational DB does the user like best?")
        for result in (by_keyword, by_meaning):
            assert result["mode"] == "hybrid" and result["notice"] is None
            top = result["results"][0]
            assert top["id"] == stored["id"]
            assert top["tags"] == ["prefs"] and top["importance"] == 0.8 and top["source"] == "chat"
            assert 0 < top["score"] <= 1


async def test_explain_reports_each_signals_rank_and_score(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="Tabs are preferred over spaces in Go code")
        result = await call(client, "recall", query="tabs or spaces in Go", explain=True)
        explain = result["results"][0]["explain"]
        assert explain["lexical"]["rank"] == 1 and explain["dense"]["rank"] == 1
        assert explain["dense"]["score"] > 0.5
        assert explain["fused"] == explain["lexical"]["contribution"] + explain["dense"]["contribution"]
        assert explain["relative"] == 1.0  # first in every signal
        # The score is calibrated: a single good match is likely, not certain (retrieval/calibration.py).
        parts = Evidence(coverage=explain["coverage"], relative=explain["relative"])
        assert result["results"][0]["score"] == pytest.approx(parts.relevance) and parts.relevance > 0.4


async def test_exact_duplicate_returns_the_existing_id(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="The API key rotates monthly")
        again = await call(client, "remember", content="The API key rotates monthly")
        assert again == {**again, "id": first["id"], "status": "duplicate"}
        listed = await call(client, "list_memories")
        assert len(listed["items"]) == 1


async def test_same_text_in_another_namespace_is_a_separate_memory(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="Use ruff for linting", namespace="proj-a")
        second = await call(client, "remember", content="Use ruff for linting", namespace="proj-b")
        assert second["status"] == "stored" and second["id"] != first["id"]


async def test_near_duplicate_is_stored_and_reported(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="The user prefers dark mode in every editor")
        second = await call(client, "remember", content="The user prefers dark mode in all editors")
        assert second["status"] == "stored"
        assert [s["id"] for s in second["similar"]] == [first["id"]]
        assert second["similar"][0]["similarity"] >= settings.near_duplicate_threshold
        unrelated = await call(client, "remember", content="Invoices are due within 30 days")
        assert unrelated["similar"] == []


async def test_update_keeps_the_old_version_and_recall_sees_only_the_new(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(
            client, "remember", content="The staging server is staging-1.internal", tags=["infra"]
        )
        updated = await call(
            client,
            "update",
            id=stored["id"],
            content="The staging server is staging-2.internal",
            reason="migrated",
        )
        assert updated == {"id": stored["id"], "version": 2, "status": "updated", "similar": []}

        detail = await call(client, "get", id=stored["id"], include_history=True)
        assert detail["content"] == "The staging server is staging-2.internal" and detail["version"] == 2
        assert detail["tags"] == ["infra"]
        [old] = detail["history"]
        assert old["version"] == 1 and old["content"] == "The staging server is staging-1.internal"
        assert old["change_reason"] == "migrated"

        hits = (await call(client, "recall", query="staging-1.internal"))["results"]
        assert [h["content"] for h in hits] == ["The staging server is staging-2.internal"]


async def test_update_with_identical_values_changes_nothing(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="Lunch is at noon", tags=["office"])
        result = await call(client, "update", id=stored["id"], content="Lunch is at noon", tags=["office"])
        assert result["status"] == "unchanged" and result["version"] == 1


async def test_update_of_tags_and_importance_is_visible_in_filters(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="Backups run nightly at 02:00")
        await call(
            client, "update", id=stored["id"], tags=["ops", "backup"], importance=0.9, kind="procedure"
        )
        hits = (await call(client, "recall", query="backups", tags=["ops"], kind=["procedure"]))["results"]
        assert [h["id"] for h in hits] == [stored["id"]] and hits[0]["importance"] == 0.9


async def test_forgotten_memory_never_appears_in_recall_until_restored(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="The office wifi password is hunter2")
        forgotten = await call(client, "forget", id=stored["id"], reason="secret")
        assert forgotten == {"id": stored["id"], "status": "forgotten", "changed": True}
        assert (await call(client, "forget", id=stored["id"]))["changed"] is False

        for query in ("wifi password", "hunter2", "how do I get on the office network?"):
            assert (await call(client, "recall", query=query))["results"] == []
        detail = await call(client, "get", id=stored["id"])
        assert detail["status"] == "forgotten" and detail["forget_reason"] == "secret"
        assert (await call(client, "list_memories"))["items"] == []
        assert [m["id"] for m in (await call(client, "list_memories", status="forgotten"))["items"]] == [
            stored["id"]
        ]

        restored = await call(client, "restore", id=stored["id"])
        assert restored == {"id": stored["id"], "status": "active", "changed": True}
        assert [h["id"] for h in (await call(client, "recall", query="wifi password"))["results"]] == [
            stored["id"]
        ]


async def test_forgotten_fact_can_be_remembered_again_as_a_new_memory(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="The build uses Bazel")
        await call(client, "forget", id=first["id"])
        again = await call(client, "remember", content="The build uses Bazel")
        assert again["status"] == "stored" and again["id"] != first["id"]
        message = await call_error(client, "restore", id=first["id"])
        assert f"memory {again['id']}" in message


async def test_list_memories_pages_newest_first_without_gaps(settings, minilm):
    async with open_client(settings, minilm) as client:
        ids = [(await call(client, "remember", content=f"Fact number {n}"))["id"] for n in range(7)]
        seen, cursor = [], None
        while True:
            page = await call(client, "list_memories", limit=3, **({"cursor": cursor} if cursor else {}))
            seen += [m["id"] for m in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(ids, reverse=True)


async def test_recall_filters_apply_inside_the_search_not_after_a_cut(settings, minilm):
    async with open_client(settings, minilm) as client:
        for n in range(30):
            await call(client, "remember", content=f"Coffee note {n}: espresso beans from roaster {n}")
        tagged = await call(client, "remember", content="Coffee note: the team likes decaf", tags=["rare"])
        hits = (await call(client, "recall", query="espresso beans roaster", tags=["rare"], limit=1))[
            "results"
        ]
        assert [h["id"] for h in hits] == [tagged["id"]]


async def test_recall_time_range_uses_the_memory_timestamp(settings, minilm):
    async with open_client(settings, minilm) as client:
        old = await call(
            client, "remember", content="Sprint 1 goal was the login page", timestamp="2024-01-10T09:00:00"
        )
        new = await call(
            client,
            "remember",
            content="Sprint 9 goal was the billing page",
            timestamp="2025-06-01T09:00:00+02:00",
        )
        hits = (await call(client, "recall", query="sprint goal", since="2025-01-01T00:00:00Z"))["results"]
        assert [h["id"] for h in hits] == [new["id"]]
        hits = (await call(client, "recall", query="sprint goal", until="2025-01-01T00:00:00Z"))["results"]
        assert [h["id"] for h in hits] == [old["id"]]
        assert hits[0]["timestamp"] == "2024-01-10T09:00:00Z"


async def test_max_tokens_bounds_the_result_size(settings, minilm):
    async with open_client(settings, minilm) as client:
        for n in range(5):
            await call(client, "remember", content=f"Long design note {n}: " + "details about caching " * 40)
        full = await call(client, "recall", query="design note caching", limit=5)
        capped = await call(client, "recall", query="design note caching", limit=5, max_tokens=500)
        assert len(full["results"]) == 5 and not full["truncated"]
        assert 1 <= len(capped["results"]) < 5 and capped["truncated"]
