"""Runs an embedder off the event loop: background loading, timeouts and a query cache.

The server must answer `initialize` and `tools/list` at once, so the model loads in a worker
thread after start-up. Until it is ready (or while it is failing) callers get `None` and carry
on without vectors: writes queue their vectors for later, searches run lexical-only and say so.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from athena_mcp.embeddings.base import Embedder
from athena_mcp.store.vectors import EmbeddingIdentity

log = logging.getLogger(__name__)

State = Literal["idle", "loading", "ready", "failed"]


class EmbeddingService:
    def __init__(self, embedder: Embedder, *, timeout: float, query_cache_size: int = 1024) -> None:
        self._embedder = embedder
        self._timeout = timeout
        # One thread: the model is not shared between concurrent calls and leaves a core for SQLite.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="athena-embed")
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._loading: asyncio.Future[None] | None = None
        self.state: State = "idle"
        self.failure: str | None = None

    @property
    def identity(self) -> EmbeddingIdentity:
        return self._embedder.identity

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def start_loading(self) -> None:
        """Begin loading in the background unless it is loading or loaded; retries after a failure."""
        if self.state in ("loading", "ready"):
            return
        if self._embedder.loaded:
            self.state = "ready"
            return
        self.state = "loading"
        self._loading = asyncio.get_running_loop().run_in_executor(self._executor, self._embedder.load)
        self._loading.add_done_callback(self._loaded)

    def _loaded(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            self.state = "failed"
            self.failure = "loading was cancelled"
        elif (error := future.exception()) is not None:
            self.state = "failed"
            self.failure = str(error)
            log.error("embedding model %s failed to load: %s", self.identity.model, error)
        else:
            self.state = "ready"
            self.failure = None
            log.info("embedding model %s ready", self.identity.model)

    async def wait_ready(self) -> bool:
        """Wait for the current load to finish; True when the model is usable."""
        self.start_loading()
        if self._loading is not None:
            await asyncio.wait([self._loading])
        return self.ready

    def notice(self) -> str | None:
        """Why vectors are unavailable right now, for search results; None when they are available."""
        if self.state == "ready":
            return None
        if self.state == "failed":
            # The failure itself (paths, URLs) stays in the server log.
            return "embedding model failed to load (see the server log); results are lexical-only"
        return "embedding model is still loading; results are lexical-only"

    async def embed_documents(self, texts: list[str]) -> np.ndarray | None:
        """Vectors for texts to store, or None when the model is not ready or the call failed."""
        if not self.ready or not texts:
            return None
        return await self._call(texts)

    async def embed_query(self, text: str) -> np.ndarray | None:
        if not self.ready:
            return None
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vectors = await self._call([text])
        if vectors is None:
            return None
        self._cache[text] = vectors[0]
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vectors[0]

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts, raising on failure: TimeoutError when the model is too slow, else the
        embedder's own error. For background work that decides itself what to do about failures."""
        if not self.ready:
            raise RuntimeError("the embedding model is not ready")
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._embedder.embed, texts)
        # The allowance grows with the batch: the setting is per batch of 64 texts.
        return await asyncio.wait_for(future, self._timeout * max(1.0, len(texts) / 64))

    async def _call(self, texts: list[str]) -> np.ndarray | None:
        try:
            return await self.embed(texts)
        except TimeoutError:
            log.warning("embedding %d texts timed out; continuing without vectors", len(texts))
        except Exception as exc:
            log.warning("embedding failed (%s); continuing without vectors", exc)
        return None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
