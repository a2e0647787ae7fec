"""Bad input through the MCP client: every tool refuses it with an actionable, leak-free error.

A refusal must name the offending argument (and the limit it broke), show no internals (stack
traces, SQL, the database's path) and leave the store exactly as it was. Hostile but valid text
(SQL and FTS5 metacharacters, control characters, unicode) is stored verbatim and searchable.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, error_text, open_client

pytestmark = pytest.mark.timeout(120)

LEAKS = ("Traceback", "SELECT", "INSERT", "UPDATE memories", 'File "')


def assert_clean(message: str, settings: Settings) -> None:
    """No stack trace, SQL or database location in what the caller sees."""
    for leak in LEAKS:
        assert leak not in message, f"{leak!r} leaked into: {message}"
    assert "sqlite" not in message.lower(), message
    for location in (str(settings.db), str(settings.db.parent), settings.db.name):
        assert location not in message, message


def assert_refused(message: str, settings: Settings, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert_clean(message, settings)


def cursor_of(position: Any) -> str:
    """A cursor-shaped string holding an arbitrary JSON payload."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"inner": value}
    return value


# (tool, arguments, fragments the error must contain: the field, then the limit where there is one)
OVERSIZED = [
    ("remember", {"content": "x" * 20_001}, ("content", "20000")),
    ("update", {"id": 1, "content": "x" * 20_001}, ("content", "20000")),
    ("record_event", {"content": "x" * 20_001}, ("content", "20000")),
    ("record_events", {"events": [{"content": "x" * 20_001}]}, ("content", "20000")),
    ("recall", {"query": "q" * 2_001}, ("query", "2000")),
    ("recall_events", {"query": "q" * 2_001}, ("query", "2000")),
    ("remember", {"content": "c", "tags": [f"t{i}" for i in range(33)]}, ("tags", "32")),
    ("update", {"id": 1, "tags": [f"t{i}" for i in range(33)]}, ("tags", "32")),
    ("record_event", {"content": "c", "tags": [f"t{i}" for i in range(33)]}, ("tags", "32")),
    ("recall", {"query": "q", "tags": [f"t{i}" for i in range(33)]}, ("tags", "32")),
    ("list_memories", {"tags": [f"t{i}" for i in range(33)]}, ("tags", "32")),
    ("remember", {"content": "c", "tags": ["t" * 65]}, ("tags", "64")),
    ("record_events", {"events": [{"content": "c", "tags": ["t" * 65]}]}, ("tags", "64")),
    ("list_memories", {"tags": ["t" * 65]}, ("tags", "64")),
    ("record_events", {"events": [{"content": f"e{i}"} for i in range(501)]}, ("events", "500")),
    ("record_event", {"content": "c", "context": {"blob": "b" * 16_400}}, ("context", "16384")),
    (
        "record_events",
        {"events": [{"content": "c", "context": {"blob": "b" * 16_400}}]},
        ("context", "16384"),
    ),
    ("record_event", {"content": "c", "context": nested(9)}, ("context", "8 levels")),
    ("record_events", {"events": [{"content": "c", "context": nested(9)}]}, ("context", "8 levels")),
    ("recall", {"query": "q", "namespace": [f"n{i}" for i in range(17)]}, ("namespace", "16")),
    ("recall", {"query": "q", "kind": [f"k{i}" for i in range(17)]}, ("kind", "16")),
    ("timeline", {"event_type": [f"k{i}" for i in range(17)]}, ("event_type", "16")),
    ("remember", {"content": "c", "source": "s" * 513}, ("source", "512")),
    ("forget", {"id": 1, "reason": "r" * 1_001}, ("reason", "1000")),
    ("record_event", {"content": "c", "session_id": "s" * 129}, ("session_id", "128")),
    ("list_memories", {"cursor": "c" * 201}, ("cursor", "200")),
]

