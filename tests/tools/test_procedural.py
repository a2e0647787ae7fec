"""The procedural toolset through an in-process MCP client session, with the real default model."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, call_error, open_client, wait_for
from tests.embeddings.test_loading import GatedEmbedder
from tests.tools.test_bad_input import BAD_NAMES, assert_refused, cursor_of

pytestmark = pytest.mark.timeout(120)

RELEASE = {
    "name": "Release to PyPI",
    "goal": "Publish a new version of the package on PyPI",
    "steps": [
        "Bump the version in pyproject.toml",
        "Build the wheel and sdist with python -m build",
        "Upload them with twine",
    ],
    "preconditions": ["The test suite passes on main"],
    "expected_outcome": "The new version installs with pip",
    "tags": ["release", "python"],
}
BREAD = {
    "name": "Bake sourdough bread",
    "goal": "Bake a loaf of sourdough bread at home",
    "steps": ["Feed the starter", "Mix flour, water and salt", "Proof overnight", "Bake at 250 C"],
    "tags": ["kitchen"],
}


async def save(client: Client, procedure: dict[str, Any], **overrides: Any) -> int:
    result = await call(client, "save_procedure", **{**procedure, **overrides})
    return int(result["id"])


async def run(client: Client, procedure_id: int, *outcomes: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for outcome in outcomes:
        result = await call(client, "record_execution", id=procedure_id, outcome=outcome)
    return result


async def found(client: Client, query: str, **arguments: Any) -> list[int]:
    result = await call(client, "find_procedures", query=query, **arguments)
    return [hit["id"] for hit in result["results"]]


async def test_save_then_get_returns_every_field_with_fresh_statistics(settings, minilm):
    async with open_client(settings, minilm) as client:
        events = [{"content": f"step {n}", "session_id": "s-7"} for n in range(3)]
        first, _, third = (await call(client, "record_events", events=events, namespace="lib"))["ids"]
        saved = await call(
            client, "save_procedure", **RELEASE, namespace="lib", session_id="s-7", event_ids=[third, first]
        )
        assert saved["vector"] == "stored"
        detail = await call(client, "get_procedure", id=saved["id"], namespace="lib")
    assert {key: detail[key] for key in RELEASE} == RELEASE
    assert (detail["namespace"], detail["origin"], detail["status"], detail["validation"]) == (
        "lib",
        "saved",
        "active",
        "unvalidated",
    )
    assert detail["stats"] == {
        "runs": 0,
        "successes": 0,
        "failures": 0,
        "partials": 0,
        "success_rate": None,
        "confidence": 0.5,
        "mean_duration": None,
        "last_used_at": None,
    }
    assert (detail["source_session_id"], detail["source_event_ids"]) == ("s-7", [third, first])
    assert (detail["evidence_sessions"], detail["evidence_event_ids"]) == (["s-7"], [third, first])
    assert detail["recent_runs"] == []


async def test_find_procedures_finds_by_meaning_and_by_keyword(settings, minilm):
    async with open_client(settings, minilm) as client:
        release = await save(client, RELEASE)
        await save(client, BREAD)
        by_keyword = await call(client, "find_procedures", query="twine upload")
        # No word in common with the procedure: only its vector can find it.
        by_meaning = await call(
            client, "find_procedures", query="ship a new build of my library to the index"
        )
    for result in (by_keyword, by_meaning):
        assert result["mode"] == "hybrid" and result["notice"] is None
        assert result["results"][0]["id"] == release
        assert result["results"][0]["steps"] == RELEASE["steps"]
    assert by_meaning["results"][0]["score"] > 0


async def test_record_execution_updates_the_statistics_and_confidence(settings, minilm):
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE)
        for outcome, duration in [("success", 10), ("success", 20), ("failure", 30), ("partial", None)]:
            arguments: dict[str, Any] = {"id": procedure_id, "outcome": outcome}
            if duration is not None:
                arguments["duration"] = duration
            result = await call(client, "record_execution", **arguments, notes=f"{outcome} run")
        detail = await call(client, "get_procedure", id=procedure_id, runs=2)
    stats = result["stats"]
    assert result["recorded"] is True
    assert {key: stats[key] for key in ("runs", "successes", "failures", "partials")} == {
        "runs": 4,
        "successes": 2,
        "failures": 1,
        "partials": 1,
    }
    assert stats["success_rate"] == pytest.approx(2.5 / 4)
    assert stats["confidence"] == pytest.approx((2 + 0.5 + 1) / (4 + 2))
    assert stats["mean_duration"] == pytest.approx(20.0)  # over the three timed runs
    assert stats["last_used_at"] is not None and detail["stats"] == stats
    assert [(r["outcome"], r["notes"], r["source"]) for r in detail["recent_runs"]] == [
        ("partial", "partial run", "execution"),
        ("failure", "failure run", "execution"),
    ]


async def test_a_session_is_counted_once_however_often_it_is_reported(settings, minilm):
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE)
        events = [{"content": f"release step {n}", "session_id": "s1"} for n in range(2)]
        event_ids = (await call(client, "record_events", events=events))["ids"]
        first = await call(
            client,
            "record_execution",
            id=procedure_id,
            outcome="success",
            session_id="s1",
            event_ids=event_ids,
        )
        again = await call(client, "record_execution", id=procedure_id, outcome="failure", session_id="s1")
        other = await call(client, "record_execution", id=procedure_id, outcome="failure", session_id="s2")
        detail = await call(client, "get_procedure", id=procedure_id)
    assert (first["recorded"], again["recorded"], other["recorded"]) == (True, False, True)
    assert again["stats"] == first["stats"]
    assert (other["stats"]["runs"], other["stats"]["failures"]) == (2, 1)
    assert detail["evidence_sessions"] == ["s2", "s1"] and detail["evidence_event_ids"] == event_ids


async def test_a_proven_procedure_outranks_an_equally_relevant_failing_one(settings, minilm):
    async with open_client(settings, minilm) as client:
        # Saved first, so a tie would go to the other (ties favour the newer procedure).
        proven = await save(client, RELEASE, name="Release to PyPI (A)")
        failing = await save(client, RELEASE, name="Release to PyPI (B)")
        await run(client, proven, "success", "success", "success", "partial")
        await run(client, failing, "failure", "failure", "failure", "success")
        result = await call(client, "find_procedures", query="publish the package on PyPI", explain=True)
    first, second = result["results"]
    assert (first["id"], second["id"]) == (proven, failing)
    assert first["explain"]["relevance"] == pytest.approx(second["explain"]["relevance"], abs=0.05)
    assert first["explain"]["confidence"] > 0.5 > second["explain"]["confidence"]


async def test_relevance_comes_before_a_good_record(settings, minilm):
    async with open_client(settings, minilm) as client:
        bread = await save(client, BREAD)
        release = await save(client, RELEASE)
        await run(client, bread, *["success"] * 10)
        await run(client, release, "failure")
        ids = await found(client, "publish a new version on PyPI")
    assert ids[0] == release


async def test_explain_shows_the_parts_of_the_score(settings, minilm):
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE)
        await run(client, procedure_id, "success")
        result = await call(client, "find_procedures", query="release the package to PyPI", explain=True)
        plain = await call(client, "find_procedures", query="release the package to PyPI")
    [hit] = result["results"]
    explain = hit["explain"]
    assert explain["lexical"]["rank"] == 1 and explain["dense"]["rank"] == 1
    assert explain["relevance"] == pytest.approx(1.0)  # first in both signals
    assert explain["confidence"] == pytest.approx(2 / 3)
    assert 0.99 < explain["recency"] <= 1.0  # used a moment ago
    expected = explain["relevance"] * (0.5 + 0.4 * explain["confidence"] + 0.1 * explain["recency"])
    assert hit["score"] == pytest.approx(expected)
    assert plain["results"][0]["explain"] is None


async def test_retired_procedure_is_not_found_until_restored(settings, minilm):
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE)
        retired = await call(client, "retire_procedure", id=procedure_id, reason="moved to CI")
        again = await call(client, "retire_procedure", id=procedure_id)
        hidden = await found(client, "release to PyPI")
        included = await found(client, "release to PyPI", include_retired=True)
        detail = await call(client, "get_procedure", id=procedure_id)
        listed = await call(client, "list_procedures")
        listed_retired = await call(client, "list_procedures", status="retired")
        restored = await call(client, "restore_procedure", id=procedure_id)
        back = await found(client, "release to PyPI")
    assert retired == {"id": procedure_id, "status": "retired", "changed": True}
    assert again["changed"] is False
    assert hidden == [] and included == [procedure_id]
    assert (detail["status"], detail["retire_reason"]) == ("retired", "moved to CI")
    assert detail["retired_at"] is not None
    assert listed["items"] == [] and [p["id"] for p in listed_retired["items"]] == [procedure_id]
    assert restored == {"id": procedure_id, "status": "active", "changed": True}
    assert back == [procedure_id]


async def test_a_taken_name_is_a_conflict_that_says_what_to_do(settings, minilm):
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE)
        active = await call_error(client, "save_procedure", **{**RELEASE, "name": "  release TO pypi "})
        await call(client, "retire_procedure", id=procedure_id)
        retired = await call_error(client, "save_procedure", **RELEASE)
        elsewhere = await save(client, RELEASE, namespace="other")
        listed = await call(client, "list_procedures", status="all")
    assert_refused(active, settings, "name", "Release to PyPI", "another name")
    assert_refused(retired, settings, "name", "restore_procedure", str(procedure_id), "another name")
    assert elsewhere != procedure_id
    assert [p["id"] for p in listed["items"]] == [procedure_id]


async def test_two_saves_of_one_name_at_once_store_one_procedure(settings, minilm):
    async with open_client(settings, minilm) as client:
        results = await asyncio.gather(*(client.call_tool("save_procedure", RELEASE) for _ in range(2)))
        listed = await call(client, "list_procedures")
    assert sorted(bool(result.is_error) for result in results) == [False, True]
    assert len(listed["items"]) == 1


async def test_namespaces_never_see_each_others_procedures(settings, minilm):
    async with open_client(settings, minilm) as client:
        in_a = await save(client, RELEASE, namespace="a")
        in_b = await save(client, RELEASE, namespace="b")
        seen = {
            namespace: (
                await found(client, "release to PyPI", namespace=namespace, include_retired=True),
                [p["id"] for p in (await call(client, "list_procedures", namespace=namespace))["items"]],
            )
            for namespace in ("a", "b", "c")
        }
    assert seen == {"a": ([in_a], [in_a]), "b": ([in_b], [in_b]), "c": ([], [])}


async def pages(client: Client, **arguments: Any) -> list[int]:
    """Every procedure list_procedures returns, following next_cursor to the last page."""
    seen, cursor = [], None
    while True:
        page = await call(client, "list_procedures", **arguments, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_list_procedures_pages_through_each_sort_without_gaps(settings, minilm):
    async with open_client(settings, minilm) as client:
        variant = [await save(client, BREAD, name=f"Bread variant {n}") for n in range(7)]
        # Variant n (1-6) fails once and succeeds n - 1 times: success rate (n - 1) / n, confidence
        # n / (n + 2). Variant 0 never runs: last by success rate, tied at 0.5 with variant 2 by
        # confidence (fewer runs: after it). Runs go from variant 6 down, so variant 1 ran last.
        for n in range(6, 0, -1):
            await run(client, variant[n], "failure", *["success"] * (n - 1))
        by_effectiveness = await pages(client, limit=3)
        by_confidence = await pages(client, sort="confidence", limit=2)
        by_recency = await pages(client, sort="recency", limit=4)
        listed = await call(client, "list_procedures", limit=1)
    assert by_effectiveness == [variant[n] for n in (6, 5, 4, 3, 2, 1, 0)]
    assert by_confidence == [variant[n] for n in (6, 5, 4, 3, 2, 0, 1)]
    assert by_recency == [variant[n] for n in (1, 2, 3, 4, 5, 6, 0)]
    assert "steps" not in listed["items"][0] and listed["items"][0]["stats"]["runs"] == 6


async def test_list_procedures_filters_by_tags_and_status(settings, minilm):
    async with open_client(settings, minilm) as client:
        release = await save(client, RELEASE)
        bread = await save(client, BREAD)
        docs = await save(client, RELEASE, name="Release docs", tags=["release", "docs"])
        await call(client, "retire_procedure", id=docs)
        tagged = await pages(client, tags=["release"], status="all")
        both_tags = await pages(client, tags=["release", "python"])
        active = await pages(client, tags=["kitchen"])
        retired = await pages(client, tags=["kitchen"], status="retired")
    assert sorted(tagged) == [release, docs]
    assert both_tags == [release]
    assert (active, retired) == ([bread], [])


async def test_vectors_saved_while_the_model_loads_are_computed_later(settings, minilm):
    embedder = GatedEmbedder(minilm)
    # Calls wait for the loading model this long, then go on without it.
    async with open_client(dataclasses.replace(settings, embedding_load_wait=0.2), embedder) as client:
        saved = await call(client, "save_procedure", **RELEASE)
        assert saved["vector"] == "pending"
        lexical = await call(client, "find_procedures", query="twine upload")
        assert lexical["mode"] == "lexical" and "loading" in lexical["notice"]
        assert [hit["id"] for hit in lexical["results"]] == [saved["id"]]

        embedder.gate.set()

        async def found_by_meaning() -> bool:
            result = await call(
                client, "find_procedures", query="ship a new build of my library to the index", explain=True
            )
            hits = result["results"]
            return result["mode"] == "hybrid" and bool(hits) and hits[0]["explain"]["dense"] is not None

        await wait_for(found_by_meaning)


# (tool, arguments, fragments the error must contain: the field, then the limit where there is one)
REJECTED = [
    ("save_procedure", {**RELEASE, "name": "n" * 201}, ("name", "200")),
    ("save_procedure", {**RELEASE, "name": "two\nlines"}, ("name",)),
    ("save_procedure", {**RELEASE, "name": "   "}, ("name",)),
    ("save_procedure", {**RELEASE, "goal": "g" * 2_001}, ("goal", "2000")),
    ("save_procedure", {**RELEASE, "steps": []}, ("steps", "at least 1")),
    ("save_procedure", {**RELEASE, "steps": [f"s{n}" for n in range(51)]}, ("steps", "50")),
    ("save_procedure", {**RELEASE, "steps": ["ok", "s" * 2_001]}, ("steps", "2000")),
    ("save_procedure", {**RELEASE, "steps": ["ok", " "]}, ("steps",)),
    ("save_procedure", {**RELEASE, "steps": "one step"}, ("steps",)),
    ("save_procedure", {**RELEASE, "preconditions": [f"p{n}" for n in range(21)]}, ("preconditions", "20")),
    ("save_procedure", {**RELEASE, "expected_outcome": "o" * 2_001}, ("expected_outcome", "2000")),
    ("save_procedure", {**RELEASE, "tags": [f"t{n}" for n in range(33)]}, ("tags", "32")),
    ("save_procedure", {**RELEASE, "event_ids": list(range(1, 202))}, ("event_ids", "200")),
    ("save_procedure", {**RELEASE, "event_ids": [0]}, ("event_ids", "equal to 1")),
    ("save_procedure", {**RELEASE, "session_id": "s" * 129}, ("session_id", "128")),
    ("save_procedure", {"goal": "g", "steps": ["s"]}, ("name",)),
    ("find_procedures", {"query": "q" * 2_001}, ("query", "2000")),
    ("find_procedures", {"query": "  "}, ("query",)),
    ("find_procedures", {"query": "q", "limit": 101}, ("limit", "equal to 100")),
    ("find_procedures", {"query": "q", "explain": "maybe"}, ("explain",)),
    ("get_procedure", {"id": 0}, ("id", "equal to 1")),
    ("get_procedure", {"id": 1, "runs": 101}, ("runs", "equal to 100")),
    ("record_execution", {"id": 1, "outcome": "great"}, ("outcome",)),
    ("record_execution", {"id": 1}, ("outcome",)),
    ("record_execution", {"id": 1, "outcome": "success", "duration": -1}, ("duration", "equal to 0")),
    ("record_execution", {"id": 1, "outcome": "success", "duration": "Infinity"}, ("duration", "finite")),
    ("record_execution", {"id": 1, "outcome": "success", "notes": "n" * 2_001}, ("notes", "2000")),
    ("list_procedures", {"sort": "best"}, ("sort",)),
    ("list_procedures", {"status": "deleted"}, ("status",)),
    ("list_procedures", {"origin": "found"}, ("origin",)),
    ("list_procedures", {"limit": 0}, ("limit", "equal to 1")),
    ("list_procedures", {"cursor": "c" * 201}, ("cursor", "200")),
    ("retire_procedure", {"id": 1, "reason": "r" * 1_001}, ("reason", "1000")),
    ("restore_procedure", {"id": "one"}, ("id",)),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    REJECTED,
    ids=[f"{tool}-{fragments[0]}-{n}" for n, (tool, _, fragments) in enumerate(REJECTED)],
)
async def test_invalid_argument_is_rejected_naming_the_field_and_the_limit(
    settings: Settings,
    minilm: MiniLMEmbedder,
    tool: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    async with open_client(settings, minilm) as client:
        message = await call_error(client, tool, **arguments)
        listed = await call(client, "list_procedures", status="all")
    assert_refused(message, settings, *fragments)
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("save_procedure", RELEASE),
        ("find_procedures", {"query": "q"}),
        ("list_procedures", {}),
    ],
)
async def test_malformed_namespace_is_rejected(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, arguments: dict[str, Any]
) -> None:
    async with open_client(settings, minilm) as client:
        for name in BAD_NAMES:
            assert_refused(await call_error(client, tool, **arguments, namespace=name), settings, "namespace")


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("get_procedure", {}),
        ("record_execution", {"outcome": "success"}),
        ("retire_procedure", {}),
        ("restore_procedure", {}),
    ],
)
async def test_unknown_id_is_rejected_naming_the_id(
    settings: Settings, minilm: MiniLMEmbedder, tool: str, arguments: dict[str, Any]
) -> None:
    async with open_client(settings, minilm) as client:
        await save(client, RELEASE)
        message = await call_error(client, tool, id=999999, **arguments)
    assert_refused(message, settings, "id", "999999", "find_procedures")


@pytest.mark.parametrize("cursor", ["bogus", cursor_of(["a"]), cursor_of([2**63])])
async def test_a_cursor_not_made_by_the_server_is_rejected_naming_cursor(
    settings: Settings, minilm: MiniLMEmbedder, cursor: str
) -> None:
    async with open_client(settings, minilm) as client:
        message = await call_error(client, "list_procedures", cursor=cursor)
    assert_refused(message, settings, "cursor", "list_procedures")


async def test_hostile_text_is_stored_verbatim_and_found(settings: Settings, minilm: MiniLMEmbedder) -> None:
    hostile = "Robert'); DROP TABLE procedures;-- NEAR(a b) \"unbalanced * -x ^y"
    async with open_client(settings, minilm) as client:
        procedure_id = await save(client, RELEASE, name=hostile[:60], goal=hostile, steps=[hostile])
        detail = await call(client, "get_procedure", id=procedure_id)
        result = await call(client, "find_procedures", query=hostile, explain=True)
    assert (detail["goal"], detail["steps"]) == (hostile, [hostile])
    assert result["results"][0]["id"] == procedure_id
    assert result["results"][0]["explain"]["lexical"] is not None
