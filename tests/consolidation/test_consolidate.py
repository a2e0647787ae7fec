"""The consolidation toolset through MCP, with the real model: the learning cycle, facts, dry runs,
idempotence, System 2 review by sampling, decay and compaction."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import CreateMessageRequestParams, CreateMessageResult, TextContent

from athena_mcp.consolidation import worker
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from athena_mcp.store import procedures
from tests.conftest import call, call_error, open_client, services_for
from tests.embeddings.test_loading import GatedEmbedder

pytestmark = pytest.mark.timeout(120)

RELEASE_STEPS = [
    "Run the full test suite with pytest",
    "Bump the version number in pyproject.toml",
    "Build the wheel and the sdist",
    "Upload the release to PyPI with twine",
]
RELEASE_STEPS_REWORDED = [
    "Run the whole test suite using pytest",
    "Bump the version in pyproject.toml",
    "Build the sdist and the wheel",
    "Upload the new release to PyPI using twine",
]


def release_session(session_id: str, steps: list[str], outcome: str, day: int) -> list[dict[str, Any]]:
    start = datetime(2026, 11, day, 9, 0, tzinfo=UTC)
    events = [
        {
            "content": "Goal: publish a new release of the package",
            "event_type": "message",
            "session_id": session_id,
            "timestamp": start.isoformat(),
        }
    ]
    for n, step in enumerate(steps, start=1):
        events.append(
            {
                "content": step,
                "event_type": "action",
                "session_id": session_id,
                "timestamp": (start + timedelta(minutes=n)).isoformat(),
            }
        )
    events.append(
        {
            "content": f"Release {session_id} finished",
            "event_type": "observation",
            "session_id": session_id,
            "outcome": outcome,
            "timestamp": (start + timedelta(minutes=len(steps) + 1)).isoformat(),
        }
    )
    return events


@pytest.fixture
def settings(tmp_path) -> Settings:
    # No background consolidation: each test decides when a run happens.
    return Settings(
        toolsets=("all",), db=tmp_path / "athena.db", backlog_interval=0.05, consolidation_interval=0
    )


async def learned(settings: Settings, minilm: MiniLMEmbedder) -> list[Any]:
    async with services_for(settings, minilm) as services:
        rows = await services.database.fetchall("SELECT id FROM procedures WHERE origin = 'learned'")
        found = await procedures.get_procedures(services.database, [row[0] for row in rows])
    return list(found.values())


async def test_sessions_in_procedure_out_with_its_evidence_then_confidence_follows_new_sessions(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with open_client(settings, minilm) as client:
        first = await call(client, "record_events", events=release_session("r1", RELEASE_STEPS, "success", 1))
        second = await call(
            client, "record_events", events=release_session("r2", RELEASE_STEPS_REWORDED, "success", 2)
        )
        report = await call(client, "consolidate", settle_seconds=0)
        assert report["status"] == "done" and report["procedures_proposed"] == 1, report
        assert report["events"] == len(first["ids"]) + len(second["ids"])
        assert "unvalidated" in report["notice"]

        [procedure] = await learned(settings, minilm)
        assert procedure.origin == "learned" and procedure.validation == "unvalidated"
        assert procedure.steps in (RELEASE_STEPS, RELEASE_STEPS_REWORDED)
        assert procedure.stats.runs == 2 and procedure.stats.successes == 2
        before = procedure.stats.confidence

        await call(client, "record_events", events=release_session("r3", RELEASE_STEPS, "success", 3))
        await call(client, "record_events", events=release_session("r4", RELEASE_STEPS, "failure", 4))
        report = await call(client, "consolidate", settle_seconds=0)
        assert (report["procedures_reinforced"], report["procedures_weakened"]) == (1, 1)
        assert report["procedures_proposed"] == 0

    [procedure] = await learned(settings, minilm)
    assert (procedure.stats.runs, procedure.stats.successes, procedure.stats.failures) == (4, 3, 1)
    assert procedure.stats.confidence == pytest.approx((3 + 1) / (4 + 2)) and before == pytest.approx(3 / 4)
    async with services_for(settings, minilm) as services:
        sessions, event_ids = await procedures.evidence(services.database, procedure.id, 100)
    assert set(sessions) == {"r1", "r2", "r3", "r4"}
    assert set(first["ids"]) | set(second["ids"]) <= set(event_ids)


async def test_a_second_run_takes_in_nothing_and_a_dry_run_writes_nothing(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "record_events", events=release_session("r1", RELEASE_STEPS, "success", 1))
        await call(client, "record_events", events=release_session("r2", RELEASE_STEPS, "success", 2))
        dry = await call(client, "consolidate", settle_seconds=0, dry_run=True)
        assert dry["status"] == "dry_run" and dry["run_id"] is None and dry["procedures_proposed"] == 1
        assert any(p.startswith("procedure ") for p in dry["proposals"])
        status = await call(client, "consolidation_status")
        assert status["backlog"] == 12 and status["runs"] == []

        done = await call(client, "consolidate", settle_seconds=0)
        again = await call(client, "consolidate", settle_seconds=0)
        assert (done["events"], again["events"], again["procedures_proposed"]) == (12, 0, 0)
        status = await call(client, "consolidation_status")
        assert status["backlog"] == 0 and [run["status"] for run in status["runs"]] == ["done", "done"]
        assert status["runs"][1]["produced"]["digests"] == 2
    assert len(await learned(settings, minilm)) == 1


async def test_unsettled_sessions_wait(settings, minilm):
    async with open_client(settings, minilm) as client:
        now = datetime.now(UTC)
        await call(
            client, "record_event", content="Deploying now", session_id="live", timestamp=now.isoformat()
        )
        report = await call(client, "consolidate", settle_seconds=3600)
        assert report["events"] == 0
        assert (await call(client, "consolidation_status"))["backlog"] == 1


async def test_a_session_that_recorded_its_outcome_is_taken_in_without_waiting_to_settle(settings, minilm):
    # The default settle time (600 s): only the recorded outcome lets the finished work in now.
    finished = [
        {"content": "Reproduced the flaky login test", "event_type": "action", "session_id": "fix"},
        {"content": "Pinned the clock in the login test", "event_type": "action", "session_id": "fix"},
        {"content": "The login test passes 50 times in a row", "session_id": "fix", "outcome": "success"},
        {"content": "Rotated the API keys", "event_type": "action", "outcome": "success"},
    ]
    async with open_client(settings, minilm) as client:
        taken = (await call(client, "record_events", events=finished))["ids"]
        # An outcome on a step is not the end of the session: the one after it keeps it open.
        await call(
            client, "record_event", content="The leak test failed again", session_id="live", outcome="failure"
        )
        await call(client, "record_event", content="Still tracing the memory leak", session_id="live")

        dry = await call(client, "consolidate", dry_run=True)
        assert (dry["events"], dry["settling"]) == (len(taken), 1), dry
        report = await call(client, "consolidate")
        assert (report["events"], report["settling"], report["proposals"]) == (len(taken), 1, []), report
        assert report["procedures_proposed"] == report["facts_created"] == 0
        # Nothing was proposed, so nothing is said to be unvalidated; what waits, and why, is.
        assert "unvalidated" not in report["notice"]
        assert "Sessions still settling: 1" in report["notice"] and "600 s" in report["notice"]

        again = await call(client, "consolidate")
        assert again["events"] == 0 and again["notice"].startswith("Nothing taken in."), again
        assert "carries no outcome" in again["notice"] and "settle_seconds=0" in again["notice"]
        last = await call(client, "consolidate", settle_seconds=0)
        assert last["events"] == 2 and last["settling"] == 0 and last["notice"] is None, last
        nothing = await call(client, "consolidate")
        assert nothing["notice"] == "Nothing to take in: every event is consolidated already."


@contextlib.asynccontextmanager
async def a_session_still_without_vectors(
    settings: Settings, minilm: MiniLMEmbedder, vector_wait: float
) -> AsyncIterator[tuple[Client, GatedEmbedder, dict[str, Any]]]:
    """A client whose model is still loading (until the test opens the gate), a recorded session
    waiting for its vectors, and consolidate waiting `vector_wait` seconds for them."""
    embedder = GatedEmbedder(minilm)
    # Calls wait for the loading model this long, and consolidate for the vectors `vector_wait`.
    waits = dataclasses.replace(settings, embedding_load_wait=0.2, consolidation_vector_wait=vector_wait)
    async with open_client(waits, embedder) as client:
        try:
            recorded = await call(
                client, "record_events", events=release_session("r1", RELEASE_STEPS, "success", 1)
            )
            assert recorded["vectors"] == "pending"
            yield client, embedder, recorded
        finally:
            embedder.gate.set()


async def test_a_run_says_when_settled_events_wait_for_their_vectors(settings, minilm):
    async with a_session_still_without_vectors(settings, minilm, 0.3) as (client, _, recorded):
        report = await call(client, "consolidate", settle_seconds=0)
        # Never "done" over nothing (a LoCoMo conversation reported done with 675 events waiting).
        assert (report["status"], report["events"]) == ("nothing_taken", 0)
        assert report["waiting_for_vectors"] == len(recorded["ids"])
        assert report["notice"].startswith("Nothing taken in.") and "waiting for vectors" in report["notice"]
        assert "unvalidated" not in report["notice"]


async def test_a_run_waits_for_vectors_the_background_computes_meanwhile(settings, minilm):
    async with a_session_still_without_vectors(settings, minilm, 30) as (client, embedder, recorded):
        consolidating = asyncio.ensure_future(call(client, "consolidate", settle_seconds=0))
        await asyncio.sleep(0.5)
        assert not consolidating.done()  # waiting for the vectors, not reporting nothing
        embedder.gate.set()
        report = await asyncio.wait_for(consolidating, 30)
        assert (report["status"], report["events"], report["waiting_for_vectors"]) == (
            "done",
            len(recorded["ids"]),
            0,
        )


async def test_a_fact_recurring_across_sessions_is_stored_once_with_its_provenance(settings, minilm):
    async with open_client(settings, minilm) as client:
        ids = []
        for session in ("s1", "s2"):
            recorded = await call(
                client, "record_event", content="The staging database runs PostgreSQL 16", session_id=session
            )
            ids += recorded["ids"]
        report = await call(client, "consolidate", settle_seconds=0)
        assert report["facts_created"] == 1
        found = await call(client, "recall", query="staging database PostgreSQL", memory_types=["semantic"])
        [fact] = [hit for hit in found["results"] if hit["kind"] == "fact"]
        assert fact["tags"] == ["consolidated", "unvalidated"] and fact["source"] == "consolidation"

        third = await call(
            client, "record_event", content="The staging database runs PostgreSQL 16", session_id="s3"
        )
        report = await call(client, "consolidate", settle_seconds=0)
        assert (report["facts_created"], report["facts_reinforced"]) == (0, 1)
    async with services_for(settings, minilm) as services:
        rows = await services.database.fetchall(
            "SELECT memory_id FROM provenance WHERE product_type = 'memory' AND product_id = ?", (fact["id"],)
        )
    assert {row[0] for row in rows} == {*ids, *third["ids"]}


def sampling_client(settings: Settings, minilm: MiniLMEmbedder, answer: str, asked: list[str]) -> Client:
    async def sample(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=answer), model="test"
        )

    return Client(build_server(settings, minilm), sampling_callback=sample)


@pytest.fixture
async def two_release_sessions(settings, minilm) -> AsyncIterator[None]:
    async with open_client(settings, minilm) as client:
        await call(client, "record_events", events=release_session("r1", RELEASE_STEPS, "success", 1))
        await call(client, "record_events", events=release_session("r2", RELEASE_STEPS, "success", 2))
    yield


@pytest.mark.usefixtures("two_release_sessions")
async def test_a_sampling_client_validates_and_renames_an_uncertain_procedure(settings, minilm):
    asked: list[str] = []
    async with open_client(settings, minilm) as client:
        key = await call(client, "consolidate", settle_seconds=0, dry_run=True)
    assert key["procedures_proposed"] == 1
    # The key is printed in the question; answer for whatever key was asked.
    probe: list[str] = []
    async with sampling_client(settings, minilm, "{}", probe) as client:
        await call(client, "consolidate", settle_seconds=0, dry_run=True)
    assert probe == []  # dry runs never ask

    answer_for: dict[str, Any] = {}

    async def answer(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        text = params.messages[0].content.text  # type: ignore[union-attr]
        asked.append(text)
        [item_key] = [line[1:].split("]")[0] for line in text.splitlines() if line.startswith("[p")]
        answer_for[item_key] = {"valid": True, "summary": "Publish a release to PyPI"}
        body = json.dumps(answer_for)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=body), model="test"
        )

    async with Client(build_server(settings, minilm), sampling_callback=answer) as client:
        report = await call(client, "consolidate", settle_seconds=0)
    assert report["validated"] == 1 and report["notice"] is None and len(asked) >= 1
    [procedure] = await learned(settings, minilm)
    assert procedure.validation == "validated" and procedure.goal == "Publish a release to PyPI"


@pytest.mark.usefixtures("two_release_sessions")
async def test_a_rejected_proposal_is_not_stored_and_a_garbled_answer_changes_nothing(settings, minilm):
    async def reject(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        text = params.messages[0].content.text  # type: ignore[union-attr]
        keys = [line[1:].split("]")[0] for line in text.splitlines() if line.startswith("[")]
        body = "Sure! " + json.dumps({key: {"valid": False} for key in keys})
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=body), model="test"
        )

    async with Client(build_server(settings, minilm), sampling_callback=reject) as client:
        report = await call(client, "consolidate", settle_seconds=0)
    assert report["rejected"] >= 1 and report["procedures_proposed"] == 0
    assert await learned(settings, minilm) == []


async def test_a_caller_can_skip_the_review_its_client_would_refuse(settings, minilm, two_release_sessions):
    asked: list[str] = []
    async with sampling_client(settings, minilm, "{}", asked) as client:
        report = await call(client, "consolidate", settle_seconds=0, ask_model=False)
    assert asked == [] and report["procedures_proposed"] == 1 and "unvalidated" in report["notice"]


async def test_garbled_review_leaves_system_one_results_unvalidated(settings, minilm, two_release_sessions):
    asked: list[str] = []
    async with sampling_client(settings, minilm, "I cannot answer that.", asked) as client:
        report = await call(client, "consolidate", settle_seconds=0)
    assert asked and report["procedures_proposed"] == 1 and "no readable review" in report["notice"]
    [procedure] = await learned(settings, minilm)
    assert procedure.validation == "unvalidated"


async def test_old_low_value_events_are_compacted_listed_and_restorable_but_flashbulbs_stay(
    tmp_path, minilm, monkeypatch
):
    settings = Settings(
        toolsets=("all",),
        db=tmp_path / "athena.db",
        consolidation_interval=0,
        compaction_age_days=30,
        flashbulb_importance=0.9,
    )
    old = datetime.now(UTC) - timedelta(days=200)
    events = [
        {
            "content": f"Routine check {n} passed",
            "session_id": "old",
            "timestamp": (old + timedelta(minutes=n)).isoformat(),
        }
        for n in range(3)
    ]
    events.append(
        {
            "content": "Production outage: the primary database was deleted",
            "session_id": "old",
            "importance": 0.95,
            "event_type": "error",
            "timestamp": (old + timedelta(minutes=5)).isoformat(),
        }
    )
    # The oldest event matters enough to stay raw: it must not hold back the ones after it.
    events.append(
        {
            "content": "Chose PostgreSQL over MySQL for the new service",
            "session_id": "old",
            "importance": 0.85,
            "event_type": "decision",
            "timestamp": (old - timedelta(minutes=1)).isoformat(),
        }
    )
    monkeypatch.setattr(worker, "COMPACTION_PAGE", 1)
    async with open_client(settings, minilm) as client:
        recorded = await call(client, "record_events", events=events)
        report = await call(client, "consolidate", settle_seconds=0)
        # Recorded just now: an import of old history is not compacted on arrival.
        assert report["digests"] == 1 and report["compacted"] == 0, report
    async with services_for(settings, minilm) as services, services.database.transaction() as tx:
        await tx.execute("UPDATE memories SET created_at = created_at - 200 * 86400")
    async with open_client(settings, minilm) as client:
        report = await call(client, "consolidate", settle_seconds=0)
        assert report["compacted"] == 3, report
        page = await call(client, "list_compactions")
        assert [item["id"] for item in page["items"]] == recorded["ids"][:3]
        found = await call(client, "recall_events", query="Routine check passed")
        assert {hit["id"] for hit in found["results"]} == {recorded["ids"][3], recorded["ids"][4]}
        digest = await call(client, "get", id=page["items"][0]["digest_id"])
        assert digest["kind"] == "episode" and "Session old" in digest["content"]

        elsewhere = await call(client, "undo_compaction", ids=[recorded["ids"][0]], namespace="other")
        assert elsewhere == {"restored": [], "not_compacted": [recorded["ids"][0]]}
        undone = await call(client, "undo_compaction", ids=[recorded["ids"][0], 999])
        assert undone == {"restored": [recorded["ids"][0]], "not_compacted": [999]}
        assert (await call(client, "get", id=recorded["ids"][0]))["status"] == "active"
        # `restore` brings a compacted event back too: it then leaves the list and is never purged.
        await call(client, "restore", id=recorded["ids"][1])
        listed = await call(client, "list_compactions")
        assert [item["id"] for item in listed["items"]] == [recorded["ids"][2]]

    # Once the retention period is over, the next run deletes what is still compacted; the event
    # brought back is never compacted again, and the digest stays.
    async with services_for(settings, minilm) as services, services.database.transaction() as tx:
        await tx.execute("UPDATE compactions SET restorable_until = restorable_until - 31 * 86400")
    async with open_client(settings, minilm) as client:
        report = await call(client, "consolidate", settle_seconds=0)
        assert (report["compacted"], report["purged"]) == (0, 1), json.dumps(report)
        assert (await call(client, "get", id=recorded["ids"][0]))["status"] == "active"
        assert (await call(client, "get", id=recorded["ids"][1]))["status"] == "active"
        assert (await call(client, "list_compactions"))["items"] == []
        assert "no memory" in await call_error(client, "get", id=recorded["ids"][2])
        assert (await call(client, "get", id=digest["id"]))["status"] == "active"


async def test_rating_a_memory_counts_feedback_and_unknown_ids_are_refused(settings, minilm):
    async with open_client(settings, minilm) as client:
        stored = await call(client, "remember", content="Deploys happen on Tuesdays")
        await call(client, "rate_memory", id=stored["id"], helpful=True)
        rated = await call(client, "rate_memory", id=stored["id"], helpful=False)
        assert (rated["helpful"], rated["unhelpful"]) == (1, 1)
        assert "id: no memory 424242" in await call_error(client, "rate_memory", id=424242, helpful=True)
        assert "settle_seconds" in await call_error(client, "consolidate", settle_seconds=-1)


async def test_a_cancelled_run_is_recorded_as_interrupted_and_hands_back_its_lease(
    settings, minilm, monkeypatch
):
    async with services_for(settings, minilm) as services:
        worker = services.consolidation

        async def cancelled(namespace: str | None) -> None:
            raise asyncio.CancelledError

        monkeypatch.setattr(worker, "_decay", cancelled)
        with pytest.raises(asyncio.CancelledError):
            await worker.run_once(settle_seconds=0)
        monkeypatch.undo()
        runs = await services.database.fetchall("SELECT status FROM consolidation_runs")
        assert [row[0] for row in runs] == ["interrupted"]
        # The lease was handed back: the run is not skipped (and had nothing to take in).
        assert (await worker.run_once(settle_seconds=0)).status == "nothing_taken"


async def test_two_processes_never_take_in_the_same_events(settings, minilm):
    async with open_client(settings, minilm) as client:
        for n in range(6):
            await call(
                client, "record_events", events=release_session(f"r{n}", RELEASE_STEPS, "success", 1 + n)
            )
    async with services_for(settings, minilm) as one, services_for(settings, minilm) as two:
        reports = await asyncio.gather(
            one.consolidation.run_once(settle_seconds=0), two.consolidation.run_once(settle_seconds=0)
        )
        assert sorted(r.status for r in reports) in (["done", "skipped"], ["done", "done"])
        assert sum(r.events for r in reports) == 36
        rows = await one.database.fetchall(
            "SELECT count(*), count(DISTINCT memory_id) FROM consolidated_events"
        )
        assert tuple(rows[0]) == (36, 36)
        digests = await one.database.fetchall("SELECT count(*) FROM memories WHERE kind = 'episode'")
        assert digests[0][0] == 6


async def test_a_sampling_client_reads_facts_in_the_sessions_statements(settings, minilm):
    talk = [
        "Maria Lopez reviews every database migration before it ships",
        "The API moved from Heroku to Fly.io in May",
        "Secrets live in Doppler and nowhere else",
    ]
    async with open_client(settings, minilm) as client:
        events = [{"content": text, "event_type": "message", "session_id": "talk"} for text in talk]
        recorded = await call(client, "record_events", events=events)

    async def answer(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        shown = [
            line[2:].split("]")[0]
            for line in params.messages[0].content.text.splitlines()  # type: ignore[union-attr]
            if line.startswith("[e")
        ]
        fact = {"fact": "Maria Lopez signs off on every schema change.", "events": shown[:1]}
        body = json.dumps({"facts": [fact]})
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=body), model="test"
        )

    async with Client(build_server(settings, minilm), sampling_callback=answer) as client:
        report = await call(client, "consolidate", settle_seconds=0)
        assert report["facts_extracted"] == 1 and report["facts_created"] == 1
        found = await call(client, "recall", query="Who signs off on schema changes?")
        [fact] = [hit for hit in found["results"] if hit["content"].startswith("Maria Lopez signs off")]
        assert "extracted" in fact["tags"]
    async with services_for(settings, minilm) as services:
        sources = await services.database.fetchall(
            "SELECT memory_id FROM provenance WHERE product_type = 'memory' AND product_id = ?", [fact["id"]]
        )
        assert [row[0] for row in sources] == [recorded["ids"][0]]