WRONG_TYPES = [
    ("remember", {"content": 42}, ("content",)),
    ("remember", {"content": "c", "tags": {"a": 1}}, ("tags",)),
    ("remember", {"content": "c", "tags": "one,two"}, ("tags",)),
    ("remember", {"content": "c", "importance": "high"}, ("importance",)),
    ("recall", {"query": "q", "limit": "ten"}, ("limit",)),
    ("recall", {"query": ["q"]}, ("query",)),
    ("recall", {"query": "q", "namespace": 5}, ("namespace",)),
    ("recall", {"query": "q", "explain": "maybe"}, ("explain",)),
    ("recall", {"query": "q", "memory_types": ["facts"]}, ("memory_types",)),
    ("recall", {"query": "q", "since": "yesterday"}, ("since",)),
    ("get", {"id": "abc"}, ("id",)),
    ("get", {"id": 1.5}, ("id",)),
    ("get", {"id": 1, "include_history": "sometimes"}, ("include_history",)),
    ("update", {"id": 1, "importance": [0.5]}, ("importance",)),
    ("forget", {"id": {"id": 1}}, ("id",)),
    ("restore", {"id": None}, ("id",)),
    ("list_memories", {"status": "deleted"}, ("status",)),
    ("list_memories", {"cursor": 7}, ("cursor",)),
    ("record_event", {"content": "c", "outcome": "great"}, ("outcome",)),
    ("record_event", {"content": "c", "context": ["not", "an", "object"]}, ("context",)),
    ("record_event", {"content": "c", "timestamp": "not a time"}, ("timestamp",)),
    ("record_events", {"events": {"content": "c"}}, ("events",)),
    ("record_events", {"events": ["just text"]}, ("events",)),
    ("record_events", {"events": [{"content": "c", "colour": "red"}]}, ("colour",)),
    ("recall_events", {"query": "q", "session_id": 12}, ("session_id",)),
    ("timeline", {"limit": "all"}, ("limit",)),
]

OUT_OF_RANGE = [
    *[
        (tool, {**base, "limit": 0}, ("limit", "equal to 1"))
        for tool, base in [
            ("recall", {"query": "q"}),
            ("recall_events", {"query": "q"}),
            ("list_memories", {}),
            ("timeline", {}),
        ]
    ],
    *[
        (tool, {**base, "limit": 101}, ("limit", "equal to 100"))
        for tool, base in [
            ("recall", {"query": "q"}),
            ("recall_events", {"query": "q"}),
            ("list_memories", {}),
            ("timeline", {}),
        ]
    ],
    ("remember", {"content": "c", "importance": 1.5}, ("importance", "equal to 1")),
    ("remember", {"content": "c", "importance": -0.1}, ("importance", "equal to 0")),
    ("update", {"id": 1, "importance": 1.5}, ("importance", "equal to 1")),
    ("record_event", {"content": "c", "importance": 2}, ("importance", "equal to 1")),
    ("record_events", {"events": [{"content": "c", "importance": 1.01}]}, ("importance", "equal to 1")),
    # JSON has no NaN or Infinity: a float one arrives as null, a spelled-out one as a string.
    ("remember", {"content": "c", "importance": float("nan")}, ("importance",)),
    ("remember", {"content": "c", "importance": float("inf")}, ("importance",)),
    ("remember", {"content": "c", "importance": "NaN"}, ("importance", "finite")),
    ("remember", {"content": "c", "importance": "Infinity"}, ("importance", "finite")),
    ("record_event", {"content": "c", "importance": "-Infinity"}, ("importance", "finite")),
    ("record_events", {"events": [{"content": "c", "importance": "NaN"}]}, ("importance", "finite")),
    ("recall", {"query": "q", "max_tokens": 10}, ("max_tokens", "equal to 50")),
    ("get", {"id": 0}, ("id", "equal to 1")),
    ("forget", {"id": -5}, ("id", "equal to 1")),
    ("restore", {"id": 2**63}, ("id", "9223372036854775807")),
    ("record_events", {"events": []}, ("events", "at least 1 item")),
]

MISSING_OR_EMPTY = [
    ("remember", {}, ("content",)),
    ("remember", {"content": ""}, ("content",)),
    ("remember", {"content": " \n\t "}, ("content",)),
    ("recall", {}, ("query",)),
    ("recall", {"query": "   "}, ("query",)),
    ("get", {}, ("id",)),
    ("update", {}, ("id",)),
    ("forget", {}, ("id",)),
    ("restore", {}, ("id",)),
    ("record_event", {}, ("content",)),
    ("record_events", {}, ("events",)),
    ("record_events", {"events": [{"event_type": "action"}]}, ("content",)),
    ("recall_events", {}, ("query",)),
]

