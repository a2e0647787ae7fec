"""The derived vector index: a sqlite-vec `vec0` table keyed by memory id.

Its dimension comes from the embedding model, so the table is created here at start-up rather
than in a migration. The store records which model and dimension its vectors come from and
refuses to mix models; `reset_vectors` drops the index and queues every memory for re-embedding.
Namespace, memory system and active state are copied into vec0 metadata columns so that KNN
filters on them during the scan; every other filter reaches the scan as a `rowid IN (...)` subquery.
Every change is also appended to `vector_changes`, the feed that keeps each process's in-memory
copy (vector_mirror.py) in step; a reset changes `vector_epoch` so that copies load afresh.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from athena_mcp.errors import StoreUnavailable
from athena_mcp.models import EmbeddingIdentity
from athena_mcp.store import procedures
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.filters import MemoryFilter

VECTOR_TABLE = "memory_vectors"
# vec0 refuses larger k; far more than any fusion needs.
MAX_KNN = 4096
# Changes kept in the feed: a mirror further behind than this loads afresh (about 1.5 s at 100k).
CHANGES_KEPT = 20_000


@dataclass(frozen=True)
class VectorRow:
    memory_id: int
    vector: np.ndarray
    namespace: str
    system: str
    active: bool


async def stored_identity(db: Database | Transaction) -> EmbeddingIdentity | None:
    rows = await db.fetchall(
        "SELECT key, value FROM store_meta WHERE key IN ('embedding_model', 'embedding_dim')"
    )
    meta = {row[0]: row[1] for row in rows}
    if "embedding_model" not in meta:
        return None
    return EmbeddingIdentity(meta["embedding_model"], int(meta["embedding_dim"]))


async def ensure_vector_index(database: Database, identity: EmbeddingIdentity) -> None:
    """Create the index for `identity` on a new store, or check that the store already uses it.

    Checked under the write lock, so two servers started at once with different models cannot
    both pass the check.
    """
    async with database.transaction() as tx:
        stored = await stored_identity(tx)
        if stored is not None and stored != identity:
            raise StoreUnavailable(
                f"The database {database.path} holds vectors from {stored.describe()}, but the server is "
                f"configured for {identity.describe()}. Run `athena-mcp reembed --db {database.path}` "
                "with the new embedder settings to recompute every vector, or configure the original model."
            )
        await _create_index(tx, identity)


async def reset_vectors(database: Database, identity: EmbeddingIdentity) -> None:
    """Drop every vector, switch the store to `identity` and queue all memories for embedding; the
    procedures' vectors too, in the same transaction, so an interrupted `reembed` leaves no vector of
    the old model behind."""
    async with database.transaction() as tx:
        await tx.execute(f"DROP TABLE IF EXISTS {VECTOR_TABLE}")
        await tx.execute("DELETE FROM store_meta WHERE key IN ('embedding_model', 'embedding_dim')")
        await tx.execute("DELETE FROM vector_changes")
        await tx.execute(
            "INSERT INTO store_meta (key, value) VALUES ('vector_epoch', '1') ON CONFLICT (key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        await _create_index(tx, identity)
        await tx.execute(
            "INSERT OR IGNORE INTO vector_backlog (memory_id, queued_at) SELECT id, ? FROM memories",
            (time.time(),),
        )
        await procedures.clear_vectors(tx)
        # Sessions waiting to become procedures hold step vectors of the old model.
        await tx.execute("DELETE FROM candidate_sessions")


async def _create_index(tx: Transaction, identity: EmbeddingIdentity) -> None:
    await tx.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VECTOR_TABLE} USING vec0("
        f"embedding float[{identity.dimension}] distance_metric=cosine, "
        "namespace text, system text, active integer)"
    )
    await tx.executemany(
        "INSERT OR IGNORE INTO store_meta (key, value) VALUES (?, ?)",
        [("embedding_model", identity.model), ("embedding_dim", str(identity.dimension))],
    )


async def write_vectors(tx: Transaction, rows: Sequence[VectorRow], identity: EmbeddingIdentity) -> None:
    """Store (or replace) vectors made by `identity` and take their memories off the backlog."""
    if not rows:
        return
    stored = await stored_identity(tx)
    if stored != identity:
        # `reembed` switched the store to another model while this server kept running.
        raise StoreUnavailable(
            f"This database's vectors now come from {stored.describe() if stored else 'no model'}, but "
            f"this server embeds with {identity.describe()}. Restart it with the matching embedder settings."
        )
    ids = [(row.memory_id,) for row in rows]
    # vec0 has no upsert: delete first so a re-embedded memory keeps one vector.
    await tx.executemany(f"DELETE FROM {VECTOR_TABLE} WHERE rowid = ?", ids)
    values = [
        (row.memory_id, as_blob(row.vector), row.namespace, row.system, int(row.active)) for row in rows
    ]
    await tx.executemany(
        f"INSERT INTO {VECTOR_TABLE} (rowid, embedding, namespace, system, active) VALUES (?, ?, ?, ?, ?)",
        values,
    )
    await tx.executemany("DELETE FROM vector_backlog WHERE memory_id = ?", ids)
    await _record_changes(tx, values)


async def set_vector_active(tx: Transaction, memory_id: int, active: bool) -> None:
    await tx.execute(f"UPDATE {VECTOR_TABLE} SET active = ? WHERE rowid = ?", (int(active), memory_id))
    await _record_changes(tx, [(memory_id, None, None, None, int(active))])


async def queue_for_embedding(tx: Transaction, memory_ids: Sequence[int]) -> None:
    """Drop the memories' vectors and queue them; a re-queued memory (new content) starts afresh."""
    await enqueue(tx, memory_ids)
    await drop_vectors(tx, memory_ids)


