"""A real chaos server process (`python -m chaos.server`) driven by a real MCP client over stdio."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult

from chaos import faults

# A call that takes longer than this is a hang, reported as such, never waited on for ever.
CALL_TIMEOUT = 60.0


def error_text(result: CallToolResult) -> str:
    """The text of a tool's answer, as the client shows it."""
    return " ".join(getattr(block, "text", "") for block in result.content)


async def wait_for_port(port: int) -> None:
    """Until something listens on the loopback port (a server process starting up)."""
    async with asyncio.timeout(CALL_TIMEOUT):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
            else:
                writer.close()
                return


class ToolFailed(Exception):
    """The tool answered with an error; `text` is what the client was shown."""

    def __init__(self, tool: str, text: str) -> None:
        super().__init__(f"{tool}: {text}")
        self.tool = tool
        self.text = text


@dataclass
class ServerOptions:
    db: Path
    workdir: Path  # pid file, stderr log and fault plan live here
    name: str = "server"
    flags: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # The first call, which must succeed: it reads the store, so the server is back when it answers.
    probe: tuple[str, dict[str, Any]] = ("consolidation_status", {})
    # A fault plan (chaos.faults), in force from start-up; the server then takes new ones (set_plan).
    plan: dict[str, Any] | None = None

    @property
    def plan_file(self) -> Path:
        return self.workdir / f"{self.name}.plan.json"


class ChaosServer:
    """One launched server: `call` its tools, `set_plan` its faults, `kill` it with SIGKILL."""

    def __init__(self, client: Client, pid: int, started: float, plan_file: Path | None) -> None:
        self.client = client
        self.pid = pid
        # Seconds from launch to the first successful call (the handshake and one read).
        self.recovery_seconds = time.perf_counter() - started
        self._plan_file = plan_file

    async def set_plan(self, plan: dict[str, Any]) -> None:
        """Replace the server's fault plan, and wait until it is in force."""
        if self._plan_file is None:
            raise RuntimeError("launched without a fault plan (ServerOptions.plan)")
        await faults.set_plan(self._plan_file, plan)

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's structured result; raises ToolFailed when the tool reports an error, or when the
        server answers the request itself with an error (a request refused before the tool ran)."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                result = await self.client.call_tool(tool, arguments)
        except MCPError as exc:
            # The client raises these two itself: the server died or never answered, not refused.
            if exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                raise
            raise ToolFailed(tool, exc.message) from exc
        if result.is_error:
            raise ToolFailed(tool, error_text(result))
        return result.structured_content or {}

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def launch(options: ServerOptions) -> AsyncIterator[ChaosServer]:
    """Start a server on `options.db` and connect to it; closing stops it (it may be dead already)."""
    pid_file = options.workdir / f"{options.name}.pid"
    pid_file.unlink(missing_ok=True)
    plan_env = {}
    if options.plan is not None:
        # In force before the first answer: the server applies it as its services open.
        faults.write_plan(options.plan_file, options.plan)
        plan_env = {faults.FILE: str(options.plan_file)}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "chaos.server", "--db", str(options.db), "--log-level", "WARNING", *options.flags],
        # The client passes on only a few variables by default: keep PYTHONPATH, so the child runs
        # the code under test.
        # The harness drives every tool, not only the default dozen.
        env={
            **os.environ,
            "ATHENA_TOOLSETS": "all",
            "CHAOS_PID_FILE": str(pid_file),
            **plan_env,
            **options.env,
        },
    )
    started = time.perf_counter()
    # A real file: the child writes its stderr straight into it.
    with open(options.workdir / f"{options.name}.log", "a") as errlog:  # noqa: ASYNC230
        async with contextlib.AsyncExitStack() as stack:
            async with asyncio.timeout(CALL_TIMEOUT):
                client = await stack.enter_async_context(
                    Client(stdio_client(params, errlog=errlog), read_timeout_seconds=CALL_TIMEOUT)
                )
                probe = await client.call_tool(*options.probe)
                if probe.is_error:
                    raise ToolFailed(options.probe[0], str(probe.content))
            plan_file = options.plan_file if options.plan is not None else None
            server = ChaosServer(client, int(pid_file.read_text()), started, plan_file)
            try:
                yield server
            finally:
                # A killed server leaves the client's streams broken; closing must still finish.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CALL_TIMEOUT):
                        await stack.aclose()
