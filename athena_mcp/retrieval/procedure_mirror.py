"""Each process's in-memory copy of the procedures that searches rank: vectors and standing.

A search scores every procedure of a namespace against the query vector and weighs each candidate by
its confidence and recency; reading 10k vectors from SQLite for each query would cost far more than
the whole search budget. So each namespace searched gets a float32 matrix of its procedures'
vectors, with their status, confidence and time of last use beside it, loaded on first use and kept
current by `revision` (store/procedures.py): before each use the copy reads the rows changed since the
revision it has seen, whichever process wrote them. Usually there are none, and that check is one
indexed read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from athena_mcp.retrieval.vector_mirror import resized, top_allowed
from athena_mcp.store import procedures
from athena_mcp.store.database import Database, Row

INITIAL_CAPACITY = 64


@dataclass(frozen=True)
class Standing:
    """What ranking needs of a procedure besides its relevance."""

    active: bool
    confidence: float
    last_touched: float  # last run, or creation for a procedure never run (seconds since the epoch)


class ProcedureMirror:
    def __init__(self, database: Database, dimension: int) -> None:
        self._database = database
        self._dimension = dimension
        self._lock = asyncio.Lock()
        self._copies: dict[str, NamespaceCopy] = {}

    async def view(self, namespace: str) -> NamespaceCopy:
        """The namespace's copy, up to date with every change committed before this call. It is only
        changed by later calls, so it stays consistent for as long as its caller does not await."""
        async with self._lock:
            copy = self._copies.get(namespace)
            if copy is None:
                copy = NamespaceCopy(self._dimension)
            for row in await procedures.changes_since(self._database, namespace, copy.revision):
                copy.apply(row)
            # Only a namespace that holds procedures is kept: searching made-up names grows nothing.
            if len(copy):
                self._copies[namespace] = copy
            return copy


@dataclass
class NamespaceCopy:
    """Columns with one row (slot) per procedure of one namespace, vector or not."""

    dimension: int
    revision: int = 0  # the last change applied
    slots: dict[int, int] = field(default_factory=dict)  # procedure id -> slot
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    matrix: np.ndarray = field(init=False)
    has_vector: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    active: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    confidence: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    last_touched: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))

    def __post_init__(self) -> None:
        self.matrix = np.empty((0, self.dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.slots)

    def apply(self, row: Row) -> None:
        """One changed procedure: id, revision, status, confidence, last_used_at, created_at, embedding."""
        procedure_id, embedding = int(row[0]), row[6]
        slot = self.slots.get(procedure_id)
        if slot is None:
            slot = self.slots[procedure_id] = len(self.slots)
            if slot == len(self.ids):
                self._reserve(max(INITIAL_CAPACITY, 2 * len(self.ids)))
        self.ids[slot] = procedure_id
        # A vector of another size comes from another model (written after `reembed` switched it):
        # unusable until the vector worker replaces it.
        usable = embedding is not None and len(embedding) == 4 * self.dimension
        if usable:
            self.matrix[slot] = np.frombuffer(embedding, dtype=np.float32)
        self.has_vector[slot] = usable
        self.active[slot] = row[2] == "active"
        self.confidence[slot] = row[3]
        self.last_touched[slot] = row[4] if row[4] is not None else row[5]
        self.revision = max(self.revision, int(row[1]))

    def nearest(self, query: np.ndarray, k: int, include_retired: bool) -> list[tuple[int, float]]:
        """The k procedures most similar to the query vector, (id, cosine similarity) best first; only
        those with a positive similarity, as anything else is unrelated to the query."""
        size = len(self.slots)
        if size == 0 or query.shape != (self.dimension,):
            return []
        scores = self.matrix[:size] @ np.asarray(query, dtype=np.float32)
        allowed = self.has_vector[:size] & (scores > 0)
        if not include_retired:
            allowed &= self.active[:size]
        return top_allowed(self.ids[:size], scores, allowed, k)

    def standing(self, procedure_id: int) -> Standing | None:
        slot = self.slots.get(procedure_id)
        if slot is None:
            return None
        return Standing(bool(self.active[slot]), float(self.confidence[slot]), float(self.last_touched[slot]))

    def _reserve(self, capacity: int) -> None:
        self.ids = resized(self.ids, capacity)
        self.matrix = resized(self.matrix, capacity)
        self.has_vector = resized(self.has_vector, capacity)
        self.active = resized(self.active, capacity)
        self.confidence = resized(self.confidence, capacity)
        self.last_touched = resized(self.last_touched, capacity)