BAD_NAMES = ["", "bad ns", "-leading-dash", ".hidden", "../escape", "tab\there", "n" * 129, "ünïcode"]
NAMESPACED_CALLS = [
    ("remember", {"content": "c"}),
    ("recall", {"query": "q"}),
    ("list_memories", {}),
    ("record_event", {"content": "c"}),
    ("record_events", {"events": [{"content": "c"}]}),
    ("recall_events", {"query": "q"}),
    ("timeline", {}),
]

BAD_CURSORS = [
    "",
    "!!!",
    "not-a-cursor",
    "é",
    cursor_of([]),
    cursor_of(["a"]),
    cursor_of([True]),
    cursor_of({"id": 1}),
    cursor_of([None]),
    base64.urlsafe_b64encode(b"[1e999]").decode(),
]
OVERFLOWING_CURSORS = [cursor_of([10**20]), cursor_of([1e300]), cursor_of([2**63])]

BACKWARDS_WINDOWS = [
    {"since": "2024-06-02T00:00:00Z", "until": "2024-06-01T00:00:00Z"},
    {"since": "2024-06-01T00:00:00Z", "until": "2024-06-01T00:00:00Z"},
    # The same instant written in two zones is still an empty window.
    {"since": "2024-06-01T02:00:00+02:00", "until": "2024-06-01T00:00:00Z"},
]

# Aware times whose UTC instant falls outside what a datetime can hold.
UNREADABLE_TIMESTAMPS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]

HOSTILE_TEXT = [
    "Robert'); DROP TABLE memories;-- remembered the students table",
    "NEAR(alpha bravo) proximity operator in the notes",
    '"unbalanced quote about pelicans',
    "a* -b OR (c wildcard zebra",
    "content:column filter ^caret {braces} [brackets] giraffe",
    "tab\tseparated\tvalues and a\nnewline about otters",
    "naïve café déjà vu: 日本語のテキスト, Ελληνικά, emoji 🚀 rocket",
    "percent % underscore _ backslash \\ like-patterns narwhal",
]


def case_id(case: tuple[Any, ...]) -> str:
    tool, arguments, fragments = case
    return f"{tool}-{fragments[0]}-{'-'.join(sorted(arguments))[:40]}"


async def refusal(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    return await call_error(client, tool, **arguments)


# Each rejected call names the offending field and, where there is one, the limit it broke.
REJECTED = [
    *(("oversized", case) for case in OVERSIZED),
    *(("wrong-type", case) for case in WRONG_TYPES),
    *(("out-of-range", case) for case in OUT_OF_RANGE),
    *(("missing-or-blank", case) for case in MISSING_OR_EMPTY),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [case for _, case in REJECTED],
    ids=[f"{kind}-{case_id(case)}" for kind, case in REJECTED],
)
async def test_invalid_argument_is_rejected_naming_the_field_and_the_limit(
    settings: Settings,
    minilm: MiniLMEmbedder,
    tool: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    async with open_client(settings, minilm) as client:
        message = await refusal(client, tool, arguments)
    assert_refused(message, settings, *fragments)


@pytest.mark.parametrize(("tool", "arguments"), NAMESPACED_CALLS, ids=[tool for tool, _ in NAMESPACED_CALLS])
async def test_malformed_namespace_is_rejected_by_every_tool_that_takes_one(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, arguments: dict[str, Any]
) -> None:
    async with open_client(settings, minilm) as client:
        for name in BAD_NAMES:
            message = await refusal(client, tool, {**arguments, "namespace": name})
            assert_refused(message, settings, "namespace")
        if tool in ("recall", "recall_events"):
            message = await refusal(client, tool, {**arguments, "namespace": ["good", "bad ns"]})
            assert_refused(message, settings, "namespace")
            message = await refusal(client, tool, {**arguments, "namespace": []})
            assert_refused(message, settings, "namespace")
        assert (await call(client, "list_memories", status="all"))["items"] == []


@pytest.mark.parametrize("tool", ["get", "update", "forget", "restore"])
async def test_unknown_id_is_rejected_naming_the_id(
    settings: Settings, minilm: MiniLMEmbedder, tool: str
) -> None:
    arguments: dict[str, Any] = {"id": 999999}
    if tool == "update":
        arguments["content"] = "a revision of nothing"
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="the only stored fact")
        message = await refusal(client, tool, arguments)
    assert_refused(message, settings, "id", "999999")


@pytest.mark.parametrize("tool", ["list_memories", "timeline"])
@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_cursor_not_made_by_the_server_is_rejected_naming_cursor(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, cursor: str
) -> None:
    async with open_client(settings, minilm) as client:
        message = await refusal(client, tool, {"cursor": cursor})
    assert_refused(message, settings, "cursor", tool)


@pytest.mark.parametrize("tool", ["list_memories", "timeline"])
@pytest.mark.parametrize("cursor", OVERFLOWING_CURSORS)
async def test_cursor_with_an_out_of_range_position_is_rejected_naming_cursor(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, cursor: str
) -> None:
    async with open_client(settings, minilm) as client:
        message = await refusal(client, tool, {"cursor": cursor})
    assert_refused(message, settings, "cursor")


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("recall", {"query": "q"}),
        ("recall_events", {"query": "q"}),
        ("timeline", {}),
    ],
)
@pytest.mark.parametrize("window", BACKWARDS_WINDOWS, ids=["earlier", "equal", "equal-across-zones"])
async def test_until_not_after_since_is_rejected_naming_until(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, arguments: dict[str, Any], window: dict[str, str]
) -> None:
    async with open_client(settings, minilm) as client:
        message = await refusal(client, tool, {**arguments, **window})
    assert_refused(message, settings, "until", "since")


