"""/health, /ready and /metrics on the HTTP transport: behind the token unless opened to this machine,
metrics read by Prometheus's own parser, and no memory content in any of them."""

from __future__ import annotations

from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.http_rpc import RpcClient, asgi_client, running_app, with_alice_token

TOKEN = "a-token-long-enough-to-be-safe-1234"
SECRET_WORD = "zanzibarian"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_probes_and_metrics_describe_the_server_without_its_content(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings = Settings(db=tmp_path / "a.db", toolsets=("all",), http_token=TOKEN, http_rate=0)
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        for path in ("/health", "/ready", "/metrics"):
            assert (await http.get(path)).status_code == 401
        client = await RpcClient(http, TOKEN).start()
        await client.ok("remember", content=f"The {SECRET_WORD} key is in the vault", namespace="work")
        await client.ok("recall", query="vault key", namespace="work")
        await client.call("recall", {"query": ""})  # refused: an error outcome
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert (await http.get("/health", headers=headers)).text == "live\n"
        ready = (await http.get("/ready", headers=headers)).json()
        assert (
            ready["ready"] is True
            and ready["schema"] >= 12
            and ready["embedder"] in ("ready", "loading", "idle")
        )
        metrics = await http.get("/metrics", headers=headers)
    assert metrics.status_code == 200 and SECRET_WORD not in metrics.text
    found = samples(metrics.text)
    assert found[("athena_tool_calls_total", (("outcome", "ok"), ("tool", "remember")))] == 1
    assert found[("athena_tool_calls_total", (("outcome", "error"), ("tool", "recall")))] == 1
    assert found[("athena_tool_call_seconds_count", (("tool", "recall"),))] == 2
    assert found[("athena_memories", (("kind", "facts"), ("namespace", "work")))] == 1
    assert found[("athena_database_bytes", ())] > 0
    assert ("athena_vector_backlog", ()) in found


async def test_open_probes_answer_this_machine_without_a_token_and_nobody_else(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings = Settings(
        db=tmp_path / "a.db", toolsets=("all",), http_token=TOKEN, http_rate=0, http_open_probes=True
    )
    async with running_app(settings, minilm) as app:
        async with asgi_client(app) as local:
            assert (await local.get("/ready")).status_code == 200
            assert (await local.get("/metrics")).status_code == 200
            assert (await local.post("/mcp", json={})).status_code == 401  # the rest still needs it
        remote = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app, client=("203.0.113.9", 50000)),
            base_url="http://127.0.0.1:8765",
        )
        async with remote:
            assert (await remote.get("/metrics")).status_code == 401


async def test_a_token_limited_to_some_namespaces_sees_only_theirs_in_the_metrics(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings, alice = with_alice_token(tmp_path, TOKEN)
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        admin = await RpcClient(http, TOKEN).start()
        await admin.ok("remember", content="Alice's note", namespace="alice")
        await admin.ok("remember", content="Bob's note", namespace="bob-secret-project")
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {alice}"})).text
    assert 'namespace="alice"' in text and "bob-secret-project" not in text
