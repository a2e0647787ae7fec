"""The episodic toolset through an in-process MCP client session, with the real default model."""

from __future__ import annotations

from tests.conftest import call, open_client


async def test_record_event_stores_its_session_outcome_and_context(settings, minilm):
    async with open_client(settings, minilm) as client:
        recorded = await call(
            client,
            "record_event",
            content="Ran the migration on prod",
            event_type="action",
            session_id="deploy-42",
            outcome="success",
            context={"rows": 1200, "tables": ["a"]},
            timestamp="2025-03-01T10:00:00Z",
            tags=["deploy"],
        )
        [event_id] = recorded["ids"]
        event = await call(client, "get", id=event_id)
        assert event["system"] == "episodic" and event["event_type"] == "action" == event["kind"]
        assert event["session_id"] == "deploy-42" and event["outcome"] == "success"
        assert event["context"] == {"rows": 1200, "tables": ["a"]}
        assert event["timestamp"] == "2025-03-01T10:00:00Z"


async def test_the_same_event_text_twice_is_two_events(settings, minilm):
    async with open_client(settings, minilm) as client:
        first = await call(client, "record_event", content="Tests failed", event_type="error")
        second = await call(client, "record_event", content="Tests failed", event_type="error")
        assert first["ids"] != second["ids"]


async def test_record_events_keeps_order_and_timeline_is_chronological(settings, minilm):
    async with open_client(settings, minilm) as client:
        events = [
            {
                "content": "Opened the bug report",
                "event_type": "observation",
                "session_id": "s1",
                "timestamp": "2025-05-01T10:00:02Z",
            },
            {
                "content": "Decided to bisect",
                "event_type": "decision",
                "session_id": "s1",
                "timestamp": "2025-05-01T10:00:01Z",
            },
            {
                "content": "Found the bad commit",
                "event_type": "observation",
                "session_id": "s1",
                "timestamp": "2025-05-01T10:00:03Z",
                "outcome": "success",
            },
            {
                "content": "Unrelated chat",
                "event_type": "message",
                "session_id": "s2",
                "timestamp": "2025-05-01T10:00:00Z",
            },
        ]
        ids = (await call(client, "record_events", events=events))["ids"]
        assert len(ids) == 4

        session = await call(client, "timeline", session_id="s1")
        assert [e["id"] for e in session["events"]] == [ids[1], ids[0], ids[2]]
        window = await call(client, "timeline", since="2025-05-01T10:00:01Z", until="2025-05-01T10:00:03Z")
        assert [e["id"] for e in window["events"]] == [ids[1], ids[0]]
        decisions = await call(client, "timeline", event_type=["decision"])
        assert [e["id"] for e in decisions["events"]] == [ids[1]]


async def test_timeline_pages_through_events_with_equal_timestamps(settings, minilm):
    async with open_client(settings, minilm) as client:
        events = [
            {"content": f"step {n}", "session_id": "s", "timestamp": "2025-01-01T00:00:00Z"} for n in range(5)
        ]
        ids = (await call(client, "record_events", events=events))["ids"]
        seen, cursor = [], None
        while True:
            page = await call(
                client, "timeline", session_id="s", limit=2, **({"cursor": cursor} if cursor else {})
            )
            seen += [e["id"] for e in page["events"]]
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == ids


async def test_recall_events_filters_by_session_type_and_time(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "record_events",
            events=[
                {
                    "content": "pytest failed with ImportError in cli.py",
                    "event_type": "error",
                    "session_id": "a",
                    "timestamp": "2025-02-01T00:00:00Z",
                },
                {
                    "content": "pytest failed with a timeout in the HTTP test",
                    "event_type": "error",
                    "session_id": "b",
                    "timestamp": "2025-03-01T00:00:00Z",
                },
                {
                    "content": "Decided to pin pytest",
                    "event_type": "decision",
                    "session_id": "a",
                    "timestamp": "2025-02-02T00:00:00Z",
                },
            ],
        )
        await call(client, "remember", content="pytest is the test runner")  # a fact, never an event
        everything = await call(client, "recall_events", query="pytest failure")
        assert {h["system"] for h in everything["results"]} == {"episodic"}
        assert len(everything["results"]) == 3

        in_b = await call(client, "recall_events", query="pytest failure", session_id="b")
        assert [h["session_id"] for h in in_b["results"]] == ["b"]
        errors = await call(
            client, "recall_events", query="pytest", event_type=["error"], until="2025-02-15T00:00:00Z"
        )
        assert [h["content"] for h in errors["results"]] == ["pytest failed with ImportError in cli.py"]


async def test_recall_searches_facts_and_events_unless_told_otherwise(settings, minilm):
    async with open_client(settings, minilm) as client:
        fact = (await call(client, "remember", content="The release train leaves on Fridays"))["id"]
        [event] = (await call(client, "record_event", content="Cut the release branch on Friday"))["ids"]
        both = {h["id"] for h in (await call(client, "recall", query="release Friday"))["results"]}
        only_facts = await call(client, "recall", query="release Friday", memory_types=["semantic"])
        assert both == {fact, event}
        assert [h["id"] for h in only_facts["results"]] == [fact]


async def test_an_event_can_be_forgotten_and_restored(settings, minilm):
    async with open_client(settings, minilm) as client:
        [event] = (
            await call(client, "record_event", content="Pasted a customer's email address by mistake")
        )["ids"]
        await call(client, "forget", id=event, reason="personal data")
        assert (await call(client, "recall_events", query="customer email"))["results"] == []
        assert (await call(client, "timeline"))["events"] == []
        await call(client, "restore", id=event)
        assert [e["id"] for e in (await call(client, "timeline"))["events"]] == [event]


async def test_max_tokens_counts_the_whole_result_not_just_its_content(settings, minilm):
    async with open_client(settings, minilm) as client:
        bulky = {"log": "x" * 12_000}
        await call(
            client,
            "record_events",
            events=[{"content": f"short event {n}", "context": bulky} for n in range(3)],
        )
        result = await call(client, "recall_events", query="short event", max_tokens=4_000)
        assert len(result["results"]) == 1 and result["truncated"]
