"""The interface every embedder implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from athena_mcp.models import EmbeddingIdentity


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    `identity` must be known without loading the model, so the server can check the store's
    vectors at start-up while the model itself loads in the background. `load` and `embed` block
    and are called from a worker thread.
    """

    @property
    def identity(self) -> EmbeddingIdentity: ...

    @property
    def loaded(self) -> bool:
        """True once `load` has succeeded, so a shared, already-loaded embedder is usable at once."""
        ...

    def load(self) -> None:
        """Make the embedder ready (load weights, check the endpoint); idempotent."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text, shape (len(texts), dimension), unit length."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
