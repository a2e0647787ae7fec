"""The embedding service caches query vectors and never lets a slow model hang a call."""

from __future__ import annotations

import threading

import numpy as np

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.store.vectors import EmbeddingIdentity


class CountingEmbedder:
    def __init__(self, inner, hang: threading.Event | None = None) -> None:
        self.inner = inner
        self.hang = hang
        self.calls: list[list[str]] = []

    identity = EmbeddingIdentity("sentence-transformers/all-MiniLM-L6-v2", 384)
    loaded = True

    def load(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(texts)
        if self.hang is not None:
            self.hang.wait(timeout=30)
        return self.inner.embed(texts)


async def test_repeated_queries_are_embedded_once(minilm):
    embedder = CountingEmbedder(minilm)
    service = EmbeddingService(embedder, timeout=30)
    service.start_loading()
    first = await service.embed_query("where are the backups?")
    again = await service.embed_query("where are the backups?")
    assert first is not None and np.array_equal(first, again)
    assert embedder.calls == [["where are the backups?"]]
    service.close()


async def test_a_hung_model_times_out_and_the_caller_goes_on_without_vectors(minilm):
    release = threading.Event()
    service = EmbeddingService(CountingEmbedder(minilm, hang=release), timeout=0.2)
    service.start_loading()
    try:
        assert await service.embed_documents(["a document"]) is None
        assert await service.embed_query("a query") is None
    finally:
        release.set()
        service.close()
