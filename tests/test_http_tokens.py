"""Named HTTP tokens bound to namespaces: made and managed by `athena-mcp token`, kept as digests in a
file readable by its owner only, checked in constant time, and picked up by a running server when
the file changes."""

from __future__ import annotations

import hashlib
import hmac
import stat
import subprocess
from pathlib import Path

import httpx2
import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.errors import AthenaError
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from athena_mcp.transports import http, tokens
from tests.http_rpc import RpcClient, asgi_client, listening, running_app, text_of
from tests.stdio_server import ATHENA_MCP, free_port, http_server


def athena(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ATHENA_MCP, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_token_add_prints_a_token_once_and_keeps_only_its_digest_in_a_private_file(tmp_path: Path):
    path = tmp_path / "config" / "tokens"
    added = athena(
        "token", "add", "laptop", "--namespace", "alice", "--namespace", "team", "--token-file", str(path)
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) >= 40 and "shown only now" in added.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert token not in text and hashlib.sha256(token.encode()).hexdigest() in text
    assert (
        athena(
            "token", "add", "reader", "--namespace", "*", "--read-only", "--token-file", str(path)
        ).returncode
        == 0
    )

    listed = athena("token", "list", "--token-file", str(path))
    assert listed.stdout.splitlines() == ["laptop\twrite\talice, team", "reader\tread\tevery namespace"]
    assert hashlib.sha256(token.encode()).hexdigest() not in listed.stdout

    again = athena("token", "add", "laptop", "--namespace", "x", "--token-file", str(path))
    assert again.returncode == 1 and again.stderr.strip().splitlines() == [
        "athena-mcp: a token named 'laptop' exists already; remove it first or choose another name"
    ]
    assert athena("token", "remove", "laptop", "--token-file", str(path)).returncode == 0
    assert athena("token", "list", "--token-file", str(path)).stdout.splitlines() == [
        "reader\tread\tevery namespace"
    ]
    missing = athena("token", "list")
    assert missing.returncode == 1 and "--token-file" in missing.stderr and "Traceback" not in missing.stderr


def test_a_malformed_token_file_is_refused_naming_its_line(tmp_path: Path):
    path = tmp_path / "tokens"
    tokens.add(path, "ok", ["a"], "write")
    with path.open("a") as out:
        out.write('{"name": "bad", "sha256": "SECRET-IN-CLEAR", "namespaces": ["a"], "scope": "write"}\n')
    with pytest.raises(AthenaError, match="line 2: sha256 of bad: 64 lowercase hex digits"):
        tokens.TokenFile(path)
    with pytest.raises(AthenaError, match="cannot read the token file"):
        tokens.TokenFile(tmp_path / "missing")


async def test_tokens_are_compared_as_digests_in_constant_time(tmp_path, minilm, monkeypatch):
    compared: list[bytes] = []
    constant_time = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return constant_time(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", compare_digest)
    token = tokens.add(tmp_path / "tokens", "laptop", ["bob"], "write")
    settings = Settings(db=tmp_path / "a.db", token_file=str(tmp_path / "tokens"), http_rate=0)
    async with running_app(settings, minilm) as app, asgi_client(app) as c:
        assert (await RpcClient(c, "wrong-token-of-some-length").post("initialize", {})).status_code == 401
        await RpcClient(c, token).start()
    assert hashlib.sha256(token.encode()).hexdigest().encode() in compared
    assert token.encode() not in compared


async def test_a_token_file_edited_while_serving_takes_effect_at_once_and_fails_closed(
    tmp_path: Path, minilm: MiniLMEmbedder
):
    path = tmp_path / "tokens"
    first = tokens.add(path, "first", ["bob"], "write")
    settings = Settings(db=tmp_path / "a.db", toolsets=("all",), token_file=str(path), http_rate=0)
    async with running_app(settings, minilm) as app, asgi_client(app) as c:
        client = await RpcClient(c, first).start()
        await client.ok("remember", content="first", namespace="bob")
        second = tokens.add(path, "second", ["alice"], "read")
        reader = await RpcClient(c, second).start()
        refused = await reader.call("remember", {"content": "x", "namespace": "alice"})
        assert "this token may only read" in text_of(refused)
        tokens.remove(path, "first")
        assert (await client.post("tools/list", {})).status_code == 401
        path.write_text("not json\n")
        broken = await reader.post("tools/list", {})
        assert broken.status_code == 503 and "token file" in broken.text and str(path) not in broken.text


def test_a_token_file_serves_as_the_token_off_loopback(tmp_path: Path):
    tokens.add(tmp_path / "tokens", "laptop", ["a"], "write")
    settings = Settings(host="192.168.1.20", token_file=str(tmp_path / "tokens"))
    assert http.bearer_token(settings) is None  # no single token, yet the server may start
    http.http_app(build_server(settings, background=False), settings)


@pytest.mark.slow
async def test_the_real_server_serves_token_file_tokens_and_refuses_other_namespaces(tmp_path: Path):
    path = tmp_path / "tokens"
    token = tokens.add(path, "bob-laptop", ["bob"], "write")
    port = free_port()
    async with (
        http_server(tmp_path / "a.db", port, "--token-file", str(path)),
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as raw,
    ):
        await listening(raw)
        assert (await RpcClient(raw).post("initialize", {})).status_code == 401
        client = await RpcClient(raw, token).start()
        await client.ok("remember", content="bob's own fact", namespace="bob")
        refused = text_of(await client.call("recall", {"query": "fact", "namespace": ["bob", "alice"]}))
        assert "namespace 'alice': this token may read only: bob" in refused
        later = tokens.add(path, "alice-laptop", ["alice"], "write")
        other = await RpcClient(raw, later).start()  # no restart needed
        await other.ok("remember", content="alice's own fact", namespace="alice")
