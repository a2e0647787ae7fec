"""Runs an embedder off the event loop: background loading, timeouts and a query cache.

The server must answer `initialize` and `tools/list` at once, so the model loads in a worker
thread after start-up. A call that needs vectors while it loads waits for it, up to `load_wait`
seconds (the model loads in well under a second; the bound is for a slow or failing load). Past
that, or while the model is failing, callers get `None` and carry on without vectors: writes queue
their vectors for later, searches run lexical-only and say so.

A call whose caller stopped waiting (it timed out, or was cancelled) cannot be stopped: it keeps
the embedder's one thread until the embedder returns. Until then every call would queue behind it
and wait its whole timeout too, so calls go without vectors at once instead (`available` is false),
and the first call after it returns uses the embedder again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import numpy as np

from athena_mcp.embeddings.base import Embedder
from athena_mcp.models import EmbeddingIdentity

log = logging.getLogger(__name__)

State = Literal["idle", "loading", "ready", "failed"]
PROBE_TEXT = "probe"


class EmbedderDown(Exception):
    """The embedder fails even a short probe text: it is down, not refusing particular texts."""


class EmbeddingService:
    def __init__(
        self, embedder: Embedder, *, timeout: float, load_wait: float = 0.0, query_cache_size: int = 1024
    ) -> None:
        self._embedder = embedder
        self._timeout = timeout
        self._load_wait = load_wait
        # One thread: the model is not shared between concurrent calls and leaves a core for SQLite.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="athena-embed")
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._loading: asyncio.Future[None] | None = None
        self._abandoned: list[Future[np.ndarray]] = []  # calls no one waits for, maybe still running
        self.down = False  # the embedder failed a probe text (check_up), and has not answered one since
        self.state: State = "idle"
        self.failure: str | None = None

    @property
    def identity(self) -> EmbeddingIdentity:
        return self._embedder.identity

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def available(self) -> bool:
        """Ready, and not held by an abandoned call that is still running."""
        self._abandoned = [call for call in self._abandoned if not call.done()]
        return self.ready and not self._abandoned

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

    async def usable(self) -> bool:
        """Available now, or after waiting up to `load_wait` seconds for a load under way (or not yet
        begun) to finish. A load that failed is not waited for: the backlog worker retries it."""
        if self.state in ("idle", "loading") and self._load_wait > 0:
            self.start_loading()
            if self._loading is not None:
                await asyncio.wait([self._loading], timeout=self._load_wait)
        return self.available

    def notice(self) -> str | None:
        """Why vectors are unavailable right now, for search results; None when they are available."""
        if self.available:
            return None
        if self.state == "ready":
            return (
                "the embedding model is not answering (an earlier call is still running past its "
                f"{self._timeout:g} s timeout); results are lexical-only"
            )
        if self.state == "failed":
            # The failure itself (paths, URLs) stays in the server log.
            return "embedding model failed to load (see the server log); results are lexical-only"
        return "embedding model is still loading; results are lexical-only"

    async def embed_documents(self, texts: list[str]) -> np.ndarray | None:
        """Vectors for texts to store, or None when the model is not ready or the call failed."""
        if not texts or not await self.usable():
            return None
        return await self._call(texts)

    async def embed_query(self, text: str) -> np.ndarray | None:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        if not await self.usable():
            return None
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
        if not self.available:
            raise TimeoutError("the embedding model is still running an earlier call that timed out")
        running = self._executor.submit(self._embedder.embed, texts)
        # The allowance grows with the batch: the setting is per batch of 64 texts.
        allowance = self._timeout * max(1.0, len(texts) / 64)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(running), allowance)
        finally:
            # Timed out or cancelled, the wrapper cancels the call: one already running goes on.
            if not running.done():
                self._abandoned.append(running)

    async def check_up(self, failure: Exception) -> None:
        """After `failure` of a call, raise EmbedderDown if the embedder fails a short probe text too,
        so that background work waits for it instead of putting off the texts it was given."""
        if not await self.probe():
            raise EmbedderDown(str(failure))

    async def probe(self) -> bool:
        """Whether the embedder embeds a short text now; keeps `down` (and logs its changes)."""
        try:
            await self.embed([PROBE_TEXT])
        except Exception as exc:
            if not self.down:
                log.warning("the embedder is down (%s); queued texts wait for it", exc)
            self.down = True
            return False
        if self.down:
            log.warning("the embedder is back")
        self.down = False
        return True

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
