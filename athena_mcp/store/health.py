"""The store's health, as `athena-mcp doctor` checks it: SQLite's own checks of the file, then each
derived index against the canonical tables it is built from (STYLE.md principle 4).

Derived, so repairable from the tables: the memories' FTS5 index (rebuilt with FTS5's 'rebuild'),
the vectors (an active memory without one is queued for the vector backlog; a vector whose memory is
gone is dropped) and the graph's search index (rebuilt from the entities). The file's own damage
(integrity_check) and broken references (foreign_key_check) are not: those need a backup.
"""

from __future__ import annotations

from dataclasses import dataclass

from athena_mcp.errors import StoreFault
from athena_mcp.store import graph, memories, vectors
from athena_mcp.store.database import Database, Transaction

_MISSING_VECTORS = (
    "SELECT m.id FROM memories m WHERE m.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM memory_vectors v WHERE v.rowid = m.id) "
    "AND NOT EXISTS (SELECT 1 FROM vector_backlog b WHERE b.memory_id = m.id)"
)
_ORPHAN_VECTORS = (
    "SELECT v.rowid FROM memory_vectors v WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = v.rowid)"
)
_GRAPH_INDEX_DRIFT = (
    "SELECT (SELECT count(*) FROM graph_entities e WHERE e.status = 'active' "
    "AND NOT EXISTS (SELECT 1 FROM graph_fts f WHERE f.rowid = e.id)) + "
    "(SELECT count(*) FROM graph_fts f WHERE NOT EXISTS (SELECT 1 FROM graph_entities e "
    "WHERE e.id = f.rowid AND e.status = 'active'))"
)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    repairable: bool = False


async def examine(db: Database) -> list[Finding]:
    """Every check, in order; none of them writes."""
    findings = []
    try:
        problems = [row[0] for row in await db.fetchall("PRAGMA integrity_check")]
    except StoreFault:
        # SQLite gives up on some damaged pages (a scribbled b-tree header) instead of listing them;
        # nothing after this check can be trusted.
        return [
            Finding("integrity", False, "the check could not read the file: database disk image is malformed")
        ]
    findings.append(
        Finding("integrity", problems == ["ok"], "ok" if problems == ["ok"] else "; ".join(problems[:5]))
    )
    broken = await db.fetchall("PRAGMA foreign_key_check")
    findings.append(Finding("foreign keys", not broken, f"{len(broken)} rows reference rows that are gone"))
    findings.append(await _fts(db))
    findings += await _vector_findings(db)
    drift = await db.fetchone(_GRAPH_INDEX_DRIFT)
    drifted = int(drift[0]) if drift else 0
    findings.append(
        Finding(
            "graph index", drifted == 0, f"{drifted} entities missing from or stale in its search index", True
        )
    )
    waiting = await vectors.backlog_size(db)
    findings.append(
        Finding("vector backlog", True, f"{waiting} memories wait for their vector (a server computes them)")
    )
    return findings


async def _vector_findings(db: Database) -> list[Finding]:
    if await vectors.stored_identity(db) is None:
        return [Finding("vectors", True, "none yet: no embedding model has stored any")]
    missing = len(await db.fetchall(_MISSING_VECTORS))
    orphans = len(await db.fetchall(_ORPHAN_VECTORS))
    return [
        Finding("vectors", missing == 0, f"{missing} active memories have no vector and none queued", True),
        Finding("vector orphans", orphans == 0, f"{orphans} vectors of memories that are gone", True),
    ]


async def repair(tx: Transaction) -> None:
    """Rebuild every derived index from the canonical tables."""
    await memories.rebuild_preceding(tx)
    await tx.execute("INSERT INTO memories_fts (memories_fts) VALUES ('rebuild')")
    if await vectors.stored_identity(tx) is not None:
        missing = [int(row[0]) for row in await tx.fetchall(_MISSING_VECTORS)]
        await vectors.queue_for_embedding(tx, missing)
        orphans = [int(row[0]) for row in await tx.fetchall(_ORPHAN_VECTORS)]
        await vectors.drop_vectors(tx, orphans)
    await graph.rebuild_search(tx)


async def _fts(db: Database) -> Finding:
    """FTS5's own check of the index against the memories it is built from (rank 1: against the
    content table too). A command FTS5 takes as an INSERT, so it runs in a transaction; it writes
    nothing."""
    try:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)")
    except StoreFault:  # SQLITE_CORRUPT_VTAB: the index and the memories disagree
        return Finding("text index", False, "does not match the memories", True)
    return Finding("text index", True, "matches the memories", True)