async def enqueue(tx: Transaction, memory_ids: Sequence[int]) -> None:
    """Queue memories that have no vector yet (new ones, or a store no model has embedded)."""
    now = time.time()
    await tx.executemany(
        "INSERT INTO vector_backlog (memory_id, queued_at) VALUES (?, ?) ON CONFLICT (memory_id) "
        "DO UPDATE SET queued_at = excluded.queued_at, attempts = 0, retry_at = 0",
        [(memory_id, now) for memory_id in memory_ids],
    )


async def drop_vectors(tx: Transaction, memory_ids: Sequence[int]) -> None:
    """Remove the memories' vectors for good (the memories are being deleted)."""
    await tx.executemany(f"DELETE FROM {VECTOR_TABLE} WHERE rowid = ?", [(m,) for m in memory_ids])
    await _record_changes(tx, [(m, None, None, None, None) for m in memory_ids])


async def _record_changes(tx: Transaction, changes: Sequence[tuple[object, ...]]) -> None:
    await tx.executemany(
        "INSERT INTO vector_changes (memory_id, embedding, namespace, system, active) VALUES (?, ?, ?, ?, ?)",
        changes,
    )
    await tx.execute(
        "DELETE FROM vector_changes WHERE seq <= (SELECT max(seq) FROM vector_changes) - ?", (CHANGES_KEPT,)
    )


@dataclass(frozen=True)
class PendingVector:
    memory_id: int
    content: str
    namespace: str
    system: str


async def backlog(database: Database, limit: int) -> list[PendingVector]:
    """The memories due for a vector now, oldest first."""
    rows = await database.fetchall(
        "SELECT m.id, m.content, m.namespace, m.system FROM vector_backlog b "
        "JOIN memories m ON m.id = b.memory_id WHERE b.retry_at <= ? "
        "ORDER BY b.retry_at, b.queued_at, b.memory_id LIMIT ?",
        (time.time(), limit),
    )
    return [PendingVector(row[0], row[1], row[2], row[3]) for row in rows]


async def defer(tx: Transaction, memory_ids: Sequence[int]) -> None:
    """Retry these later: 30 s after the first failure, doubling up to an hour."""
    await tx.executemany(
        "UPDATE vector_backlog SET attempts = attempts + 1, "
        "retry_at = ? + min(3600, 30 * (1 << min(attempts, 7))) WHERE memory_id = ?",
        [(time.time(), memory_id) for memory_id in memory_ids],
    )


async def is_pending(database: Database, memory_id: int) -> bool:
    return (
        await database.fetchone("SELECT 1 FROM vector_backlog WHERE memory_id = ?", (memory_id,)) is not None
    )


async def backlog_size(database: Database) -> int:
    row = await database.fetchone("SELECT count(*) FROM vector_backlog")
    return int(row[0]) if row else 0


async def nearest(
    database: Database, query: np.ndarray, memory_filter: MemoryFilter, k: int
) -> list[tuple[int, float]]:
    """The k nearest active memories that pass the filter: (memory id, cosine similarity)."""
    where, params = memory_filter.vector_clause()
    rows = await database.fetchall(
        f"SELECT rowid, distance FROM {VECTOR_TABLE} WHERE embedding MATCH ? AND k = ? {where} "
        "ORDER BY distance",
        [as_blob(query), min(k, MAX_KNN), *params],
    )
    return [(int(row[0]), 1.0 - float(row[1])) for row in rows]


def as_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
