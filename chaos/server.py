"""The chaos launcher: the real server (`build_server`) over stdio, with a fault plan installed.

    python -m chaos.server [athena-mcp settings flags, e.g. --db FILE --toolsets graph]

It is `athena-mcp serve` with three differences, all from the environment:
- CHAOS_EMBEDDER: `hashing` (default, chaos.embedder.HashingEmbedder: no model to load) or `model`
  (the configured embedder, as athena-mcp would use it). Either is wrapped in FaultyEmbedder.
- CHAOS_FAULTS / CHAOS_FAULTS_FILE: the fault plan (chaos.faults), applied at start-up and, from a
  file, again whenever the file changes.
- CHAOS_PID_FILE: the process id is written there, so a harness can kill -9 the server its MCP
  client launched.
A failure athena-mcp would exit on with one line (out of memory at start-up) exits the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from athena_mcp.cli import fatal_message, parser
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.server import build_server
from athena_mcp.services import Services
from athena_mcp.settings import Settings
from athena_mcp.transports.stdio import run_stdio
from chaos.embedder import FaultyEmbedder, HashingEmbedder
from chaos.faults import FaultPlan, PlanSource, applied_marker

log = logging.getLogger("chaos.server")
POLL_SECONDS = 0.05
# SQLite's own ceiling, restored when a plan lifts its page limit.
NO_PAGE_LIMIT = 4294967294


class FaultInstaller:
    """Applies each new plan to the running server: the storage hook, the page limit, the embedder."""

    def __init__(self, source: PlanSource, embedder: FaultyEmbedder) -> None:
        self._source = source
        self._embedder = embedder
        self._pages: int | None = None
        self._pending: FaultPlan | None = None  # read but not applied yet

    async def apply(self, services: Services) -> None:
        plan = self._source.changed() or self._pending
        if plan is None:
            return
        self._pending = plan
        services.database.statement_hook = plan.statement_hook if plan.storage else None
        await services.database.set_driver_hook(plan.driver_hook if plan.driver else None)
        self._embedder.set_fault(plan.embedder)
        if plan.max_page_count != self._pages:
            await self._limit_pages(services, plan)
        self._pending = None
        log.warning("chaos: fault plan applied: %s", plan)
        if self._source.path is not None:
            applied_marker(self._source.path).touch()

    async def _limit_pages(self, services: Services, plan: FaultPlan) -> None:
        # max_page_count belongs to the connection: set it on the writer, where every write runs.
        pages = NO_PAGE_LIMIT if plan.max_page_count is None else plan.max_page_count
        async with services.database.transaction() as tx:
            await tx.execute(f"PRAGMA max_page_count = {int(pages)}")
        self._pages = plan.max_page_count

    @contextlib.asynccontextmanager
    async def around(self, services: Services) -> AsyncIterator[None]:
        await self.apply(services)
        watcher = asyncio.create_task(self._watch(services))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, services: Services) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self.apply(services)
            except Exception:
                # A plan that cannot be applied now (the disk is full, the file is half-edited) is
                # retried on the next poll; the server itself must keep serving.
                log.exception("chaos: fault plan not applied")


def main() -> None:
    args = parser().parse_args(sys.argv[1:])
    settings = Settings.load(vars(args), os.environ)
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)
    if pid_file := os.environ.get("CHAOS_PID_FILE"):
        Path(pid_file).write_text(str(os.getpid()))
    inner = make_embedder(settings) if os.environ.get("CHAOS_EMBEDDER") == "model" else HashingEmbedder()
    embedder = FaultyEmbedder(inner)
    installer = FaultInstaller(PlanSource(os.environ), embedder)
    server = build_server(settings, embedder, around=installer.around)
    try:
        asyncio.run(run_stdio(server))
    except BaseException as exc:
        # As athena-mcp does: an anticipated failure (out of memory at start-up) exits with one line.
        message = fatal_message(exc)
        if message is None:
            raise
        sys.exit(message)


if __name__ == "__main__":
    main()
