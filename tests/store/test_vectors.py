"""The store records which model made its vectors, refuses another, and `reembed` switches models."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import numpy as np
import pytest

from athena_mcp.errors import AthenaError, StoreUnavailable
from athena_mcp.maintenance import reembed
from athena_mcp.models import EmbeddingIdentity
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store.database import Database
from athena_mcp.store.memories import NewMemory, insert_memories
from athena_mcp.store.migrations import migrate
from athena_mcp.store.vectors import (
    backlog_size,
    ensure_vector_index,
    queue_for_embedding,
    stored_identity,
)
from tests.conftest import call, open_client, services_for, wait_for
from tests.embeddings.test_http_embedder import embeddings_endpoint


class SmallModel:
    """The real model's vectors cut to 64 dimensions: a different model as far as the store can tell."""

    def __init__(self, inner) -> None:
        self.inner = inner

    identity = EmbeddingIdentity("test/minilm-64", 64)
    loaded = True

    def load(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.inner.embed(texts)[:, :64]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def test_the_store_records_its_model_and_refuses_another(settings, minilm):
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="Vectors from MiniLM")
    with pytest.raises(StoreUnavailable) as refused:
        async with open_client(settings, SmallModel(minilm)):
            pass
    message = str(refused.value)
    assert minilm.identity.describe() in message and "test/minilm-64 (64-d)" in message
    assert "athena-mcp reembed" in message


async def test_reembed_recomputes_every_vector_with_the_new_model(tmp_path, minilm):
    db = tmp_path / "a.db"
    async with open_client(Settings(toolsets=("all",), db=db), minilm) as client:
        await call(client, "remember", content="The cache lives in Redis")
        await call(client, "record_event", content="Flushed the Redis cache")
    with embeddings_endpoint(minilm, dimension_cut=None) as (url, _):
        new = Settings(
            toolsets=("all",),
            db=db,
            embedder="http",
            embedding_url=url,
            embedding_model="other",
            embedding_dim=384,
        )
        await reembed(new)
        async with open_services(new, background=False) as services:
            expected = EmbeddingIdentity("openai-compatible:other", 384)
            assert await stored_identity(services.database) == expected
            assert await backlog_size(services.database) == 0
            assert (await services.database.fetchone("SELECT count(*) FROM memory_vectors"))[0] == 2
        async with open_client(new, None) as client:

            async def dense_finds_the_fact() -> bool:
                hits = await call(
                    client,
                    "recall",
                    query="which key-value store holds cached data?",
                    memory_types=["semantic"],
                    explain=True,
                )
                return hits["mode"] == "hybrid" and hits["results"][0]["explain"]["dense"] is not None

            await wait_for(dense_finds_the_fact)


class PickyModel(SmallModel):
    """The real model, except that it refuses any batch holding the word 'poison'."""

    identity = EmbeddingIdentity("sentence-transformers/all-MiniLM-L6-v2", 384)

    def embed(self, texts: list[str]) -> np.ndarray:
        if any("poison" in text for text in texts):
            raise ValueError("the endpoint rejected the input")
        return self.inner.embed(texts)


async def test_a_text_the_embedder_rejects_never_blocks_the_rest_of_the_backlog(settings, minilm):
    async with services_for(settings, PickyModel(minilm)) as services:
        texts = [f"ordinary memory {n}" for n in range(9)]
        texts.insert(4, "a poison pill")
        for text in texts:
            async with services.database.transaction() as tx:
                [memory_id] = await insert_memories(
                    tx, [NewMemory("episodic", "default", "observation", text)]
                )
                await queue_for_embedding(tx, [memory_id])
        assert await services.vector_backlog.run_once() == 9
        assert await services.vector_backlog.run_once() == 0  # the rejected one waits for its retry time
        row = await services.database.fetchone(
            "SELECT attempts, retry_at > ? FROM vector_backlog", (time.time(),)
        )
        assert tuple(row) == (1, 1)


class FlakyModel(PickyModel):
    """The real model, while up; down, it fails every call, or (hanging) blocks until released."""

    def __init__(self, inner, *, hang: bool = False) -> None:
        super().__init__(inner)
        self.hang = hang
        self.up = threading.Event()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not self.up.is_set():
            if not self.hang:
                raise ConnectionError("the embedding endpoint refused the connection")
            self.up.wait(timeout=30)
        return self.inner.embed(texts)


async def queue_memories(services: Services, count: int) -> None:
    async with services.database.transaction() as tx:
        ids = await insert_memories(
            tx, [NewMemory("episodic", "default", "observation", f"memory {n}") for n in range(count)]
        )
        await queue_for_embedding(tx, ids)


async def drained(services: Services) -> bool:
    """One backlog pass; whether the backlog is empty after it."""
    await services.vector_backlog.run_once()
    return await backlog_size(services.database) == 0


@pytest.mark.parametrize("hang", [False, True], ids=["failing", "hanging"])
async def test_while_the_embedder_is_down_nothing_is_put_off_and_the_backlog_drains_once_it_is_back(
    settings, minilm, hang
):
    model = FlakyModel(minilm, hang=hang)
    async with services_for(dataclasses.replace(settings, embedding_timeout=0.2), model) as services:
        await queue_memories(services, 5)
        assert await services.vector_backlog.run_once() == 0
        rows = await services.database.fetchall("SELECT attempts, retry_at FROM vector_backlog")
        assert [tuple(row) for row in rows] == [(0, 0)] * 5  # no back-off: the texts are not at fault
        model.up.set()
        await wait_for(lambda: services.embeddings.available)
        await wait_for(lambda: drained(services))


class SlowOnBigBatches(PickyModel):
    """The real model, but a batch of more than two texts takes longer than the embedding timeout."""

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) > 2:
            time.sleep(0.5)
        return self.inner.embed(texts)


async def test_a_pass_that_times_out_is_split_until_it_fits_and_nothing_is_put_off(settings, minilm):
    model = SlowOnBigBatches(minilm)
    async with services_for(dataclasses.replace(settings, embedding_timeout=0.2), model) as services:
        await queue_memories(services, 5)

        await wait_for(lambda: drained(services))
        rows = await services.database.fetchall("SELECT count(*) FROM memory_vectors")
        assert rows[0][0] == 5


async def test_reembed_fails_loudly_when_some_memories_cannot_be_embedded(tmp_path, minilm):
    db = tmp_path / "a.db"
    async with open_client(Settings(toolsets=("all",), db=db), minilm) as client:
        await call(client, "record_event", content="a poison pill")
    with embeddings_endpoint(minilm, refuse="poison") as (url, _):
        settings = Settings(
            toolsets=("all",),
            db=db,
            embedder="http",
            embedding_url=url,
            embedding_model="x",
            embedding_dim=384,
        )
        with pytest.raises(AthenaError, match="1 memories could not be embedded"):
            await reembed(settings)


async def test_two_servers_starting_with_different_models_cannot_both_claim_a_new_store(tmp_path):
    path = tmp_path / "new.db"
    async with Database.open(path) as first, Database.open(path) as second:
        await migrate(first)
        outcomes = await asyncio.gather(
            ensure_vector_index(first, EmbeddingIdentity("model-x", 384)),
            ensure_vector_index(second, EmbeddingIdentity("model-y", 768)),
            return_exceptions=True,
        )
    assert sum(isinstance(outcome, StoreUnavailable) for outcome in outcomes) == 1
