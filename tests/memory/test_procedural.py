"""Procedural memory behind the tools: vectors computed later, and processes that share one file."""

from __future__ import annotations

import dataclasses

import numpy as np

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.procedural import Execution
from athena_mcp.models import EmbeddingIdentity
from athena_mcp.retrieval.procedure_search import ProcedureSearch
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store import procedures
from athena_mcp.store.procedures import NewProcedure, ProcedureQuery
from tests.conftest import services_for

BACKUP = NewProcedure(
    namespace="ops",
    name="Restore a database backup",
    goal="Bring the Postgres database back from last night's dump",
    steps=("Stop the application", "Download the dump from the bucket", "Run pg_restore", "Start the app"),
)
# No word in common with the procedure: only its vector can find it.
BY_MEANING = "recover lost data after an outage"


class RejectingEmbedder:
    """The real model, refusing any batch that holds a poisoned text (as an HTTP endpoint might)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner

    @property
    def identity(self) -> EmbeddingIdentity:
        return self.inner.identity

    loaded = True

    def load(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        if any("POISON" in text for text in texts):
            raise ValueError("the endpoint rejected the input")
        return self.inner.embed(texts)


async def find(services: Services, query: str, **options: bool) -> list[int]:
    result = await services.procedural.find(ProcedureSearch(query=query, namespace="ops", **options))
    return [hit.id for hit in result.results]


async def test_a_procedure_saved_before_the_model_is_ready_gets_its_vectors_from_the_worker(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    # Without waiting for a load: the model is not started, as in the moment after a server starts.
    not_waiting = dataclasses.replace(settings, embedding_load_wait=0)
    async with open_services(not_waiting, minilm, background=False) as services:
        saved = await services.procedural.save(BACKUP)
        lexical = await services.procedural.find(ProcedureSearch(query="pg_restore", namespace="ops"))
        assert saved.vector == "pending" and await procedures.step_embeddings(services.database, "ops") == []
        assert lexical.mode == "lexical" and [hit.id for hit in lexical.results] == [saved.id]

        assert await services.embeddings.wait_ready()
        assert await services.vector_backlog.run_once() == 1
        assert await services.vector_backlog.run_once() == 0
        [(procedure_id, steps)] = await procedures.step_embeddings(services.database, "ops")
        result = await services.procedural.find(
            ProcedureSearch(query=BY_MEANING, namespace="ops", explain=True)
        )
    assert procedure_id == saved.id and steps.shape == (4, 384)
    assert np.allclose(steps, minilm.embed(list(BACKUP.steps)), atol=1e-5)
    assert result.mode == "hybrid" and [hit.id for hit in result.results] == [saved.id]
    assert result.results[0].explain is not None and result.results[0].explain.dense is not None


async def test_the_worker_fills_only_the_vector_a_learned_procedure_lacks(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    given = np.random.default_rng(3).standard_normal((4, 384)).astype(np.float32)
    async with services_for(settings, minilm) as services:
        async with services.database.transaction() as tx:
            procedure_id = await procedures.insert_procedure(
                tx, dataclasses.replace(BACKUP, origin="learned", step_embeddings=given)
            )
        assert await services.vector_backlog.run_once() == 1
        [(_, steps)] = await procedures.step_embeddings(services.database, "ops")
        found = await find(services, BY_MEANING)
        learned = await services.procedural.list_page(
            ProcedureQuery("ops", origin="learned"), "recency", None, 10
        )
        saved = await services.procedural.list_page(
            ProcedureQuery("ops", origin="saved"), "recency", None, 10
        )
    assert np.array_equal(steps, given)
    assert found == [procedure_id]
    assert [p.id for p in learned.items] == [procedure_id] and saved.items == []


async def test_a_procedure_the_embedder_rejects_does_not_hold_up_the_others(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    not_waiting = dataclasses.replace(settings, embedding_load_wait=0)
    async with open_services(not_waiting, RejectingEmbedder(minilm), background=False) as services:
        poisoned = await services.procedural.save(
            dataclasses.replace(BACKUP, name="Poisoned", steps=("POISON step",))
        )
        good = await services.procedural.save(BACKUP)
        assert (poisoned.vector, good.vector) == ("pending", "pending")
        assert await services.embeddings.wait_ready()
        assert await services.vector_backlog.run_once() == 1
        # The rejected one waits for its retry time instead of being tried on every pass.
        assert await services.vector_backlog.run_once() == 0
        embedded = [pid for pid, _ in await procedures.step_embeddings(services.database, "ops")]
    assert embedded == [good.id]


async def test_a_procedure_saved_by_another_process_is_found_and_followed(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as ours, services_for(settings, minilm) as theirs:
        assert await find(ours, BY_MEANING) == []  # our copy of the namespace exists from here on
        saved = await theirs.procedural.save(BACKUP)
        assert await find(ours, BY_MEANING) == [saved.id]

        for _ in range(3):
            await theirs.procedural.record_execution(
                "ops", saved.id, Execution(outcome="success", duration=60)
            )
        result = await ours.procedural.find(ProcedureSearch(query=BY_MEANING, namespace="ops", explain=True))
        assert result.results[0].explain is not None
        assert result.results[0].explain.confidence == procedures.confidence(3, 0, 3)
        assert result.results[0].stats.mean_duration == 60

        await theirs.procedural.retire("ops", saved.id, "replaced")
        assert await find(ours, BY_MEANING) == []
        assert await find(ours, BY_MEANING, include_retired=True) == [saved.id]
