"""Embedders for chaos runs: a fast deterministic one, and a wrapper that fails or hangs on request.

The real model takes about 4 s of CPU to load, which a hundred crash-and-restart cycles would pay a
hundred times over; the scenarios are about storage, so most use `HashingEmbedder`: a real embedder
(feature hashing of word tokens, the technique of scikit-learn's HashingVectorizer) whose vectors
carry lexical similarity, computed in microseconds and identical in every process.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from athena_mcp.embeddings.base import Embedder, normalise
from athena_mcp.models import EmbeddingIdentity
from perf.embedders import WrappedEmbedder

DIMENSION = 384
WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Each word adds +1 or -1 to one of DIMENSION buckets, both chosen by a stable hash of the word."""

    identity = EmbeddingIdentity("chaos/hashing-words", DIMENSION)
    loaded = True

    def load(self) -> None:
        """Nothing to load."""

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                vectors[row, value % DIMENSION] += 1.0 if value >> 63 else -1.0
        return normalise(vectors)


@dataclass(frozen=True)
class EmbedderFault:
    """fail: every embed raises; hang: every embed blocks for `seconds`; slow: each takes `seconds` more."""

    mode: str
    seconds: float = 0.0


class FaultyEmbedder(WrappedEmbedder):
    """Wraps an embedder; `fault` (changeable while the server runs) decides how each call misbehaves."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.fault: EmbedderFault | None = None
        # Set when the fault is lifted, so a hanging call can end early instead of sleeping on.
        self._lifted = threading.Event()

    def set_fault(self, fault: EmbedderFault | None) -> None:
        self.fault = fault
        if fault is None:
            self._lifted.set()
        else:
            self._lifted.clear()

    def embed(self, texts: list[str]) -> np.ndarray:
        fault = self.fault
        if fault is not None:
            if fault.mode == "fail":
                raise RuntimeError("chaos: the embedder failed (injected fault)")
            if fault.mode == "hang":
                self._lifted.wait(fault.seconds)
            elif fault.mode == "slow":
                time.sleep(fault.seconds)
        return self._inner.embed(texts)
