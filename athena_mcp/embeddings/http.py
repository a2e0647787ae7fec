"""An OpenAI-compatible `/embeddings` endpoint: OpenAI, Ollama, vLLM, LM Studio and the like."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np

from athena_mcp.embeddings.base import normalise
from athena_mcp.errors import AthenaError
from athena_mcp.models import EmbeddingIdentity


class EmbeddingEndpointError(AthenaError):
    """The HTTP embeddings endpoint failed or answered something unusable."""


class HttpEmbedder:
    def __init__(
        self,
        base_url: str,
        model: str,
        dimension: int,
        api_key: str = "",
        timeout: float = 30.0,
        batch_size: int = 64,
    ) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._dimension = dimension
        self._api_key = api_key
        self._timeout = timeout
        self._batch_size = batch_size
        self._checked = False

    @property
    def identity(self) -> EmbeddingIdentity:
        return EmbeddingIdentity(f"openai-compatible:{self._model}", self._dimension)

    @property
    def loaded(self) -> bool:
        return self._checked

    def load(self) -> None:
        """Check once that the endpoint answers with vectors of the configured size."""
        self.embed(["ping"])
        self._checked = True

    def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            rows.extend(self._request(texts[start : start + self._batch_size]))
        vectors = self._matrix(rows, len(texts))
        if vectors.shape[1] != self._dimension:
            raise EmbeddingEndpointError(
                f"The embeddings endpoint returned {vectors.shape[1]}-d vectors for model {self._model}, "
                f"but --embedding-dim is {self._dimension}. Set --embedding-dim to the model's size."
            )
        if not np.isfinite(vectors).all():
            raise EmbeddingEndpointError("The embeddings endpoint returned NaN or infinite values.")
        return normalise(vectors)

    def _matrix(self, rows: list[list[float]], count: int) -> np.ndarray:
        """One row per text, or an error: a reshape would silently spread one long vector over two texts."""
        unusable = EmbeddingEndpointError(
            f"The embeddings endpoint {self._url} answered {len(rows)} embeddings for {count} texts, "
            "not one list of numbers per text."
        )
        if len(rows) != count:
            raise unusable
        try:
            # Numbers beyond float32 become infinite here and are refused below as such.
            with np.errstate(over="ignore"):
                vectors = np.asarray(rows, dtype=np.float32)
        except (ValueError, TypeError):
            raise unusable from None
        if vectors.ndim != 2:
            raise unusable
        return vectors

    def _request(self, texts: list[str]) -> list[list[float]]:
        body = json.dumps({"model": self._model, "input": texts}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket open
            raise EmbeddingEndpointError(
                f"The embeddings endpoint {self._url} answered HTTP {exc.code}."
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise EmbeddingEndpointError(
                f"Cannot reach the embeddings endpoint {self._url}: {exc}."
            ) from None
        except json.JSONDecodeError:
            raise EmbeddingEndpointError(
                f"The embeddings endpoint {self._url} did not answer JSON."
            ) from None
        try:
            data = sorted(payload["data"], key=lambda item: item["index"])
            return [item["embedding"] for item in data]
        except (KeyError, TypeError):
            raise EmbeddingEndpointError(
                f"The embeddings endpoint {self._url} answered without a data[].embedding list."
            ) from None