async def test_update_with_no_fields_is_rejected_listing_what_it_accepts(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="The build uses hatchling")
        message = await refusal(client, "update", {"id": stored["id"]})
        message_with_reason_only = await refusal(client, "update", {"id": stored["id"], "reason": "tidy"})
        detail = await call(client, "get", id=stored["id"])
    for text in (message, message_with_reason_only):
        assert_refused(text, settings, "content", "tags", "importance")
    assert detail["version"] == 1


async def test_update_of_an_event_is_rejected_naming_the_id(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        [event_id] = (
            await call(client, "record_event", content="Deployed release 1.4", event_type="action")
        )["ids"]
        message = await refusal(client, "update", {"id": event_id, "content": "Deployed release 1.5"})
        event = await call(client, "get", id=event_id)
    assert_refused(message, settings, "id", str(event_id), "event")
    assert event["content"] == "Deployed release 1.4"
    assert event["version"] == 1


async def test_update_of_a_forgotten_memory_is_rejected_until_restored(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="The staging database is on port 5433")
        await call(client, "forget", id=stored["id"], reason="moved")
        message = await refusal(client, "update", {"id": stored["id"], "content": "It is on port 5434"})
        forgotten = await call(client, "get", id=stored["id"])
        await call(client, "restore", id=stored["id"])
        updated = await call(client, "update", id=stored["id"], content="It is on port 5434")
    assert_refused(message, settings, "id", str(stored["id"]), "restore")
    assert (forgotten["status"], forgotten["content"], forgotten["version"]) == (
        "forgotten",
        "The staging database is on port 5433",
        1,
    )
    assert updated["status"] == "updated"


async def test_restore_that_would_duplicate_an_active_fact_is_refused(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="Releases are cut on Thursdays")
        await call(client, "forget", id=first["id"])
        second = await call(client, "remember", content="Releases are cut on Thursdays")
        message = await refusal(client, "restore", {"id": first["id"]})
        still_forgotten = await call(client, "get", id=first["id"])
        active = await call(client, "list_memories")
    assert second["status"] == "stored" and second["id"] != first["id"]
    assert_refused(message, settings, "content", str(second["id"]))
    assert still_forgotten["status"] == "forgotten"
    assert [item["id"] for item in active["items"]] == [second["id"]]


async def test_update_that_would_duplicate_another_fact_is_refused_naming_content(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        first = await call(client, "remember", content="Coffee is in the left cupboard")
        second = await call(client, "remember", content="Tea is in the right cupboard")
        message = await refusal(
            client, "update", {"id": second["id"], "content": "Coffee is in the left cupboard"}
        )
        unchanged = await call(client, "get", id=second["id"])
    assert_refused(message, settings, "content", str(first["id"]))
    assert (unchanged["content"], unchanged["version"]) == ("Tea is in the right cupboard", 1)


@pytest.mark.parametrize("timestamp", UNREADABLE_TIMESTAMPS, ids=["year-0", "year-10000"])
@pytest.mark.parametrize("tool", ["remember", "record_event", "record_events"])
async def test_timestamp_outside_the_representable_range_never_breaks_later_reads(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, timestamp: str
) -> None:
    arguments: dict[str, Any] = (
        {"events": [{"content": "Edge of time", "timestamp": timestamp}]}
        if tool == "record_events"
        else {"content": "Edge of time", "timestamp": timestamp}
    )
    async with open_client(settings, minilm) as client:
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            assert_refused(error_text(result), settings, "timestamp")
            return
        await call(client, "recall", query="Edge of time")
        await call(client, "recall_events", query="Edge of time")
        await call(client, "list_memories")
        await call(client, "timeline")


@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize(
    ("bad_event", "fragment"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * 20_001}, "content"),
        ({"content": "bad type", "event_type": "Not A Type"}, "event_type"),
        ({"content": "bad outcome", "outcome": "triumph"}, "outcome"),
        ({"content": "deep", "context": nested(9)}, "context"),
        ({"content": "bad tag", "tags": ["line\nbreak"]}, "tags"),
        ({"content": "unknown field", "severity": "high"}, "severity"),
    ],
    ids=["empty", "oversized", "event_type", "outcome", "context", "tag", "extra-field"],
)
async def test_record_events_with_one_bad_event_records_none_of_them(
    settings: Settings, minilm: MiniLMEmbedder, bad_event: dict[str, Any], fragment: str, position: int
) -> None:
    events: list[dict[str, Any]] = [{"content": f"good step {i}", "session_id": "s1"} for i in range(2)]
    events.insert(position, {**bad_event, "session_id": "s1"})
    async with open_client(settings, minilm) as client:
        message = await refusal(client, "record_events", {"events": events})
        page = await call(client, "timeline")
        in_session = await call(client, "timeline", session_id="s1")
    assert_refused(message, settings, fragment, f"events[{position}]")
    assert page["events"] == [] and in_session["events"] == []


