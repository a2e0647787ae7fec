"""Choose the embedder named by the settings."""

from __future__ import annotations

from pathlib import Path

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.http import HttpEmbedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.embeddings.minilm_torch import TorchMiniLMEmbedder
from athena_mcp.settings import MODEL_CACHE_OFF, Settings


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "http":
        return HttpEmbedder(
            settings.embedding_url,
            settings.embedding_model,
            settings.embedding_dim,
            api_key=settings.embedding_api_key,
            timeout=settings.embedding_timeout,
            batch_size=settings.embedding_batch_size,
        )
    if settings.embedder == "minilm-torch":
        return TorchMiniLMEmbedder(batch_size=settings.embedding_batch_size)
    cache = None if settings.model_cache == MODEL_CACHE_OFF else Path(settings.model_cache).expanduser()
    return MiniLMEmbedder(batch_size=settings.embedding_batch_size, cache=cache)
