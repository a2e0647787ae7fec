"""Embedders that wrap the real one for measurement: the model still computes every vector."""

from __future__ import annotations

import time

import numpy as np

from athena_mcp.embeddings.base import Embedder
from athena_mcp.models import EmbeddingIdentity


class WrappedEmbedder:
    """Passes identity and loading through to the wrapped embedder; subclasses change `embed`."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def identity(self) -> EmbeddingIdentity:
        return self._inner.identity

    @property
    def loaded(self) -> bool:
        return self._inner.loaded

    def load(self) -> None:
        self._inner.load()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._inner.embed(texts)


class TimedEmbedder(WrappedEmbedder):
    """Adds up the seconds spent inside the wrapped model, to split ingestion time."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.seconds = 0.0

    def embed(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self._inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start
