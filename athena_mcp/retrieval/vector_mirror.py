"""An in-memory copy of the vector index, searched with a float32 matrix product.

A vec0 KNN is a full scan through SQLite's pager: about 80 ms over 100k 384-d vectors on two cores,
well over the whole recall budget. The same exact scan as a float32 matrix-vector product over a copy
held in memory takes a few milliseconds, for 1.5 kB of memory per vector; past RESCORED vectors a
first pass over their sign bits (sign_bits.py) picks the ones the product scores. The copy follows the
database through `vector_changes`, the feed that every vector change is appended to in its own
transaction (vectors.py): before each search the copy applies the entries it has not seen yet,
whichever process wrote them; usually there are none and the check is one indexed read. Writers
are serialised, so committed entries are numbered without gaps: a copy that finds a gap (it fell
behind the feed's pruned tail) or a new `vector_epoch` (the vectors were reset) is dropped and
rebuilt in the background. Whenever there is no copy, searches go to vec0: the same answer, slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from athena_mcp.retrieval.sign_bits import RESCORED, hamming, pack_signs, shortlist, words_for
from athena_mcp.store import memories, vectors
from athena_mcp.store.database import Database, Row
from athena_mcp.store.filters import MemoryFilter

log = logging.getLogger(__name__)

# Candidates checked against a filter the arrays cannot evaluate (tags, session, time, kind), as a
# multiple of k, before asking SQL for every memory that passes it.
FILTER_POOL_FACTOR = 10
MIN_FILTER_POOL = 500
INITIAL_CAPACITY = 1024
# After a failed build, the next search waits this long before another is tried.
RETRY_AFTER = 60.0

# One statement, so one snapshot: the feed's bounds and the entries past `seq` agree.
_CHANGES_SQL = (
    "SELECT h.epoch, h.last, c.seq, c.memory_id, c.embedding, c.namespace, c.system, c.active FROM "
    "(SELECT (SELECT value FROM store_meta WHERE key = 'vector_epoch') AS epoch, "
    "(SELECT max(seq) FROM vector_changes) AS last) h "
    "LEFT JOIN vector_changes c ON c.seq > ? ORDER BY c.seq"
)


class VectorMirror:
    """Nearest neighbours over an in-memory copy of the vector index, or over vec0 without one."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = asyncio.Lock()
        self._copy: _Copy | None = None
        self._wanted = False  # a copy was asked for: rebuild it when it is dropped
        self._build_task: asyncio.Task[None] | None = None
        self._failed_at = -RETRY_AFTER

    @property
    def loaded(self) -> bool:
        return self._copy is not None

    def __len__(self) -> int:
        return 0 if self._copy is None else len(self._copy.slots)

    def start(self) -> None:
        """Build the copy in the background; searches use vec0 until it is ready."""
        self._wanted = True
        self._schedule_build()

    async def load(self) -> None:
        """Build the copy now; searches use it from then on."""
        self._wanted = True
        copy = await self._build()
        async with self._lock:
            self._copy = copy
            await self._catch_up()  # what was committed while the copy was built

    async def close(self) -> None:
        if self._build_task is not None:
            self._build_task.cancel()
            await asyncio.gather(self._build_task, return_exceptions=True)

    async def nearest(
        self, query: np.ndarray, memory_filter: MemoryFilter, k: int
    ) -> list[tuple[int, float]]:
        """The k nearest active memories that pass the filter: (memory id, cosine similarity). The
        same answer as `vectors.nearest` (vec0), which serves whenever there is no copy, while at
        most RESCORED memories pass the namespace and system filter; past that, as near as the sign
        bits' first pass allows (recall@50 against the exact search 0.9997, see sign_bits.py)."""
        ranked = await self._ranked(query, memory_filter)
        if ranked is not None and memory_filter.has_extra_conditions():
            ranked = await self._apply_extra_conditions(query, ranked, memory_filter, k)
        if ranked is None:
            if self._copy is None and self._wanted and time.monotonic() - self._failed_at >= RETRY_AFTER:
                self._schedule_build()
            return await vectors.nearest(self._database, query, memory_filter, k)
        ids, scores = ranked.ids[:k], ranked.scores[:k]
        return [(int(memory_id), float(score)) for memory_id, score in zip(ids, scores, strict=True)]

    async def vectors_of(
        self, memory_ids: Collection[int], memory_filter: MemoryFilter
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, unit vectors as rows) of those of `memory_ids` that are active memories passing the
        filter and have a vector, copied out of the copy (built first if there is none). Only these
        rows are copied: copying a whole namespace for bulk work held 150 MB more at 100k events."""
        if self._copy is None:
            await self.load()
        async with self._lock:
            await self._catch_up()
            copy = self._copy
            if copy is None:  # dropped by the catch-up: another process reset the vectors
                return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
            slots = np.fromiter(
                (slot for memory_id in memory_ids if (slot := copy.slots.get(memory_id)) is not None),
                dtype=np.int64,
            )
            slots = slots[copy.mask(memory_filter)[slots]]
            return copy.ids[slots], copy.matrix[slots]

    async def _ranked(
        self, query: np.ndarray, memory_filter: MemoryFilter, within: set[int] | None = None
    ) -> _Ranked | None:
        """The copy's candidates for the filter (and `within`, when given), or None without a copy
        for this query's dimension."""
        async with self._lock:
            if self._copy is not None:
                await self._catch_up()
            copy = self._copy
            if copy is None or query.shape != (copy.dimension,):
                return None
            # In a worker thread, so the event loop serves other calls meanwhile; under the lock, so
            # no catch-up changes the copy while the thread reads it.
            return await asyncio.to_thread(copy.ranked, query, memory_filter, within)

    async def _apply_extra_conditions(
        self, query: np.ndarray, ranked: _Ranked, memory_filter: MemoryFilter, k: int
    ) -> _Ranked | None:
        """`ranked` narrowed to the memories SQL says pass the whole filter.

        The best candidates are checked first; only when too few of them pass is SQL asked for
        every memory that does, so a selective filter still gets its k nearest."""
        pool = min(len(ranked.ids), max(k * FILTER_POOL_FACTOR, MIN_FILTER_POOL))
        passing = await memories.ids_matching(self._database, ranked.ids[:pool].tolist(), memory_filter)
        if len(passing) < k and pool < ranked.allowed:
            passing = await memories.all_ids_matching(self._database, memory_filter)
            return await self._ranked(query, memory_filter, passing)
        return ranked.only(passing)

    async def _catch_up(self) -> None:
        """Apply the feed's new entries to the copy, or drop a copy that can no longer follow it."""
        copy = self._copy
        assert copy is not None
        rows = await self._database.fetchall(_CHANGES_SQL, (copy.seq,))
        epoch, last = rows[0][0], rows[0][1]
        changes = [row for row in rows if row[2] is not None]
        if (
            epoch != copy.epoch
            or (changes and changes[0][2] != copy.seq + 1)  # pruned past this copy
            or (not changes and last is not None and last < copy.seq)  # the file was replaced
        ):
            log.info("the vector index was reset or this copy fell behind its change feed: rebuilding it")
            self._copy = None
            self._schedule_build()
            return
        for row in changes:
            copy.apply(row)
        if changes:
            copy.seq = int(changes[-1][2])

    def _schedule_build(self) -> None:
        if self._build_task is None or self._build_task.done():
            self._build_task = asyncio.create_task(self._build_in_background())

    async def _build_in_background(self) -> None:
        try:
            await self.load()
        except Exception:
            # Dense search stays correct on vec0, only slower; a later search tries again.
            self._failed_at = time.monotonic()
            log.exception("could not copy the vector index into memory; searching it on disk")

    async def _build(self) -> _Copy:
        head = await self._database.fetchone(
            "SELECT (SELECT value FROM store_meta WHERE key = 'vector_epoch'), "
            "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'), 0), "
            "(SELECT count(*) FROM memories)"
        )
        assert head is not None  # a SELECT without FROM always returns its row
        identity = await vectors.stored_identity(self._database)
        # Room for every memory up front: growing by copying would briefly hold the matrix twice.
        copy = _Copy(head[0], int(head[1]), identity.dimension if identity else 0)
        copy.reserve(int(head[2]) + INITIAL_CAPACITY)
        # Changes committed while the scan runs are applied again by the next catch-up; each entry
        # holds the row's whole new state, so replaying them in order ends in the same state.
        async with contextlib.aclosing(
            self._database.fetch_batches(
                f"SELECT rowid, embedding, namespace, system, active FROM {vectors.VECTOR_TABLE}"
            )
        ) as batches:
            async for rows in batches:
                copy.append_new(rows)
        log.info("vector index copied into memory: %d vectors", len(copy.slots))
        return copy


