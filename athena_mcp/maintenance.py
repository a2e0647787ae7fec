"""The maintenance commands of `athena-mcp`: re-embedding, rebuilding the graph index, importing,
backing up and restoring, and the store's figures."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import BinaryIO

from athena_mcp.caller import Caller, acting_as, reset_caller
from athena_mcp.errors import AthenaError
from athena_mcp.exchange.load import import_file
from athena_mcp.importers.memory_file import read_memory_file
from athena_mcp.importers.memory_import import checked_namespace, import_memory_file
from athena_mcp.models import to_datetime
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store import backup, files, health, namespaces
from athena_mcp.store.audit import AuditFilter, audit_entries
from athena_mcp.store.database import Database
from athena_mcp.store.migrations import migrate
from athena_mcp.store.vectors import backlog_size, reset_vectors, stored_identity


async def rebuild_graph_index(settings: Settings) -> None:
    async with open_services(settings, background=False) as services:
        indexed = await services.graph.rebuild_search_index()
    print(f"done: {indexed} entities indexed", file=sys.stderr)


async def reembed(settings: Settings) -> None:
    async with open_services(settings, background=False, check_vectors=False) as services:
        if not await services.embeddings.wait_ready():
            raise AthenaError(f"The embedder could not load: {services.embeddings.failure}")
        identity = services.embeddings.identity
        if await stored_identity(services.database) != identity:
            await reset_vectors(services.database, identity)
        # With the same model already recorded this resumes an interrupted run from its backlog.
        queued = await backlog_size(services.database)
        print(f"computing the vectors of {queued} memories with {identity.describe()}", file=sys.stderr)
        done = 0
        while stored := await services.vector_backlog.run_once():
            done += stored
            print(f"  {done} vectors stored", file=sys.stderr)
        left = await backlog_size(services.database)
        if left:
            raise AthenaError(
                f"{left} memories could not be embedded (see the warnings above); they are retried later "
                "by a running server, or run `athena-mcp reembed` again."
            )
        print(f"done: {done} vectors", file=sys.stderr)


async def import_memory_json(settings: Settings, file: Path, namespace: str) -> None:
    started = time.perf_counter()
    namespace = checked_namespace(namespace)
    memory_file = read_memory_file(file)
    importing = acting_as(Caller(transport="cli", tool="import-memory-json", origin="imported"))
    try:
        async with open_services(settings, background=False, check_vectors=False) as services:
            summary = await import_memory_file(services.graph, services.database, namespace, memory_file)
    finally:
        reset_caller(importing)
    print(summary.describe(time.perf_counter() - started))


async def import_export(settings: Settings, source: BinaryIO, embed: bool) -> None:
    """`athena-mcp import`: the file taken in, then the new memories' vectors computed unless told not."""
    summary = await import_file(settings, source)
    print(summary.describe(), file=sys.stderr)
    if summary.queued and embed:
        await reembed(settings)
    elif summary.queued:
        print(
            f"{summary.queued} memories wait for their vectors: a server computes them as it runs, "
            "or run `athena-mcp reembed`",
            file=sys.stderr,
        )


async def show_audit(settings: Settings, audit_filter: AuditFilter, as_json: bool) -> None:
    """Print the audit trail: a table for people, JSON Lines for scripts."""
    async with Database.open(settings.db, busy_timeout=settings.busy_timeout) as database:
        await migrate(database)
        rows = await audit_entries(database, audit_filter)
    if as_json:
        for row in rows:
            print(json.dumps(dict(zip(row.keys(), row, strict=True)), ensure_ascii=False))
        return
    if not rows:
        print("No audit entries match.")
        return
    print(
        "id      time (UTC)           namespace        change   subject            tool                actor"
    )
    for row in rows:
        at = to_datetime(row["at"]).strftime("%Y-%m-%d %H:%M:%S")
        subject = f"{row['subject']} {row['subject_id']}"
        print(
            f"{row['id']:<7} {at}  {row['namespace'] or '-':<16} {row['change']:<8} {subject:<18} "
            f"{row['tool'] or '-':<19} {row['actor']}"
        )


def take_backup(settings: Settings, target: Path) -> None:
    snapshot = backup.backup(settings.db, target)
    print(f"backed up {settings.db} to {snapshot.describe()}", file=sys.stderr)


def restore_backup(settings: Settings, source: Path, force: bool) -> None:
    snapshot, kept = backup.restore(source, settings.db, force)
    print(f"restored {snapshot.describe()} to {settings.db}", file=sys.stderr)
    if kept is not None:
        print(f"the replaced database is kept as {kept}", file=sys.stderr)


async def show_stats(settings: Settings, as_json: bool) -> None:
    """What the store holds, per namespace, and its state: for people (a table) or scripts (JSON)."""
    async with Database.open(settings.db, busy_timeout=settings.busy_timeout) as database:
        await migrate(database)
        held = await namespaces.counts(database)
        identity = await stored_identity(database)
        waiting = await backlog_size(database)
    size = files.disk_bytes(settings.db)
    report = {
        "database": str(settings.db),
        "bytes": size,
        "embedding_model": identity.describe() if identity else None,
        "vectors_waiting": waiting,
        "namespaces": {n.namespace: n.counts for n in held},
    }
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    print(
        f"{settings.db}: {size / 2**20:.1f} MB; vectors by {report['embedding_model'] or 'no model yet'}, "
        f"{waiting} waiting"
    )
    kinds = sorted({kind for n in held for kind in n.counts})
    print(f"{'namespace':<32}" + "".join(f"{kind:>12}" for kind in kinds))
    for n in held:
        print(f"{n.namespace:<32}" + "".join(f"{n.counts.get(kind, 0):>12}" for kind in kinds))


async def doctor(settings: Settings, repair: bool) -> bool:
    """Check the store (and with `repair`, rebuild its derived indexes); True when all is well."""
    findings = await _examine(settings)
    failed = [finding for finding in findings if not finding.ok]
    if repair and failed and all(finding.repairable for finding in failed):
        async with (
            Database.open(settings.db, busy_timeout=settings.busy_timeout) as database,
            database.transaction() as tx,
        ):
            await health.repair(tx)
        print("repaired: the text index, vectors and graph index rebuilt from the tables", file=sys.stderr)
        # Checked again on fresh connections: a connection that read the old indexes keeps FTS5
        # structures cached that the rebuild replaced.
        findings = await _examine(settings)
        failed = [finding for finding in findings if not finding.ok]
    for finding in findings:
        print(f"{'ok  ' if finding.ok else 'FAIL'} {finding.check:<16} {finding.detail}")
    if failed and not repair:
        fixable = [finding.check for finding in failed if finding.repairable]
        if fixable:
            print(f"`athena-mcp doctor --repair` rebuilds: {', '.join(fixable)}", file=sys.stderr)
    if any(not finding.repairable for finding in failed):
        print("the file itself is damaged: restore a backup (`athena-mcp restore FILE`)", file=sys.stderr)
    return not failed


async def _examine(settings: Settings) -> list[health.Finding]:
    async with Database.open(settings.db, busy_timeout=settings.busy_timeout) as database:
        await migrate(database)
        return await health.examine(database)
