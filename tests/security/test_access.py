"""Red team: a token bound to namespace "bob" cannot read or write "alice" through anything.

The server's real HTTP app runs with a token file holding a write token and a read-only token for
"bob", and the full-access --http-token seeds both namespaces with marked data. Every tool that
tools/list offers is then called with namespace "alice" (a list naming "alice" beside "bob" where
the tool takes lists, and alice's ids where a tool takes ids): each must be refused by the access
check, before it runs, with nothing written and nothing of alice's in the answer. The same calls in
"bob" pass the check, so the refusals are not a side effect of bad arguments.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.transports import tokens
from tests.http_rpc import RpcClient, asgi_client, running_app, text_of

pytestmark = pytest.mark.timeout(300)

ADMIN = "full-access-token-for-the-tests"
ALICE_MARK = "xylophonist"
REFUSED = "this token"


@pytest.fixture
def token_file(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "tokens"
    writer = tokens.add(path, "bob", ["bob", "carol"], "write")  # carol: permitted, and empty
    reader = tokens.add(path, "bob-reader", ["bob"], "read")
    return path, writer, reader


def minimal(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small value of the schema's shape (required fields only)."""
    if "$ref" in schema:
        return minimal(defs[schema["$ref"].split("/")[-1]], defs)
    if "anyOf" in schema:
        return minimal(next(s for s in schema["anyOf"] if s.get("type") != "null"), defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: minimal(properties[name], defs) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema.get("items", {}), defs)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 0.5)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


def arguments_in(tool: dict[str, Any], namespace: str) -> dict[str, Any]:
    schema = tool["inputSchema"]
    arguments: dict[str, Any] = minimal(schema, schema.get("$defs", {}))
    spec = schema.get("properties", {}).get("namespace")
    if spec is not None:
        takes_lists = any(s.get("type") == "array" for s in spec.get("anyOf", []))
        arguments["namespace"] = ["bob", namespace] if takes_lists else namespace
    return arguments


def snapshot(db: Path) -> dict[str, int]:
    """Rows per ordinary table: what any write would change."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
        ]
        return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


async def seed(admin: RpcClient, namespace: str, mark: str) -> None:
    ns = {"namespace": namespace}
    await admin.ok("remember", content=f"The vault code is kept by the {mark}", **ns)
    await admin.ok("record_event", content=f"Met the {mark} at noon", session_id="s1", **ns)
    await admin.ok("create_task", title=f"Call the {mark}", **ns)
    await admin.ok("create_trigger", reminder=f"Remind the {mark}", after_seconds=3600, **ns)
    await admin.ok("save_procedure", name="Tune", goal=f"Tune for the {mark}", steps=["tune"], **ns)
    entities = [{"name": "Vault", "entityType": "place", "observations": [f"guarded by the {mark}"]}]
    await admin.ok("create_entities", entities=entities, **ns)


async def test_a_token_bound_to_bob_reaches_alice_through_no_tool_and_no_resource(
    tmp_path: Path, token_file: tuple[Path, str, str], minilm: MiniLMEmbedder
):
    path, writer, _ = token_file
    db = tmp_path / "athena.db"
    settings = Settings(db=db, toolsets=("all",), token_file=str(path), http_token=ADMIN, http_rate=0)
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        admin = await RpcClient(http, ADMIN).start()
        await seed(admin, "alice", ALICE_MARK)
        await seed(admin, "bob", "bassoonist")
        bob = await RpcClient(http, writer).start()
        offered = await bob.tools()
        assert len(offered) >= 50
        before = snapshot(db)
        for tool in offered:
            if tool["name"] == "memory_status":
                continue
            result = await bob.call(tool["name"], arguments_in(tool, "alice"))
            text = text_of(result)
            assert result.get("isError") and REFUSED in text, (tool["name"], text)
            assert ALICE_MARK not in str(result), tool["name"]
        assert snapshot(db) == before, "a refused call wrote something"

        status = await bob.ok("memory_status")
        assert [n["namespace"] for n in status["namespaces"]] == ["bob"]
        # An empty search says which namespaces hold memories: only those the token may read.
        empty = await bob.ok("recall", query="vault code", namespace="carol")
        assert "bob" in empty["notice"] and "alice" not in str(empty)

        read = await bob.exchange("resources/read", {"uri": "athena://prospective/alice/due"})
        assert "namespace 'alice'" in read["error"]["message"] and ALICE_MARK not in str(read)
        assert "result" in await bob.exchange("resources/read", {"uri": "athena://prospective/bob/due"})

        # The control: in bob the same calls pass the access check (tools that take no namespace
        # reach every namespace, and stay refused).
        for tool in offered:
            if "namespace" in tool["inputSchema"].get("properties", {}):
                arguments = {**arguments_in(tool, "bob"), "namespace": "bob"}
                assert REFUSED not in text_of(await bob.call(tool["name"], arguments)), tool["name"]


async def test_a_read_only_token_reads_its_namespace_and_writes_nothing(
    tmp_path: Path, token_file: tuple[Path, str, str], minilm: MiniLMEmbedder
):
    path, _, reader = token_file
    db = tmp_path / "athena.db"
    settings = Settings(db=db, toolsets=("all",), token_file=str(path), http_token=ADMIN, http_rate=0)
    async with running_app(settings, minilm) as app, asgi_client(app) as http:
        await seed(await RpcClient(http, ADMIN).start(), "bob", "bassoonist")
        client = await RpcClient(http, reader).start()
        before = snapshot(db)
        for tool in await client.tools():
            arguments = {**arguments_in(tool, "bob")}
            if "namespace" in arguments:
                arguments["namespace"] = "bob"
            text = text_of(await client.call(tool["name"], arguments))
            if tool["annotations"]["readOnlyHint"]:
                assert "may only read" not in text, (tool["name"], text)
            else:
                assert "this token may only read, and" in text, (tool["name"], text)
        assert snapshot(db) == before
        found = await client.ok("recall", query="vault code", namespace="bob")
        assert "bassoonist" in found["results"][0]["content"]


async def test_the_full_access_token_and_a_tokenless_loopback_server_reach_every_namespace(
    tmp_path: Path, minilm: MiniLMEmbedder
):
    for settings in (
        Settings(db=tmp_path / "a.db", toolsets=("all",), http_token=ADMIN, http_rate=0),
        Settings(db=tmp_path / "b.db", toolsets=("all",), http_rate=0),
    ):
        async with running_app(settings, minilm) as app, asgi_client(app) as http:
            client = await RpcClient(http, settings.http_token or None).start()
            await seed(client, "alice", ALICE_MARK)
            await seed(client, "bob", "bassoonist")
            listed = await client.ok("memory_status")
            assert {n["namespace"] for n in listed["namespaces"]} == {"alice", "bob"}
