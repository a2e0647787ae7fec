"""The HTTP transport's probes and metrics: /health (the process answers), /ready (the store is open,
and how the embedder is) and /metrics (Prometheus text, written by its client library).

They sit behind the same token as /mcp; `--http-open-probes` lets clients on this machine read them
without one (for a local agent or scraper). No memory content is in any of them: counts only.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from athena_mcp.caller import CALLER_SCOPE, Caller
from athena_mcp.services import Services
from athena_mcp.store import files, namespaces, vectors
from athena_mcp.tools.gate import ToolsetServer

PROBE_PATHS = ("/health", "/ready", "/metrics")
EMBEDDER_STATES = ("idle", "loading", "ready", "failed")


class Probes:
    def __init__(self, server: ToolsetServer) -> None:
        self._server = server
        registry = server.metrics.registry
        self._memories = Gauge(
            "athena_memories", "Live memories by namespace and kind", ["namespace", "kind"], registry=registry
        )
        self._backlog = Gauge("athena_vector_backlog", "Memories waiting for their vector", registry=registry)
        self._embedder = Gauge(
            "athena_embedder_state", "1 for the embedder's current state", ["state"], registry=registry
        )
        self._runs = Gauge(
            "athena_consolidation_runs",
            "Consolidation runs by status, every process's",
            ["status"],
            registry=registry,
        )
        self._firings = Gauge(
            "athena_trigger_firings", "Trigger firings recorded, every process's", registry=registry
        )
        self._bytes = Gauge("athena_database_bytes", "The database file and its WAL", registry=registry)

    async def health(self, _: Request) -> Response:
        return PlainTextResponse("live\n")

    async def ready(self, _: Request) -> Response:
        services = self._server.services
        if services is None:
            return _json({"ready": False, "reason": "the store is not open yet (or any more)"}, 503)
        row = await services.database.fetchone("SELECT max(version) FROM schema_migrations")
        embeddings = services.embeddings
        embedder = (
            embeddings.state if embeddings.failure is None else f"{embeddings.state}: {embeddings.failure}"
        )
        return _json({"ready": True, "schema": int(row[0]) if row else 0, "embedder": embedder}, 200)

    async def metrics(self, request: Request) -> Response:
        services = self._server.services
        if services is not None:
            caller = request.scope.get(CALLER_SCOPE)
            # A token limited to some namespaces sees only theirs (names and counts alike).
            readable = caller.may_read if isinstance(caller, Caller) else (lambda _: True)
            await self._read_store(services, readable)
        return Response(generate_latest(self._server.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def _read_store(self, services: Services, readable: Callable[[str], bool]) -> None:
        self._memories.clear()
        for held in await namespaces.counts(services.database):
            if not readable(held.namespace):
                continue
            for kind, count in held.counts.items():
                self._memories.labels(namespace=held.namespace, kind=kind).set(count)
        self._backlog.set(await vectors.backlog_size(services.database))
        for state in EMBEDDER_STATES:
            self._embedder.labels(state=state).set(1 if services.embeddings.state == state else 0)
        self._runs.clear()
        for status, count in await services.database.fetchall(
            "SELECT status, count(*) FROM consolidation_runs GROUP BY status"
        ):
            self._runs.labels(status=status).set(count)
        row = await services.database.fetchone("SELECT count(*) FROM trigger_firings")
        self._firings.set(int(row[0]) if row else 0)
        self._bytes.set(files.disk_bytes(services.settings.db))


def _json(body: dict[str, object], status: int) -> Response:
    return Response(json.dumps(body) + "\n", status_code=status, media_type="application/json")