async def test_failed_calls_leave_every_memory_unchanged(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        kept = await call(client, "remember", content="Invoices are due on the 5th", tags=["billing"])
        twin = await call(client, "remember", content="Receipts go to the finance inbox")
        await call(client, "forget", id=twin["id"])
        await call(client, "remember", content="Receipts go to the finance inbox")
        [event_id] = (await call(client, "record_event", content="Sent the March invoice"))["ids"]
        before = await call(client, "list_memories", status="all", limit=100)
        timeline_before = await call(client, "timeline")
        failing: list[tuple[str, dict[str, Any]]] = [
            ("remember", {"content": "x" * 20_001}),
            ("remember", {"content": "Invoices are due on the 6th", "importance": 7}),
            ("update", {"id": kept["id"]}),
            ("update", {"id": kept["id"], "content": "Receipts go to the finance inbox"}),
            ("update", {"id": kept["id"], "tags": ["t" * 65]}),
            ("update", {"id": twin["id"], "content": "A forgotten memory cannot change"}),
            ("update", {"id": event_id, "content": "Sent the April invoice"}),
            ("update", {"id": 999999, "content": "nothing"}),
            ("forget", {"id": 999999}),
            ("restore", {"id": twin["id"]}),
            ("record_event", {"content": "c", "context": nested(9)}),
            ("record_events", {"events": [{"content": "ok"}, {"content": ""}]}),
            ("list_memories", {"cursor": "bogus"}),
        ]
        for tool, arguments in failing:
            assert_clean(await refusal(client, tool, arguments), settings)
        after = await call(client, "list_memories", status="all", limit=100)
        timeline_after = await call(client, "timeline")
        history = await call(client, "get", id=kept["id"], include_history=True)
    assert after == before
    assert timeline_after == timeline_before
    assert history["version"] == 1 and history["history"] == []


@pytest.mark.parametrize(
    "text",
    HOSTILE_TEXT,
    ids=[
        "sql-injection",
        "fts-near",
        "unbalanced-quote",
        "fts-operators",
        "fts-column-syntax",
        "control-chars",
        "unicode",
        "like-patterns",
    ],
)
async def test_hostile_text_is_stored_verbatim_and_found_by_searching_for_it(
    settings: Settings, minilm: MiniLMEmbedder, text: str
) -> None:
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="An unrelated note about gardening tools")
        fact = await call(
            client, "remember", content=text, tags=[text[:64].replace("\t", " ").replace("\n", " ")]
        )
        [event_id] = (await call(client, "record_event", content=text, context={"raw": text}))["ids"]
        stored_fact = await call(client, "get", id=fact["id"])
        stored_event = await call(client, "get", id=event_id)
        recalled = await call(client, "recall", query=text, explain=True)
        recalled_events = await call(client, "recall_events", query=text, explain=True)
        by_tag = await call(client, "list_memories", tags=stored_fact["tags"])
        again = await call(client, "remember", content=text)
    assert stored_fact["content"] == text
    assert (stored_event["content"], stored_event["context"]) == (text, {"raw": text})
    hits = {hit["id"]: hit for hit in recalled["results"]}
    assert fact["id"] in hits and event_id in hits
    # Found by its words, not only by meaning: the lexical signal matched the raw text as a query.
    assert hits[fact["id"]]["explain"]["lexical"] is not None
    assert [hit["id"] for hit in recalled_events["results"]][:1] == [event_id]
    assert [item["id"] for item in by_tag["items"]] == [fact["id"]]
    assert (again["status"], again["id"]) == ("duplicate", fact["id"])


