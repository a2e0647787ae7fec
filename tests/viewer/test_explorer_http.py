"""The explorer under the HTTP transport: its page opens without the token (it holds no memory), its
data only with one, held to the token's namespaces; read-only unless --explorer-writes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from contextlib import closing
from pathlib import Path

import httpx2
import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.store.driver import sqlite_module
from athena_mcp.transports.http import opener_page
from tests.http_rpc import RpcClient, asgi_client, running_app, with_alice_token
from tests.stdio_server import ATHENA_MCP

TOKEN = "an-operator-token-long-enough-1234"


async def test_the_page_is_open_its_data_behind_the_token_and_held_to_its_namespaces(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings, alice = with_alice_token(tmp_path, TOKEN)
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        admin = await RpcClient(http, TOKEN).start()
        mine = await admin.ok(
            "remember", content="Alice keeps the deploy keys in the vault", namespace="alice"
        )
        theirs = await admin.ok("remember", content="Bob's secret project is called Falcon", namespace="bob")

        page = await http.get("/ui")
        assert page.status_code == 200 and "Athena memory explorer" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await http.get("/ui/static/app.js")).headers["content-type"].startswith("text/javascript")
        assert (await http.get("/ui/static/index.py")).status_code == 404  # only its own three files

        assert (await http.get("/ui/api/namespaces")).status_code == 401
        as_alice = {"Authorization": f"Bearer {alice}"}
        listed = (await http.get("/ui/api/namespaces", headers=as_alice)).json()
        assert [n["name"] for n in listed["namespaces"]] == ["alice"] and listed["writes"] is False
        shown = await http.get(f"/ui/api/memory/{mine['id']}", headers=as_alice)
        assert shown.json()["content"] == "Alice keeps the deploy keys in the vault"
        hidden = await http.get(f"/ui/api/memory/{theirs['id']}", headers=as_alice)
        assert hidden.status_code == 404 and "Falcon" not in hidden.text
        absent = await http.get("/ui/api/memory/999999", headers=as_alice)
        # A memory of another namespace reads exactly as one that is not there, and the file goes unnamed.
        assert hidden.json()["error"] == f"there is no memory {theirs['id']} this token may read"
        assert absent.json()["error"] == "there is no memory 999999 this token may read"
        assert str(tmp_path) not in hidden.text + absent.text
        other = await http.get("/ui/api/timeline", params={"namespace": "bob"}, headers=as_alice)
        assert other.status_code == 404 and "Falcon" not in other.text

        refused = await http.post(
            f"/ui/api/memory/{mine['id']}/forget", json={"reason": "tidy"}, headers=as_alice
        )
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]
        bad = await http.get("/ui/api/search", params={"namespace": "alice", "q": ""}, headers=as_alice)
        assert bad.status_code == 400 and bad.json()["error"].startswith("q:")
        too_many = await http.get(
            "/ui/api/timeline", params={"namespace": "alice", "limit": "lots"}, headers=as_alice
        )
        assert (
            too_many.status_code == 400 and too_many.json()["error"] == "limit: a whole number from 1 to 500"
        )


async def test_with_explorer_writes_a_memory_is_forgotten_and_audited_as_the_explorers(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    settings = Settings(
        db=tmp_path / "a.db", toolsets=("all",), http_token=TOKEN, http_rate=0, explorer_writes=True
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        fact = await (await RpcClient(http, TOKEN).start()).ok("remember", content="The old VPN host is vpn1")
        not_json = await http.post(
            f"/ui/api/memory/{fact['id']}/forget", content=b"reason=x", headers=headers
        )
        assert not_json.status_code in (400, 415)
        broken = await http.post(
            f"/ui/api/memory/{fact['id']}/forget",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400 and "JSON object" in broken.json()["error"]
        forgot = await http.post(
            f"/ui/api/memory/{fact['id']}/forget", json={"reason": "retired"}, headers=headers
        )
        assert forgot.status_code == 200, forgot.text
        shown = (await http.get(f"/ui/api/memory/{fact['id']}", headers=headers)).json()
    assert shown["status"] == "forgotten" and shown["forget_reason"] == "retired"


async def test_a_server_limited_to_some_namespaces_limits_its_explorer_too(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    db = tmp_path / "a.db"
    async with (
        running_app(Settings(db=db, toolsets=("all",), http_rate=0), minilm) as app,
        asgi_client(app) as http,
    ):
        other = await (await RpcClient(http).start()).ok(
            "remember", content="Kept in the private namespace", namespace="private"
        )
    limited = Settings(db=db, toolsets=("all",), http_rate=0, namespaces=("work",))
    async with running_app(limited, minilm) as app, asgi_client(app) as http:
        listed = (await http.get("/ui/api/namespaces")).json()
        hidden = await http.get(f"/ui/api/memory/{other['id']}")
        elsewhere = await http.get("/ui/api/sessions", params={"namespace": "private"})
    assert listed["namespaces"] == [] and hidden.status_code == 404 and elsewhere.status_code == 404
    assert "Kept in the private" not in hidden.text


@pytest.mark.slow
def test_explore_takes_connections_as_soon_as_it_prints_its_address(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with closing(sqlite_module().connect(str(db))):
        pass  # a database to explore, empty
    process = subprocess.Popen(
        [ATHENA_MCP, "--db", str(db), "explore", "--no-open"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().split(" is at ", 1)[1].strip()
        # Frozen the moment it printed: only a socket already listening takes the connection.
        os.kill(process.pid, signal.SIGSTOP)
        try:
            port = int(address.split(":")[2].split("/")[0])
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        finally:
            os.kill(process.pid, signal.SIGCONT)
        page = httpx2.get(address.split("#")[0], timeout=30)
        assert page.status_code == 200 and "Athena memory explorer" in page.text
        token = address.split("#token=", 1)[1]
        listed = httpx2.get(
            address.split("/ui")[0] + "/ui/api/namespaces", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200 and listed.json() == {"namespaces": [], "writes": False}
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_the_browser_is_opened_on_a_private_page_not_on_the_address_with_its_token() -> None:
    address = "http://127.0.0.1:4321/ui#token=a-secret-of-this-run"
    page = opener_page(address)
    try:
        assert page.stat().st_mode & 0o777 == 0o600 and "a-secret-of-this-run" not in page.as_uri()
        assert 'url=http://127.0.0.1:4321/ui#token=a-secret-of-this-run"' in page.read_text(encoding="utf-8")
    finally:
        page.unlink()
