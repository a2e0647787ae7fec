"""Working memory: the few memories a session has in mind (7 by default, Miller's 7±2).

A memory enters a session's working memory when the session recalls it (a prompt's memories, a
`recall` hit), cites it (`get`, `rate_memory`) or changes it (`remember`, `update`); each touch adds
to its activation, and every touch of the session's set is a step that multiplies every activation by
DECAY, so what the session stopped using fades. Past the capacity the least active unpinned item
leaves. The set is kept in the database, so every process and hook of the session sees the same one;
it biases that session's ranking (bias()), and when the session ends it is recorded as an event.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.errors import InvalidInput
from athena_mcp.store import memories, vectors
from athena_mcp.store import working as store
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory

Touch = Literal["recalled", "cited", "changed"]
# What a touch adds to an item's activation: using a memory says more than being shown it.
BOOST: dict[Touch, float] = {"recalled": 1.0, "cited": 1.5, "changed": 2.0}
DECAY = 0.85  # per step of the session
DEFAULT_CAPACITY = 7
# How much a session's most active item is lifted in that session's ranking (0: not at all).
RANKING_BIAS = 0.2
CLOSING_TAG = "working-memory"
ITEM_CHARS = 200  # of each item's text in the event that records the set


class WorkingMemoryItem(BaseModel):
    id: int
    kind: str
    content: str
    activation: float = Field(description="Now, after decay; higher is more in mind")
    pinned: bool


class WorkingMemorySet(BaseModel):
    namespace: str
    session_id: str
    capacity: int
    items: list[WorkingMemoryItem] = Field(description="Most active first")


class WorkingMemory:
    def __init__(self, database: Database, capacity: int = DEFAULT_CAPACITY) -> None:
        self._database = database
        self.capacity = capacity

    async def touch(self, namespace: str, session_id: str, touched: Mapping[int, Touch]) -> None:
        """Raise the activation of the memories `touched` (those of the namespace), a step of decay
        for the rest, and let the least active go past the capacity."""
        async with self._database.transaction() as tx:
            await self._touch(tx, namespace, session_id, touched)

    async def _touch(
        self, tx: Transaction, namespace: str, session_id: str, touched: Mapping[int, Touch]
    ) -> None:
        present = await memories.ids_matching(tx, list(touched), MemoryFilter(namespaces=(namespace,)))
        if not present:
            return
        step = await store.next_step(tx, namespace, session_id, time.time())
        current = {item.memory_id: item for item in await store.items(tx, namespace, session_id)}
        updated = {
            memory_id: store.WorkingItem(memory_id, _now(item, step), step, item.pinned)
            for memory_id, item in current.items()
        }
        for memory_id in present:
            before = updated.get(memory_id)
            activation = (before.activation if before else 0.0) + BOOST[touched[memory_id]]
            updated[memory_id] = store.WorkingItem(
                memory_id, activation, step, before.pinned if before else False
            )
        kept, leaving = _within_capacity(list(updated.values()), self.capacity)
        await store.remove(tx, namespace, session_id, [item.memory_id for item in leaving])
        await store.save(tx, namespace, session_id, kept)

    async def view(self, namespace: str, session_id: str) -> WorkingMemorySet:
        return await self._view(self._database, namespace, session_id)

    async def _view(self, db: Database | Transaction, namespace: str, session_id: str) -> WorkingMemorySet:
        step = await store.current_step(db, namespace, session_id)
        held = await store.items(db, namespace, session_id)
        records = await memories.get_memories(db, [item.memory_id for item in held])
        items = [
            WorkingMemoryItem(
                id=item.memory_id,
                kind=records[item.memory_id].kind,
                content=records[item.memory_id].content,
                activation=round(_now(item, step), 4),
                pinned=item.pinned,
            )
            for item in held
            if item.memory_id in records
        ]
        items.sort(key=lambda i: (-i.pinned, -i.activation, i.id))
        return WorkingMemorySet(
            namespace=namespace, session_id=session_id, capacity=self.capacity, items=items
        )

    async def bias(self, namespace: str, session_id: str) -> dict[int, float]:
        """Each held memory's lift in the session's ranking: up to RANKING_BIAS for the most active
        (pinned items count as most active)."""
        step = await store.current_step(self._database, namespace, session_id)
        held = await store.items(self._database, namespace, session_id)
        if not held:
            return {}
        now = {item.memory_id: _now(item, step) for item in held}
        top = max(now.values()) or 1.0
        return {
            item.memory_id: RANKING_BIAS * (1.0 if item.pinned else now[item.memory_id] / top)
            for item in held
        }

    async def pin(
        self, namespace: str, session_id: str, pin: Sequence[int], drop: Sequence[int]
    ) -> WorkingMemorySet:
        """Pin memories into the set (they never leave on their own) and drop others from it."""
        async with self._database.transaction() as tx:
            present = await memories.ids_matching(tx, list(pin), MemoryFilter(namespaces=(namespace,)))
            missing = sorted(set(pin) - present)
            if missing:
                raise InvalidInput(
                    f"pin: no active memory {', '.join(map(str, missing))} in namespace '{namespace}'."
                )
            await store.remove(tx, namespace, session_id, list(drop))
            step = await store.next_step(tx, namespace, session_id, time.time())
            held = {item.memory_id: item for item in await store.items(tx, namespace, session_id)}
            pinned = {m for m, item in held.items() if item.pinned} | present
            if len(pinned) > self.capacity:
                raise InvalidInput(
                    f"pin: at most {self.capacity} pinned memories (the working memory's capacity); "
                    "drop some first."
                )
            rows = [
                store.WorkingItem(
                    m, max(_now(held[m], step), BOOST["cited"]) if m in held else BOOST["cited"], step, True
                )
                for m in present
            ]
            rows += [
                store.WorkingItem(m, _now(item, step), step, item.pinned)
                for m, item in held.items()
                if m not in present
            ]
            kept, leaving = _within_capacity(rows, self.capacity)
            await store.remove(tx, namespace, session_id, [item.memory_id for item in leaving])
            await store.save(tx, namespace, session_id, kept)
            return await self._view(tx, namespace, session_id)

    async def close(self, namespace: str, session_id: str) -> int | None:
        """Record the session's set as an event of the session and clear it; the event's id."""
        async with self._database.transaction() as tx:
            held = await self._view(tx, namespace, session_id)
            await store.clear(tx, namespace, session_id)
            if not held.items:
                return None
            lines = [f"[{item.id}] {_clip(item.content)}" for item in held.items]
            content = "In mind at the end of the session: " + "; ".join(lines)
            [event_id] = await memories.insert_memories(
                tx,
                [
                    NewMemory(
                        "episodic",
                        namespace,
                        "observation",
                        content,
                        tags=(CLOSING_TAG,),
                        importance=0.4,
                        source="working memory",
                        session_id=session_id,
                        context={"memory_ids": [item.id for item in held.items]},
                    )
                ],
            )
            await vectors.queue_for_embedding(tx, [event_id])
            return event_id


def _now(item: store.WorkingItem, step: int) -> float:
    return item.activation * DECAY ** max(0, step - item.step)


def _within_capacity(
    rows: list[store.WorkingItem], capacity: int
) -> tuple[list[store.WorkingItem], list[store.WorkingItem]]:
    """(kept, leaving): pinned items first, then the most active, up to the capacity."""
    ordered = sorted(rows, key=lambda r: (not r.pinned, -r.activation, -r.memory_id))
    return ordered[:capacity], ordered[capacity:]


def _clip(text: str) -> str:
    return text if len(text) <= ITEM_CHARS else text[: ITEM_CHARS - 1] + "…"