async def test_namespaces_never_see_each_others_memories(settings: Settings, minilm: MiniLMEmbedder) -> None:
    async with open_client(settings, minilm) as client:
        in_a = await call(client, "remember", content="The deploy key rotates monthly", namespace="a")
        in_b = await call(client, "remember", content="The deploy key rotates weekly", namespace="b")
        [event_a] = (
            await call(
                client, "record_event", content="Rotated the deploy key", namespace="a", session_id="shared"
            )
        )["ids"]
        [event_b] = (
            await call(
                client, "record_event", content="Rotated the deploy key", namespace="b", session_id="shared"
            )
        )["ids"]
        seen: dict[str, dict[str, set[int]]] = {}
        for namespace in ("a", "b"):
            seen[namespace] = {
                "recall": {
                    hit["id"]
                    for hit in (
                        await call(client, "recall", query="deploy key rotation", namespace=namespace)
                    )["results"]
                },
                "recall_events": {
                    hit["id"]
                    for hit in (
                        await call(client, "recall_events", query="deploy key rotation", namespace=namespace)
                    )["results"]
                },
                "list_memories": {
                    item["id"]
                    for item in (await call(client, "list_memories", namespace=namespace, status="all"))[
                        "items"
                    ]
                },
                "timeline": {
                    event["id"]
                    for event in (await call(client, "timeline", namespace=namespace, session_id="shared"))[
                        "events"
                    ]
                },
            }
        both = await call(client, "recall", query="deploy key rotation", namespace=["a", "b"])
        both_events = await call(client, "recall_events", query="deploy key rotation", namespace=["b", "a"])
        unknown = await call(client, "recall", query="deploy key rotation", namespace="c")
    assert seen["a"] == {
        "recall": {in_a["id"], event_a},
        "recall_events": {event_a},
        "list_memories": {in_a["id"]},
        "timeline": {event_a},
    }
    assert seen["b"] == {
        "recall": {in_b["id"], event_b},
        "recall_events": {event_b},
        "list_memories": {in_b["id"]},
        "timeline": {event_b},
    }
    assert {hit["id"] for hit in both["results"]} == {in_a["id"], in_b["id"], event_a, event_b}
    assert {hit["id"] for hit in both_events["results"]} == {event_a, event_b}
    assert unknown["results"] == []


@pytest.mark.parametrize(
    ("tool", "arguments", "unknown"),
    [
        ("recall", {"query": "deploys", "namespaces": ["a"]}, "namespaces"),
        ("remember", {"content": "x", "tag": "t"}, "tag"),
        ("timeline", {"session": "s1"}, "session"),
    ],
)
async def test_an_argument_no_parameter_takes_is_refused_not_silently_dropped(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, arguments: dict[str, Any], unknown: str
) -> None:
    async with open_client(settings, minilm) as client:
        message = await refusal(client, tool, arguments)
        listed = await call(client, "list_memories")
    assert_refused(message, settings, unknown)
    assert listed["items"] == []
