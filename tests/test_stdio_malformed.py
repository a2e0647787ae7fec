"""Malformed JSON-RPC on a real stdio server: each line gets the error the spec asks for, and the
server lives on to serve the next valid request."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chaos.stdio_fuzz import run_stdio_fuzz
from tests.stdio_server import INITIALIZE as STDIO_INITIALIZE

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = -32700, -32600, -32601

INITIALIZE = {**STDIO_INITIALIZE, "id": "init"}

# (line sent, the error code of the answer, or None when the spec wants no answer)
JUNK: list[tuple[bytes, int | None]] = [
    (b"not json at all", PARSE_ERROR),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/list",', PARSE_ERROR),  # truncated
    (b"\x00\xff\xfe\x80 binary junk", PARSE_ERROR),
    (b"[" * 100_000, PARSE_ERROR),  # deeper than any parser recurses
    (b'{"jsonrpc":"1.0","id":2,"method":"ping"}', INVALID_REQUEST),
    (b'{"id":3,"method":"ping"}', INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":"not an object"}', INVALID_REQUEST),
    (b"[]", INVALID_REQUEST),
    (b"[1, 2]", INVALID_REQUEST),
    (b"42", INVALID_REQUEST),
    (b"null", INVALID_REQUEST),
    (b'{"jsonrpc":"2.0","id":5,"method":"no/such/method"}', METHOD_NOT_FOUND),
    (b'{"jsonrpc":"2.0","method":"notifications/no_such_notification"}', None),
]


class RawStdio:
    """A stdio server process written to byte by byte; answers are read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def answer(self, timeout: float = 30.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.process.stdout.readline()
        assert line, "the server closed its stdout"
        message: dict[str, Any] = json.loads(line)
        return message

    async def request(self, request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.send(
            json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
        )
        while True:
            answer = await self.answer()
            if answer.get("id") == request_id:
                return answer


@pytest.fixture
async def raw(tmp_path: Path) -> AsyncIterator[RawStdio]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "athena_mcp",
        "--db",
        str(tmp_path / "athena.db"),
        "--log-level",
        "WARNING",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "ATHENA_TOOLSETS": "all"},
        limit=2**26,
    )
    try:
        yield RawStdio(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def initialize(raw: RawStdio) -> None:
    await raw.send(json.dumps(INITIALIZE).encode())
    assert "result" in await raw.answer(timeout=120)
    await raw.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')


async def test_every_malformed_line_gets_the_json_rpc_error_and_the_server_serves_on(raw: RawStdio) -> None:
    await initialize(raw)
    answers: list[tuple[bytes, int | None]] = []
    for line, expected in JUNK:
        await raw.send(line)
        if expected is None:
            continue
        answer = await raw.answer()
        answers.append((line[:40], answer.get("error", {}).get("code")))
        if expected != METHOD_NOT_FOUND:
            assert answer["id"] is None, answer
    stored = await raw.request(
        10, "tools/call", {"name": "remember", "arguments": {"content": "Survived the junk"}}
    )
    assert answers == [(line[:40], code) for line, code in JUNK if code is not None]
    assert stored["result"]["structuredContent"]["status"] == "stored"
    assert raw.process.returncode is None


async def test_a_request_before_initialize_is_answered_with_an_error(raw: RawStdio) -> None:
    early = await raw.request(1, "tools/call", {"name": "recall", "arguments": {"query": "anything"}})
    await initialize(raw)
    listed = await raw.request(2, "tools/list", {})
    assert "error" in early and "result" not in early
    assert len(listed["result"]["tools"]) > 40


async def test_a_huge_message_is_refused_naming_the_limit_and_the_server_serves_on(raw: RawStdio) -> None:
    await initialize(raw)
    huge = await raw.request(1, "tools/call", {"name": "remember", "arguments": {"content": "x" * 8_000_000}})
    after = await raw.request(2, "tools/call", {"name": "recall", "arguments": {"query": "x"}})
    assert huge["result"]["isError"] is True
    text = huge["result"]["content"][0]["text"]
    assert "content" in text and "20000" in text and len(text) < 2_000
    assert after["result"]["isError"] is False


async def test_duplicate_request_ids_each_get_an_answer(raw: RawStdio) -> None:
    await initialize(raw)
    for content in ("First of two", "Second of two"):
        call = {"name": "remember", "arguments": {"content": content}}
        await raw.send(
            json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": call}).encode()
        )
    answers = [await raw.answer(), await raw.answer()]
    listed = await raw.request(8, "tools/call", {"name": "list_memories", "arguments": {}})
    assert [answer["id"] for answer in answers] == [7, 7]
    contents = {item["content"] for item in listed["result"]["structuredContent"]["items"]}
    assert contents == {"First of two", "Second of two"}


async def test_generated_junk_lines_never_kill_or_stall_the_server(tmp_path: Path) -> None:
    report = await run_stdio_fuzz(tmp_path / "athena.db", count=200, run_seed=6)
    assert report.lines == 200
    assert (report.died, report.unanswered_pings, report.malformed_answers) == (False, 0, [])
    # The junk was mostly refused as the spec asks: unparsable lines and invalid requests.
    assert report.answers["error -32700"] > 20 and report.answers["error -32600"] > 20
