"""An in-memory copy of the vector index, searched exactly with one matrix product.

A vec0 KNN is a full scan through SQLite's pager: about 60 ms over 100k 384-d vectors on two cores,
twice the whole recall budget. The same exact scan as a float32 matrix-vector product over a copy
held in memory takes about 9 ms, for 1.5 kB of memory per vector. The copy follows the database
through `vector_changes`, the feed that every vector change is appended to in its own transaction
(vectors.py): before each search the mirror applies the entries it has not seen yet, whichever
process wrote them; usually there are none and the check is one indexed read. A mirror that fell
behind the feed's pruned tail, or whose store had its vectors reset, loads afresh. Until it has
loaded, searches go to vec0, which gives the same answers more slowly.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from athena_mcp.store import memories, vectors
from athena_mcp.store.database import Database, Row
from athena_mcp.store.filters import MemoryFilter

log = logging.getLogger(__name__)

# Candidates checked against a filter the arrays cannot evaluate (tags, session, time, kind), as a
# multiple of k, before asking SQL for every memory that passes it.
FILTER_POOL_FACTOR = 10
MIN_FILTER_POOL = 500
INITIAL_CAPACITY = 1024


class VectorMirror:
    # Columns of the copy, one row (slot) per vector; a dropped vector's slot is reused.
    _dimension: int
    _slots: dict[int, int]  # memory id -> slot
    _free: list[int]
    _size: int  # slots in use or free; rows past it are spare capacity
    _matrix: np.ndarray
    _ids: np.ndarray
    _active: np.ndarray
    _namespaces: np.ndarray
    _systems: np.ndarray
    _namespace_codes: dict[str, int]
    _system_codes: dict[str, int]

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = asyncio.Lock()
        self._loaded = False
        self._seq = 0
        self._epoch: str | None = None
        self._clear(dimension=0)

    @property
    def loaded(self) -> bool:
        return self._loaded

    def __len__(self) -> int:
        return len(self._slots)

    async def load(self) -> None:
        """Copy every vector into memory; searches use the copy from then on."""
        async with self._lock:
            await self._load()

    async def nearest(
        self, query: np.ndarray, memory_filter: MemoryFilter, k: int
    ) -> list[tuple[int, float]]:
        """The k nearest active memories that pass the filter: (memory id, cosine similarity).

        The same answer as `vectors.nearest` (vec0), which serves until the mirror has loaded."""
        if not self._loaded:
            return await vectors.nearest(self._database, query, memory_filter, k)
        async with self._lock:
            await self._catch_up()
            if query.shape != (self._dimension,):
                return await vectors.nearest(self._database, query, memory_filter, k)
            size = self._size
            scores = self._matrix[:size] @ np.asarray(query, dtype=np.float32)
            allowed = self._mask(memory_filter, size)
            ids = self._ids[:size].copy()
        if memory_filter.has_extra_conditions():
            allowed = await self._apply_extra_conditions(ids, scores, allowed, memory_filter, k)
        return _top(ids, scores, allowed, k)

    # --- search -----------------------------------------------------------------------------------

    def _mask(self, memory_filter: MemoryFilter, size: int) -> np.ndarray:
        namespaces = [
            self._namespace_codes[n] for n in memory_filter.namespaces if n in self._namespace_codes
        ]
        systems = [self._system_codes[s] for s in memory_filter.systems if s in self._system_codes]
        return (
            self._active[:size]
            & np.isin(self._namespaces[:size], namespaces)
            & np.isin(self._systems[:size], systems)
        )

    async def _apply_extra_conditions(
        self, ids: np.ndarray, scores: np.ndarray, allowed: np.ndarray, memory_filter: MemoryFilter, k: int
    ) -> np.ndarray:
        """Narrow `allowed` to the memories SQL says pass the whole filter.

        The best candidates are checked first; only when too few of them pass is SQL asked for
        every memory that does, so a selective filter still gets its k nearest."""
        pool = min(int(allowed.sum()), max(k * FILTER_POOL_FACTOR, MIN_FILTER_POOL))
        if pool == 0:
            return allowed
        candidates = ids[_best_slots(scores, allowed, pool)]
        passing = await memories.ids_matching(self._database, candidates.tolist(), memory_filter)
        if len(passing) < k and pool < int(allowed.sum()):
            passing = await memories.all_ids_matching(self._database, memory_filter)
        return allowed & np.isin(ids, np.fromiter(passing, dtype=np.int64, count=len(passing)))

    # --- keeping in step ------------------------------------------------------------------------------

    async def _catch_up(self) -> None:
        head = await self._database.fetchone(
            "SELECT (SELECT value FROM store_meta WHERE key = 'vector_epoch'), "
            "(SELECT min(seq) FROM vector_changes), (SELECT max(seq) FROM vector_changes)"
        )
        assert head is not None  # a SELECT without FROM always returns its row
        epoch, first, last = head[0], head[1], head[2]
        if epoch != self._epoch or (first is not None and first > self._seq + 1):
            log.info("the vector index was reset or this copy fell behind its change feed: reloading")
            await self._load()
        elif last is not None and last > self._seq:
            rows = await self._database.fetchall(
                "SELECT seq, memory_id, embedding, namespace, system, active FROM vector_changes "
                "WHERE seq > ? ORDER BY seq",
                (self._seq,),
            )
            for row in rows:
                self._apply(row)
            if rows:
                self._seq = int(rows[-1][0])

    async def _load(self) -> None:
        self._loaded = False
        head = await self._database.fetchone(
            "SELECT (SELECT value FROM store_meta WHERE key = 'vector_epoch'), "
            "(SELECT coalesce(max(seq), 0) FROM vector_changes)"
        )
        assert head is not None
        identity = await vectors.stored_identity(self._database)
        self._clear(identity.dimension if identity else 0)
        # Room for every memory up front: growing by copying would briefly hold the matrix twice.
        memories_row = await self._database.fetchone("SELECT count(*) FROM memories")
        self._reserve(int(memories_row[0]) + INITIAL_CAPACITY if memories_row else INITIAL_CAPACITY)
        # Changes committed while the scan runs are applied again by the next catch-up; each entry
        # holds the row's whole new state, so replaying them in order ends in the same state.
        self._epoch, self._seq = head[0], int(head[1])
        async for rows in self._database.fetch_batches(
            f"SELECT rowid, embedding, namespace, system, active FROM {vectors.VECTOR_TABLE}"
        ):
            for row in rows:
                self._put(int(row[0]), row[1], row[2], row[3], bool(row[4]))
        self._loaded = True
        log.info("vector index copied into memory: %d vectors", len(self._slots))

    def _apply(self, row: Row) -> None:
        memory_id, embedding, active = int(row[1]), row[2], row[5]
        if embedding is not None:
            self._put(memory_id, embedding, row[3], row[4], bool(active))
        elif active is not None:
            slot = self._slots.get(memory_id)
            if slot is not None:
                self._active[slot] = bool(active)
        else:
            self._drop(memory_id)

    def _put(self, memory_id: int, embedding: bytes, namespace: str, system: str, active: bool) -> None:
        vector = np.frombuffer(embedding, dtype=np.float32)
        if vector.shape != (self._dimension,):
            return  # written by another model after a reset this copy has not seen yet
        slot = self._slots.get(memory_id)
        if slot is None:
            slot = self._free.pop() if self._free else self._grow()
            self._slots[memory_id] = slot
        self._matrix[slot] = vector
        self._ids[slot] = memory_id
        self._active[slot] = active
        self._namespaces[slot] = self._namespace_codes.setdefault(namespace, len(self._namespace_codes))
        self._systems[slot] = self._system_codes.setdefault(system, len(self._system_codes))

    def _drop(self, memory_id: int) -> None:
        slot = self._slots.pop(memory_id, None)
        if slot is not None:
            self._active[slot] = False
            self._ids[slot] = -1
            self._free.append(slot)

    def _grow(self) -> int:
        if self._size == len(self._ids):
            self._reserve(max(INITIAL_CAPACITY, 2 * len(self._ids)))
        self._size += 1
        return self._size - 1

    def _reserve(self, capacity: int) -> None:
        self._matrix = _resized(self._matrix, capacity)
        self._ids = _resized(self._ids, capacity)
        self._active = _resized(self._active, capacity)
        self._namespaces = _resized(self._namespaces, capacity)
        self._systems = _resized(self._systems, capacity)

    def _clear(self, dimension: int) -> None:
        self._dimension = dimension
        self._slots = {}
        self._free = []
        self._size = 0
        self._matrix = np.empty((0, dimension), dtype=np.float32)
        self._ids = np.empty(0, dtype=np.int64)
        self._active = np.empty(0, dtype=bool)
        self._namespaces = np.empty(0, dtype=np.int32)
        self._systems = np.empty(0, dtype=np.int8)
        self._namespace_codes = {}
        self._system_codes = {}


def _resized(array: np.ndarray, capacity: int) -> np.ndarray:
    # np.zeros maps zero pages lazily: spare capacity costs no resident memory until written.
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _best_slots(scores: np.ndarray, allowed: np.ndarray, count: int) -> np.ndarray:
    """Slots of the `count` best allowed scores, best first."""
    masked = np.where(allowed, scores, -np.inf)
    count = min(count, int(allowed.sum()))
    if count == 0:
        return np.empty(0, dtype=np.int64)
    best = np.argpartition(-masked, count - 1)[:count]
    return best[np.argsort(-masked[best], kind="stable")]


def _top(ids: np.ndarray, scores: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
    return [(int(ids[slot]), float(scores[slot])) for slot in _best_slots(scores, allowed, k)]
