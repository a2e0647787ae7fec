"""Semantic memory: facts and notes that are remembered, recalled, revised and forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.errors import Conflict, InvalidInput, NotFound
from athena_mcp.memory.cursors import decode_cursor, encode_cursor
from athena_mcp.models import Memory, MemoryVersion
from athena_mcp.retrieval.vector_mirror import VectorMirror
from athena_mcp.store import duplicate_checks, memories, vectors
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import FactChanges, NewMemory

NEAR_DUPLICATE_CANDIDATES = 3


class SimilarMemory(BaseModel):
    id: int
    similarity: float
    content: str


class RememberResult(BaseModel):
    id: int
    status: Literal["stored", "duplicate"] = Field(
        description="duplicate: an identical fact already existed in this namespace and its id is returned"
    )
    similar: list[SimilarMemory] = Field(
        default_factory=list,
        description="Near-duplicates already stored; consider `update` on one of them instead",
    )
    vector: Literal["stored", "pending"] = Field(
        description="pending: the embedding model is not ready; the vector is computed in the background, "
        "and a near-duplicate it finds then is noted on a later answer in this namespace"
    )


class UpdateResult(BaseModel):
    id: int
    version: int
    status: Literal["updated", "unchanged"]
    similar: list[SimilarMemory] = Field(default_factory=list)


class StatusResult(BaseModel):
    id: int
    status: Literal["active", "forgotten"]
    changed: bool = Field(description="False when the memory was already in that state")


@dataclass(frozen=True)
class LateDuplicate:
    """A near-duplicate found after the fact was stored, once its vector existed."""

    memory_id: int
    similar: SimilarMemory


class MemoryDetail(Memory):
    history: list[MemoryVersion] | None = Field(None, description="Earlier versions, oldest first")


class MemoryPage(BaseModel):
    items: list[Memory]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


@dataclass(frozen=True)
class FactDraft:
    content: str
    kind: str
    namespace: str
    tags: tuple[str, ...]
    importance: float
    source: str | None
    occurred_at: float | None


class SemanticMemory:
    def __init__(
        self,
        database: Database,
        embeddings: EmbeddingService,
        vector_index: VectorMirror,
        near_duplicate_threshold: float,
    ) -> None:
        self._database = database
        self._embeddings = embeddings
        self._vector_index = vector_index
        self._near_duplicate_threshold = near_duplicate_threshold

    async def remember(self, draft: FactDraft) -> RememberResult:
        # A first, unlocked look only spares embedding an exact duplicate; the check that counts is
        # repeated under the write lock below.
        existing = await memories.active_fact_with_content(self._database, draft.namespace, draft.content)
        if existing is not None:
            return await self._duplicate(existing)
        vector = await self._embed(draft.content)
        similar = await self._similar(vector, draft.namespace, exclude=None)
        new = NewMemory(
            system="semantic",
            namespace=draft.namespace,
            kind=draft.kind,
            content=draft.content,
            tags=draft.tags,
            importance=draft.importance,
            source=draft.source,
            occurred_at=draft.occurred_at,
        )
        async with self._database.transaction() as tx:
            # Checked again under the write lock: another call or process may have stored it meanwhile.
            existing = await memories.active_fact_with_content(tx, draft.namespace, draft.content)
            if existing is None:
                [memory_id] = await memories.insert_memories(tx, [new])
                await self._store_vector(tx, memory_id, draft.namespace, vector)
        if existing is not None:
            return await self._duplicate(existing)
        return RememberResult(
            id=memory_id, status="stored", similar=similar, vector="pending" if vector is None else "stored"
        )

    async def get(self, namespace: str, memory_id: int, include_history: bool) -> MemoryDetail:
        memory = await self._require(self._database, namespace, memory_id)
        history = await memories.versions(self._database, memory_id) if include_history else None
        return MemoryDetail(**memory.model_dump(), history=history)

    async def update(
        self, namespace: str, memory_id: int, changes: FactChanges, reason: str | None
    ) -> UpdateResult:
        """Apply the changes as a new version of the namespace's fact."""
        current = await self._require_fact(self._database, namespace, memory_id)
        content = changes.content
        vector = None
        if content is not None and content != current.content:
            await self._refuse_duplicate(self._database, current, content)
            vector = await self._embed(content)
        async with self._database.transaction() as tx:
            current = await self._require_fact(tx, namespace, memory_id)
            effective = changes.against(current)
            if not effective:
                return UpdateResult(id=memory_id, version=current.version, status="unchanged")
            if effective.content is not None:
                await self._refuse_duplicate(tx, current, effective.content)
            await memories.update_memory(tx, current, effective, reason)
            if effective.content is not None:
                await self._store_vector(tx, memory_id, current.namespace, vector)
        similar = await self._similar(vector, current.namespace, exclude=memory_id)
        return UpdateResult(id=memory_id, version=current.version + 1, status="updated", similar=similar)

    async def forget(self, namespace: str, memory_id: int, reason: str | None) -> StatusResult:
        return await self._set_status(namespace, memory_id, "forgotten", reason)

    async def restore(self, namespace: str, memory_id: int) -> StatusResult:
        return await self._set_status(namespace, memory_id, "active", None)

    async def list_page(self, memory_filter: MemoryFilter, cursor: str | None, limit: int) -> MemoryPage:
        before_id = decode_cursor(cursor, "list_memories")
        items = await memories.list_page(self._database, memory_filter, before_id, limit + 1)
        next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
        return MemoryPage(items=items[:limit], next_cursor=next_cursor)

    async def _set_status(
        self, namespace: str, memory_id: int, status: Literal["active", "forgotten"], reason: str | None
    ) -> StatusResult:
        async with self._database.transaction() as tx:
            memory = await self._require(tx, namespace, memory_id)
            if memory.status == status:
                return StatusResult(id=memory_id, status=status, changed=False)
            if status == "active" and memory.system == "semantic":
                await self._refuse_duplicate(tx, memory, memory.content)
            await memories.set_status(tx, memory_id, status, reason)
            await vectors.set_vector_active(tx, memory_id, status == "active")
        return StatusResult(id=memory_id, status=status, changed=True)

    async def check_owed_duplicates(self, new_vectors: dict[int, np.ndarray]) -> None:
        """Run the near-duplicate check that facts stored without a vector still owe, now that the
        backlog has computed these vectors; a finding waits for `take_late_duplicates`."""
        for memory_id, namespace in await duplicate_checks.owed_among(self._database, list(new_vectors)):
            similar = await self._similar(new_vectors[memory_id], namespace, exclude=memory_id)
            async with self._database.transaction() as tx:
                best = (similar[0].id, similar[0].similarity) if similar else None
                await duplicate_checks.settle(tx, memory_id, best)

    async def take_late_duplicates(self, namespaces: tuple[str, ...]) -> list[LateDuplicate]:
        """Near-duplicates found late in these namespaces, each handed out once (to any process)."""
        if not await duplicate_checks.any_found(self._database, namespaces):
            return []  # the usual case, without taking the write lock
        async with self._database.transaction() as tx:
            found = await duplicate_checks.take_found(tx, namespaces)
        twins = await memories.get_memories(self._database, [f.similar_id for f in found])
        late = []
        for finding in found:
            twin = twins.get(finding.similar_id)
            if twin is not None and twin.status == "active":  # not forgotten since the check
                similar = SimilarMemory(id=twin.id, similarity=finding.similarity, content=twin.content)
                late.append(LateDuplicate(finding.memory_id, similar))
        return late

    async def _embed(self, content: str) -> np.ndarray | None:
        result = await self._embeddings.embed_documents([content])
        return None if result is None else result[0]

    async def _duplicate(self, existing: int) -> RememberResult:
        pending = await vectors.is_pending(self._database, existing)
        return RememberResult(id=existing, status="duplicate", vector="pending" if pending else "stored")

    async def _similar(
        self, vector: np.ndarray | None, namespace: str, exclude: int | None
    ) -> list[SimilarMemory]:
        if vector is None:
            return []
        memory_filter = MemoryFilter(namespaces=(namespace,), systems=("semantic",))
        neighbours = await self._vector_index.nearest(vector, memory_filter, NEAR_DUPLICATE_CANDIDATES + 1)
        close = [
            (mid, sim) for mid, sim in neighbours if mid != exclude and sim >= self._near_duplicate_threshold
        ]
        found = await memories.get_memories(self._database, [mid for mid, _ in close])
        return [
            SimilarMemory(id=mid, similarity=round(sim, 4), content=found[mid].content)
            for mid, sim in close[:NEAR_DUPLICATE_CANDIDATES]
            if mid in found and found[mid].status == "active"  # not forgotten since the lookup
        ]

    async def _store_vector(
        self, tx: Transaction, memory_id: int, namespace: str, vector: np.ndarray | None
    ) -> None:
        if vector is None:
            await vectors.queue_for_embedding(tx, [memory_id])
            await duplicate_checks.owe(tx, memory_id, namespace)
        else:
            await vectors.write_vectors(
                tx,
                [vectors.VectorRow(memory_id, vector, namespace, "semantic", True)],
                self._embeddings.identity,
            )

    async def _require(self, db: Database | Transaction, namespace: str, memory_id: int) -> Memory:
        # One answer for an id of another namespace and one that exists nowhere.
        memory = await memories.get_memory(db, namespace, memory_id)
        if memory is None:
            raise NotFound(
                f"id: no memory {memory_id} in namespace {namespace!r}. Use recall or list_memories to find "
                "ids."
            )
        return memory

    async def _require_fact(self, db: Database | Transaction, namespace: str, memory_id: int) -> Memory:
        memory = await self._require(db, namespace, memory_id)
        if memory.system != "semantic":
            raise InvalidInput(
                f"id: memory {memory_id} is an event; events are records of what happened and "
                "cannot be edited. Record a new event, or forget this one."
            )
        if memory.status != "active":
            raise Conflict(f"id: memory {memory_id} is forgotten; restore it before updating it.")
        return memory

    async def _refuse_duplicate(self, db: Database | Transaction, memory: Memory, content: str) -> None:
        twin = await memories.active_fact_with_content(db, memory.namespace, content)
        if twin is not None and twin != memory.id:
            raise Conflict(
                f"content: memory {twin} in namespace {memory.namespace!r} already holds exactly this "
                f"text. Use memory {twin}, or forget one of the two first."
            )
