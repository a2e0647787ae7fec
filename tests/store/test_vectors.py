"""The store records which model made its vectors, refuses another, and `reembed` switches models."""

from __future__ import annotations

import numpy as np
import pytest

from athena_mcp.cli import reembed
from athena_mcp.errors import StoreUnavailable
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store.vectors import EmbeddingIdentity, backlog_size, stored_identity
from tests.conftest import call, open_client, wait_for
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
    assert "all-MiniLM-L6-v2 (384-d)" in message and "test/minilm-64 (64-d)" in message
    assert "athena-mcp reembed" in message


async def test_reembed_recomputes_every_vector_with_the_new_model(tmp_path, minilm):
    db = tmp_path / "a.db"
    async with open_client(Settings(db=db), minilm) as client:
        await call(client, "remember", content="The cache lives in Redis")
        await call(client, "record_event", content="Flushed the Redis cache")
    with embeddings_endpoint(minilm, dimension_cut=None) as (url, _):
        new = Settings(db=db, embedder="http", embedding_url=url, embedding_model="other", embedding_dim=384)
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