@dataclass(frozen=True)
class _Ranked:
    """Candidate memories with their exact cosine similarity, best first."""

    ids: np.ndarray
    scores: np.ndarray
    allowed: int  # how many memories passed the filter the copy evaluates

    def only(self, members: set[int]) -> _Ranked:
        keep = np.isin(self.ids, _id_array(members))
        return _Ranked(self.ids[keep], self.scores[keep], self.allowed)


@dataclass
class _Copy:
    """Columns with one row (slot) per vector; a dropped vector's slot is reused."""

    epoch: str | None
    seq: int  # the last feed entry applied
    dimension: int
    slots: dict[int, int] = field(default_factory=dict)  # memory id -> slot
    free: list[int] = field(default_factory=list)
    size: int = 0  # slots in use or free; rows past it are spare capacity
    matrix: np.ndarray = field(init=False)
    codes: np.ndarray = field(init=False)  # sign bits, a column per slot (sign_bits.py)
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    active: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    namespaces: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    systems: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    namespace_codes: dict[str, int] = field(default_factory=dict)
    system_codes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.matrix = np.empty((0, self.dimension), dtype=np.float32)
        self.codes = np.empty((words_for(self.dimension), 0), dtype=np.uint64)

    def mask(self, memory_filter: MemoryFilter) -> np.ndarray:
        memory_filter.require_active_only()
        namespaces = [self.namespace_codes[n] for n in memory_filter.namespaces if n in self.namespace_codes]
        systems = [self.system_codes[s] for s in memory_filter.systems if s in self.system_codes]
        return (
            self.active[: self.size]
            & np.isin(self.namespaces[: self.size], namespaces)
            & np.isin(self.systems[: self.size], systems)
        )

    def ranked(self, query: np.ndarray, memory_filter: MemoryFilter, within: set[int] | None) -> _Ranked:
        """The allowed vectors that can be among the nearest, scored exactly: all of them when
        there are at most RESCORED, else the RESCORED nearest by their signs (sign_bits.py)."""
        allowed = self.mask(memory_filter)
        if within is not None:
            allowed &= np.isin(self.ids[: self.size], _id_array(within))
        count = int(allowed.sum())
        if count <= RESCORED:
            slots = np.flatnonzero(allowed)
        else:
            query_code = pack_signs(query[np.newaxis])[:, 0]
            slots = shortlist(hamming(self.codes[:, : self.size], query_code), allowed, RESCORED)
        ids = self.ids[slots]
        # einsum, not `@`: for a few thousand rows BLAS's threads cost more than they save (2,000
        # rows: 0.65 ms in one thread against 4 ms of CPU and 12 ms wall on a busy 2-core machine).
        scores = np.einsum("ij,j->i", self.matrix[slots], np.asarray(query, dtype=np.float32))
        order = np.lexsort((-ids, -scores))  # ties: newer first, as vec0 and fusion order them
        return _Ranked(ids[order], scores[order], count)

    def apply(self, change: Row) -> None:
        """One feed entry (seq, memory_id, embedding, namespace, system, active at columns 2-7)."""
        memory_id, embedding, active = int(change[3]), change[4], change[7]
        if embedding is not None:
            self.put(memory_id, embedding, change[5], change[6], bool(active))
        elif active is not None:
            slot = self.slots.get(memory_id)
            if slot is not None:
                self.active[slot] = bool(active)
        else:
            self.drop(memory_id)

    def put(self, memory_id: int, embedding: bytes, namespace: str, system: str, active: bool) -> None:
        vector = np.frombuffer(embedding, dtype=np.float32)
        if vector.shape != (self.dimension,):
            return  # another model's, written after a reset: the epoch check drops this copy
        slot = self.slots.get(memory_id)
        if slot is None:
            slot = self.free.pop() if self.free else self._grow()
            self.slots[memory_id] = slot
        self.matrix[slot] = vector
        self.codes[:, slot] = pack_signs(vector[np.newaxis])[:, 0]
        self.ids[slot] = memory_id
        self.active[slot] = active
        self.namespaces[slot] = _code(self.namespace_codes, namespace)
        self.systems[slot] = _code(self.system_codes, system)

    def append_new(self, rows: list[Row]) -> None:
        """Add (memory id, embedding, namespace, system, active) rows of memories not in the copy yet,
        a batch at a time with numpy rather than a row at a time, while a copy is built."""
        rows = [row for row in rows if len(row[1]) == 4 * self.dimension]
        if not rows:
            return
        start, count = self.size, len(rows)
        if start + count > len(self.ids):
            self.reserve(max(start + count, 2 * len(self.ids)))
        end = start + count
        self.matrix[start:end] = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(
            count, self.dimension
        )
        self.codes[:, start:end] = pack_signs(self.matrix[start:end])
        self.ids[start:end] = [row[0] for row in rows]
        self.active[start:end] = [bool(row[4]) for row in rows]
        self.namespaces[start:end] = [_code(self.namespace_codes, row[2]) for row in rows]
        self.systems[start:end] = [_code(self.system_codes, row[3]) for row in rows]
        self.slots.update((int(row[0]), slot) for slot, row in enumerate(rows, start=start))
        self.size = end

    def drop(self, memory_id: int) -> None:
        slot = self.slots.pop(memory_id, None)
        if slot is not None:
            self.active[slot] = False
            self.ids[slot] = -1
            self.free.append(slot)

    def reserve(self, capacity: int) -> None:
        self.matrix = resized(self.matrix, capacity)
        self.codes = resized(self.codes.T, capacity).T.copy()
        self.ids = resized(self.ids, capacity)
        self.active = resized(self.active, capacity)
        self.namespaces = resized(self.namespaces, capacity)
        self.systems = resized(self.systems, capacity)

    def _grow(self) -> int:
        if self.size == len(self.ids):
            self.reserve(max(INITIAL_CAPACITY, 2 * len(self.ids)))
        self.size += 1
        return self.size - 1


def _code(codes: dict[str, int], name: str) -> int:
    """The small integer standing for a namespace or system name in the copy's columns."""
    return codes.setdefault(name, len(codes))


def resized(array: np.ndarray, capacity: int) -> np.ndarray:
    """A copy of `array` with room for `capacity` rows; the new rows are zero."""
    # np.zeros maps zero pages lazily: spare capacity costs no resident memory until written.
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _id_array(ids: set[int]) -> np.ndarray:
    return np.fromiter(ids, dtype=np.int64, count=len(ids))


def _best_slots(scores: np.ndarray, allowed: np.ndarray, count: int) -> np.ndarray:
    """Slots of the `count` best allowed scores, best first."""
    masked = np.where(allowed, scores, -np.inf)
    count = min(count, int(allowed.sum()))
    if count == 0:
        return np.empty(0, dtype=np.int64)
    best = np.argpartition(-masked, count - 1)[:count]
    return best[np.argsort(-masked[best], kind="stable")]


def top_allowed(ids: np.ndarray, scores: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(id, score) of the k best allowed slots, best first."""
    return [(int(ids[slot]), float(scores[slot])) for slot in _best_slots(scores, allowed, k)]
