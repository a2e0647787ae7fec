"""Malformed JSON-RPC, generated, against a real `python -m athena_mcp` on stdio.

Each generated line (binary junk, text, JSON of any shape, JSON-RPC look-alikes with wrong versions,
ids, methods and params) is followed by a ping with a fresh id. The properties: the process never
dies, every ping is answered, and every line it writes back is a well-formed JSON-RPC response.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from chaos.schema_strategies import HOSTILE_TEXT, draw, json_values

PROTOCOL_VERSION = "2025-11-25"
METHODS = ("initialize", "ping", "tools/list", "tools/call", "resources/read", "resources/list", "no/such")


def _rpc_lookalikes() -> st.SearchStrategy[dict[str, Any]]:
    ids = st.one_of(st.integers(), st.text(max_size=8), st.none(), st.booleans(), json_values(4))
    params = st.one_of(
        json_values(6),
        st.fixed_dictionaries(
            {"name": st.sampled_from(["remember", "recall", "nope", ""]), "arguments": json_values(6)}
        ),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "jsonrpc": st.sampled_from(["2.0", "1.0", "", 2.0]),
            "id": ids,
            "method": st.one_of(st.sampled_from(METHODS), st.text(max_size=20)),
            "params": params,
            "result": json_values(3),
            "error": json_values(3),
        },
    )


JUNK_LINES = st.one_of(
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\n", b" ")),
    st.sampled_from(HOSTILE_TEXT).map(str.encode),
    json_values(20).map(lambda value: json.dumps(value).encode()),
    _rpc_lookalikes().map(lambda message: json.dumps(message).encode()),
    st.integers(1, 200_000).map(lambda depth: b"[" * depth),
)


def draw_lines(count: int, run_seed: int) -> list[bytes]:
    return [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in draw(JUNK_LINES, count, run_seed)]


@dataclass
class StdioReport:
    lines: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    malformed_answers: list[str] = field(default_factory=list)
    unanswered_pings: int = 0
    died: bool = False

    def lines_out(self) -> list[str]:
        return [
            f"stdio: {self.lines} malformed lines, answered {dict(self.answers)}",
            f"stdio: process died: {self.died}; pings unanswered: {self.unanswered_pings}; "
            f"malformed answers: {len(self.malformed_answers)}",
            *self.malformed_answers[:10],
        ]

    @property
    def failed(self) -> bool:
        return self.died or self.unanswered_pings > 0 or bool(self.malformed_answers)


def _kind(message: Any) -> str | None:
    """'result' or the error code of a well-formed JSON-RPC response or notification; None otherwise."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    if "method" in message and "id" not in message:
        return f"notification {message['method']}"
    if "result" in message:
        return "result"
    error = message.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return f"error {error['code']}"
    return None


async def run_stdio_fuzz(db: Path, count: int, run_seed: int = 0) -> StdioReport:
    """`count` generated malformed lines against a fresh stdio server on `db`."""
    report = StdioReport()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "athena_mcp", "--db", str(db), "--log-level", "ERROR"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "ATHENA_TOOLSETS": "all"},
        limit=2**24,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    async def send(line: bytes) -> None:
        stdin.write(line + b"\n")
        await stdin.drain()

    async def answered(request_id: str) -> bool:
        """Read until the answer to `request_id`, checking every line on the way."""
        try:
            async with asyncio.timeout(60):
                while line := await stdout.readline():
                    message = json.loads(line)
                    kind = _kind(message)
                    if kind is None:
                        report.malformed_answers.append(line.decode(errors="replace")[:300])
                    elif message.get("id") == request_id:
                        return True
                    else:
                        report.answers[kind] += 1
        except (TimeoutError, ValueError):
            pass
        return False

    try:
        initialize = {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "chaos", "version": "0"},
        }
        opening = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": initialize}
        await send(json.dumps(opening).encode())
        if not await answered("init"):
            raise RuntimeError("the server did not answer initialize")
        await send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for n, line in enumerate(draw_lines(count, run_seed)):
            report.lines += 1
            await send(line)
            await send(json.dumps({"jsonrpc": "2.0", "id": f"ping-{n}", "method": "ping"}).encode())
            if not await answered(f"ping-{n}"):
                report.unanswered_pings += 1
                if process.returncode is not None:
                    break
    except (ConnectionError, BrokenPipeError):
        pass
    finally:
        # Read before stdin closes: closing it ends the process by design.
        report.died = process.returncode is not None
        if process.returncode is None:
            stdin.close()
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
    return report
