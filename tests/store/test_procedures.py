"""Procedure SQL: statistics and confidence, one run per session, revisions, step vectors, reembed."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from athena_mcp.errors import Conflict, NotFound
from athena_mcp.memory.procedural import Execution
from athena_mcp.models import confidence
from athena_mcp.services import Services
from athena_mcp.store import procedures
from athena_mcp.store.driver import sqlite_module
from athena_mcp.store.procedures import NewProcedure
from athena_mcp.store.vectors import reset_vectors
from tests.conftest import services_for

DEPLOY = NewProcedure(
    namespace="work",
    name="Deploy the API",
    goal="Ship the API service to production",
    steps=("Run the tests", "Build the image", "Roll out with kubectl"),
    tags=("ops",),
)
counts = st.integers(min_value=0, max_value=10_000)


def test_a_procedure_never_run_stands_at_one_half_and_each_run_moves_it():
    assert confidence(0, 0, 0) == 0.5
    assert confidence(1, 0, 1) == pytest.approx(2 / 3)
    assert confidence(0, 1, 1) == pytest.approx(1 / 3)
    assert confidence(0, 0, 1) == 0.5  # one partial run: half a success, half a failure
    assert confidence(9, 1, 10) == pytest.approx(10 / 12)
    assert confidence(2, 1, 4) == pytest.approx((2 + 0.5 + 1) / 6)


@given(successes=counts, failures=counts, partials=counts)
def test_confidence_stays_inside_zero_and_one_and_follows_the_evidence(
    successes: int, failures: int, partials: int
) -> None:
    runs = successes + failures + partials
    now = confidence(successes, failures, runs)
    after_success = confidence(successes + 1, failures, runs + 1)
    after_partial = confidence(successes, failures, runs + 1)
    after_failure = confidence(successes, failures + 1, runs + 1)
    assert 0 < after_failure < now < after_success < 1
    assert after_failure < after_partial < after_success
    # Symmetric: swapping successes and failures mirrors the estimate around one half.
    assert confidence(failures, successes, runs) == pytest.approx(1 - now)


async def insert(services: Services, procedure: NewProcedure = DEPLOY, **changes: Any) -> int:
    async with services.database.transaction() as tx:
        return await procedures.insert_procedure(tx, dataclasses.replace(procedure, **changes))


async def row(services: Services, procedure_id: int) -> Any:
    return await services.database.fetchone("SELECT * FROM procedures WHERE id = ?", (procedure_id,))


async def add_run(services: Services, procedure_id: int, outcome: str, **details: Any) -> bool:
    async with services.database.transaction() as tx:
        return await procedures.add_run(tx, procedure_id, source="execution", outcome=outcome, **details)


async def test_add_run_updates_every_statistic_with_the_run(settings, minilm):
    async with services_for(settings, minilm) as services:
        procedure_id = await insert(services)
        before = await row(services, procedure_id)
        assert await add_run(services, procedure_id, "success", duration=4.0, notes="fine")
        assert await add_run(services, procedure_id, "failure", duration=6.0)
        assert await add_run(services, procedure_id, "partial")
        after = await row(services, procedure_id)
        runs = await services.database.fetchall(
            "SELECT outcome, duration, notes FROM procedure_runs WHERE procedure_id = ? ORDER BY id",
            (procedure_id,),
        )
    assert (before["runs"], before["confidence"], before["last_used_at"]) == (0, 0.5, None)
    assert (after["runs"], after["successes"], after["failures"]) == (3, 1, 1)
    assert (after["timed_runs"], after["total_duration"]) == (2, 10.0)
    assert after["confidence"] == pytest.approx(confidence(1, 1, 3))
    assert after["last_used_at"] is not None and after["updated_at"] >= before["updated_at"]
    assert after["revision"] > before["revision"]
    assert [tuple(r) for r in runs] == [
        ("success", 4.0, "fine"),
        ("failure", 6.0, None),
        ("partial", None, None),
    ]


async def test_a_session_is_evidence_for_a_procedure_once(settings, minilm):
    async with services_for(settings, minilm) as services:
        first = await insert(services)
        second = await insert(services, name="Deploy the worker")
        assert await add_run(services, first, "success", session_id="s1", event_ids=[4, 5])
        recorded = await row(services, first)
        assert not await add_run(services, first, "failure", session_id="s1", event_ids=[9])
        assert await row(services, first) == recorded  # nothing changed, not even the revision
        assert await add_run(services, second, "failure", session_id="s1")
        assert await add_run(services, first, "success")  # runs without a session always count
        count = await services.database.fetchone(
            "SELECT count(*) FROM procedure_runs WHERE session_id = 's1'"
        )
    assert count[0] == 2


async def test_a_run_rolled_back_with_its_transaction_leaves_no_trace(settings, minilm):
    async with services_for(settings, minilm) as services:
        procedure_id = await insert(services)
        before = await row(services, procedure_id)
        with pytest.raises(RuntimeError):
            async with services.database.transaction() as tx:
                await procedures.add_run(
                    tx, procedure_id, source="session", outcome="success", session_id="s"
                )
                raise RuntimeError("the rest of the consolidation step failed")
        assert await row(services, procedure_id) == before
        assert await add_run(services, procedure_id, "success", session_id="s")  # not taken either


async def test_a_run_of_an_unknown_procedure_is_not_found(settings, minilm):
    async with services_for(settings, minilm) as services:
        with pytest.raises(NotFound, match="id: no procedure 42 in namespace 'work'"):
            await services.procedural.record_execution("work", 42, Execution(outcome="success"))


async def test_a_name_is_taken_in_its_namespace_only_and_regardless_of_case(settings, minilm):
    async with services_for(settings, minilm) as services:
        procedure_id = await insert(services)
        with pytest.raises(Conflict, match=f"procedure {procedure_id} named 'Deploy the API'"):
            await services.procedural.save(dataclasses.replace(DEPLOY, name="DEPLOY THE api"))
        assert await procedures.name_taken(services.database, "work", "deploy the api")
        assert not await procedures.name_taken(services.database, "home", "Deploy the API")
        assert await insert(services, namespace="home") != procedure_id


async def test_every_change_takes_the_next_revision(settings, minilm):
    async with services_for(settings, minilm) as services:
        first = await insert(services)
        second = await insert(services, name="Deploy the worker")
        seen = [(await row(services, first))["revision"], (await row(services, second))["revision"]]
        changes = [
            (first, lambda tx: procedures.add_run(tx, first, source="execution", outcome="success")),
            (second, lambda tx: procedures.set_status(tx, second, "retired", "superseded")),
            (first, lambda tx: procedures.set_validation(tx, first, "validated")),
            (second, lambda tx: procedures.store_vectors(tx, second, np.ones(384), np.ones((3, 384)))),
        ]
        for procedure_id, change in changes:
            async with services.database.transaction() as tx:
                await change(tx)
            seen.append((await row(services, procedure_id))["revision"])
        validated = await procedures.get_procedure(services.database, "work", first)
    assert seen == list(range(seen[0], seen[0] + 6))
    assert validated is not None and validated.validation == "validated"


async def test_step_embeddings_are_the_active_procedures_step_vectors(settings, minilm):
    rng = np.random.default_rng(7)
    steps = rng.standard_normal((3, 384)).astype(np.float32)
    async with services_for(settings, minilm) as services:
        kept = await insert(services, step_embeddings=steps)
        retired = await insert(services, name="Old deploy", step_embeddings=steps)
        await insert(services, name="Elsewhere", namespace="home", step_embeddings=steps)
        # Saved by an agent while the model loaded: no vectors yet.
        await insert(services, name="Not embedded yet")
        async with services.database.transaction() as tx:
            await procedures.set_status(tx, retired, "retired", None)
        found = await procedures.step_embeddings(services.database, "work")
    [(procedure_id, matrix)] = found
    assert procedure_id == kept and matrix.dtype == np.float32
    assert np.array_equal(matrix, steps)


async def test_reembed_drops_procedure_vectors_and_the_worker_computes_them_again(settings, minilm):
    async with services_for(settings, minilm) as services:
        procedure_id = await insert(services, embedding=np.zeros(384), step_embeddings=np.zeros((3, 384)))
        await reset_vectors(services.database, minilm.identity)
        cleared = await row(services, procedure_id)
        assert await services.vector_backlog.run_once() >= 1
        filled = await row(services, procedure_id)
        assert await services.vector_backlog.run_once() == 0
    assert cleared["embedding"] is None and cleared["step_embeddings"] is None
    [whole, *steps] = minilm.embed(procedures.embedding_texts(DEPLOY.name, DEPLOY.goal, DEPLOY.steps))
    assert np.allclose(np.frombuffer(filled["embedding"], dtype=np.float32), whole, atol=1e-5)
    assert np.allclose(
        np.frombuffer(filled["step_embeddings"], dtype=np.float32).reshape(3, -1), steps, atol=1e-5
    )


async def test_a_small_namespace_finds_its_match_behind_a_full_pool_of_others(settings, minilm):
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            for n in range(procedures.fts.MIN_POOL + 10):
                await procedures.insert_procedure(
                    tx,
                    dataclasses.replace(DEPLOY, namespace="big", name=f"Deploy {n}", goal="Deploy, deploy"),
                )
        small = await insert(
            services,
            namespace="small",
            goal="A long goal that mentions how to deploy only once, among much else",
        )
        found = await procedures.lexical_search(services.database, "deploy", "small", ("active",), 5)
        crowded = await procedures.lexical_search(services.database, "deploy", "big", ("active",), 5)
    assert [procedure_id for procedure_id, _ in found] == [small]
    assert len(crowded) == 5 and all(score > 0 for _, score in crowded)


async def test_a_procedure_without_steps_is_refused_by_the_schema(settings, minilm):
    async with services_for(settings, minilm) as services:
        with pytest.raises(sqlite_module().IntegrityError, match="CHECK constraint failed"):
            await insert(services, steps=())
        count = await services.database.fetchone("SELECT count(*) FROM procedures")
    assert count[0] == 0
