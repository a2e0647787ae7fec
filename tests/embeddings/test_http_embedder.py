"""The OpenAI-compatible HTTP embedder against a real HTTP endpoint on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from athena_mcp.embeddings.http import EmbeddingEndpointError, HttpEmbedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call, open_client, wait_for


@contextlib.contextmanager
def embeddings_endpoint(
    model: MiniLMEmbedder, *, dimension_cut: int | None = None, refuse: str | None = None
) -> Iterator[tuple[str, list]]:
    """An /v1/embeddings server answering like OpenAI, backed by the real model; yields (url, requests)."""
    requests: list[dict] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if refuse is not None and any(refuse in text for text in body["input"]):
                self.send_error(400, "input rejected")
                return
            vectors = model.embed(body["input"])[:, :dimension_cut]
            payload = {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": v.tolist()}
                    for i, v in reversed(list(enumerate(vectors)))
                ],
            }
            send_json(self, json.dumps(payload).encode())

    with on_loopback(Handler) as url:
        yield url, requests


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def send_json(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextlib.contextmanager
def on_loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port from a thread; yields the endpoint's /v1 URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_vectors_come_back_in_input_order_with_the_bearer_token(minilm):
    with embeddings_endpoint(minilm) as (url, requests):
        embedder = HttpEmbedder(url, "mini", 384, api_key="s3cret", batch_size=2)
        vectors = embedder.embed(["alpha", "beta", "gamma"])
    assert vectors.shape == (3, 384)
    assert (vectors @ minilm.embed(["alpha", "beta", "gamma"]).T).diagonal().min() > 0.999
    assert [r["path"] for r in requests] == ["/v1/embeddings"] * 2
    assert requests[0]["auth"] == "Bearer s3cret" and requests[0]["model"] == "mini"


def test_a_wrong_dimension_is_refused_with_the_setting_to_change(minilm):
    with (
        embeddings_endpoint(minilm, dimension_cut=100) as (url, _),
        pytest.raises(EmbeddingEndpointError, match="embedding-dim"),
    ):
        HttpEmbedder(url, "mini", 384).load()


def test_an_unreachable_endpoint_is_reported_not_raised_raw():
    with pytest.raises(EmbeddingEndpointError, match="Cannot reach"):
        HttpEmbedder("http://127.0.0.1:9/v1", "mini", 384, timeout=2).embed(["x"])


async def test_the_server_uses_the_http_endpoint_when_configured(tmp_path, minilm):
    with embeddings_endpoint(minilm) as (url, requests):
        settings = Settings(
            toolsets=("all",),
            db=tmp_path / "a.db",
            embedder="http",
            embedding_url=url,
            embedding_model="mini",
            embedding_dim=384,
            backlog_interval=0.05,
        )
        async with open_client(settings, None) as client:

            async def ready() -> bool:
                result = await call(client, "recall", query="anything")
                return result["mode"] == "hybrid"

            await wait_for(ready)
            stored = await call(client, "remember", content="Ollama serves the embeddings")
            hits = await call(client, "recall", query="which local server computes vectors?")
            assert hits["results"][0]["id"] == stored["id"]
    assert requests, "the endpoint was never called"
