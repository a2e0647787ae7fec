"""The embedding service caches query vectors and never lets a slow model hang a call."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.models import EmbeddingIdentity
from tests.conftest import wait_for


class CountingEmbedder:
    def __init__(self, inner, hang: threading.Event | None = None) -> None:
        self.inner = inner
        self.hang = hang
        self.calls: list[list[str]] = []

    identity = EmbeddingIdentity("sentence-transformers/all-MiniLM-L6-v2", 384)
    loaded = True

    def load(self) -> None:
        pass

    def release(self) -> None:
        if self.hang is not None:
            self.hang.set()

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


@contextlib.contextmanager
def serving(
    minilm, *, timeout: float, hung: bool = True
) -> Iterator[tuple[EmbeddingService, CountingEmbedder]]:
    """A service over the model; while `hung`, each call blocks until the test ends (or `release`)."""
    embedder = CountingEmbedder(minilm, hang=threading.Event() if hung else None)
    service = EmbeddingService(embedder, timeout=timeout)
    service.start_loading()
    try:
        yield service, embedder
    finally:
        embedder.release()
        service.close()


async def test_a_hung_model_times_out_and_the_caller_goes_on_without_vectors(minilm):
    with serving(minilm, timeout=0.2) as (service, _):
        assert await service.embed_documents(["a document"]) is None
        assert await service.embed_query("a query") is None


async def test_while_a_timed_out_call_still_runs_later_calls_go_without_vectors_at_once(minilm):
    with serving(minilm, timeout=0.2) as (service, embedder):
        assert await service.embed_query("the first query") is None  # waited its 0.2 s timeout
        assert not service.available
        assert "not answering" in (service.notice() or "")
        assert await service.embed_query("a second query") is None
        assert await service.embed_documents(["a document"]) is None
        assert embedder.calls == [["the first query"]]  # nothing queued behind the hung call
        embedder.release()
        await wait_for(lambda: service.available, timeout=10)
        assert await service.embed_query("a second query") is not None
        assert service.notice() is None


async def test_a_cancelled_call_still_running_holds_the_embedder_as_a_timed_out_one_does(minilm):
    with serving(minilm, timeout=30) as (service, embedder):
        waiting = asyncio.create_task(service.embed_query("a query the client gave up on"))
        await wait_for(lambda: bool(embedder.calls), timeout=10)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert not service.available
        assert await service.embed_documents(["a document"]) is None
        assert len(embedder.calls) == 1


async def test_a_cached_query_is_answered_while_the_embedder_is_held(minilm):
    with serving(minilm, timeout=0.2, hung=False) as (service, embedder):
        cached = await service.embed_query("where are the backups?")
        embedder.hang = threading.Event()
        assert await service.embed_query("something new") is None  # times out, holds the embedder
        assert not service.available
        again = await service.embed_query("where are the backups?")
        assert again is not None and np.array_equal(again, cached)
