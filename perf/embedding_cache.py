"""Real model vectors for benchmark text, computed once and kept on disk.

Building a 100k-memory store costs about 15 minutes of all-MiniLM-L6-v2 time on a 2-core machine.
`CachedEmbedder` pays that once: it answers from a file of vectors the wrapped model made earlier
(keyed by the text's SHA-1 and the model's identity) and asks the model only for texts it has not
seen. Only store building uses it; ingestion throughput and query embedding are always measured on
the model itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from athena_mcp.embeddings.base import Embedder
from perf.embedders import WrappedEmbedder

DEFAULT_DIR = Path("perf/results/cache")
# Texts embedded per model call while warming; the model's fastest batch on 2 cores.
WARM_BATCH = 16
SAVE_EVERY = 4096


class CachedEmbedder(WrappedEmbedder):
    def __init__(self, inner: Embedder, directory: Path = DEFAULT_DIR) -> None:
        super().__init__(inner)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", inner.identity.describe()).strip("-")
        self.path = directory / f"{slug}.npz"
        self._index: dict[bytes, int] = {}
        self._vectors: list[np.ndarray] = []
        if self.path.exists():
            with np.load(self.path) as stored:
                self._vectors = list(stored["vectors"])
                self._index = {key.tobytes(): row for row, key in enumerate(stored["keys"])}

    def embed(self, texts: list[str]) -> np.ndarray:
        self._add_missing(texts)
        return np.stack([self._vectors[self._index[_key(text)]] for text in texts])

    def warm(self, texts: Sequence[str], progress: bool = True) -> None:
        """Embed every text not cached yet, saving as it goes so an interrupted warm-up keeps its work."""
        missing = list(dict.fromkeys(text for text in texts if _key(text) not in self._index))
        for offset in range(0, len(missing), SAVE_EVERY):
            chunk = missing[offset : offset + SAVE_EVERY]
            for start in range(0, len(chunk), WARM_BATCH):
                self._add_missing(chunk[start : start + WARM_BATCH])
            self.save()
            if progress:
                print(f"embedding cache: {offset + len(chunk)}/{len(missing)} new vectors", flush=True)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Raw digest bytes as uint8 rows: numpy's bytes dtype would strip trailing zero bytes.
        ordered = sorted(self._index, key=self._index.__getitem__)
        keys = np.frombuffer(b"".join(ordered), dtype=np.uint8).reshape(len(ordered), 20)
        partial = self.path.with_suffix(".partial.npz")
        np.savez(partial, keys=keys, vectors=np.stack(self._vectors))
        partial.replace(self.path)

    def _add_missing(self, texts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(text for text in texts if _key(text) not in self._index))
        if not missing:
            return
        for text, vector in zip(missing, self._inner.embed(missing), strict=True):
            self._index[_key(text)] = len(self._vectors)
            self._vectors.append(vector)


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()
