"""Episodic memory: events (actions, decisions, observations, errors, messages) as they happened.

Events are occurrences, not facts: the same text recorded twice is two events, and an event is
never edited after the fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.memory.cursors import decode_cursor, encode_cursor
from athena_mcp.models import Memory
from athena_mcp.store import memories, vectors
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory


class RecordResult(BaseModel):
    ids: list[int] = Field(description="Ids of the recorded events, in the order given")
    vectors: Literal["stored", "pending"] = Field(
        description="pending: the embedding model is not ready; vectors are computed in the background"
    )


class TimelinePage(BaseModel):
    events: list[Memory]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class EpisodicMemory:
    def __init__(self, database: Database, embeddings: EmbeddingService) -> None:
        self._database = database
        self._embeddings = embeddings

    async def record(self, events: Sequence[NewMemory]) -> RecordResult:
        """Store events in one transaction: all of them or none."""
        embedded = await self._embeddings.embed_documents([event.content for event in events])
        async with self._database.transaction() as tx:
            ids = await memories.insert_memories(tx, events)
            if embedded is None:
                await vectors.queue_for_embedding(tx, ids)
            else:
                await vectors.write_vectors(
                    tx,
                    [
                        vectors.VectorRow(memory_id, vector, event.namespace, "episodic", True)
                        for memory_id, vector, event in zip(ids, embedded, events, strict=True)
                    ],
                    self._embeddings.identity,
                )
        return RecordResult(ids=ids, vectors="pending" if embedded is None else "stored")

    async def timeline(self, memory_filter: MemoryFilter, cursor: str | None, limit: int) -> TimelinePage:
        after_id = decode_cursor(cursor, "timeline")
        events = await memories.timeline_page(self._database, memory_filter, after_id, limit + 1)
        next_cursor = encode_cursor(events[limit - 1].id) if len(events) > limit else None
        return TimelinePage(events=events[:limit], next_cursor=next_cursor)
