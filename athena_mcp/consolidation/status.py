"""What the consolidation worker has done and holds, and the reversible side of decay."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from athena_mcp.errors import NotFound
from athena_mcp.memory.cursors import decode_cursor, encode_cursor
from athena_mcp.models import to_datetime, to_datetime_or_none
from athena_mcp.store import compaction, memories
from athena_mcp.store import consolidation as store
from athena_mcp.store.database import Database

RECENT_RUNS = 5
TOP_GRAPH_CANDIDATES = 10


class RunSummary(BaseModel):
    id: int
    trigger: str = Field(description="schedule (background) or request (the consolidate tool)")
    status: str = Field(description="running, done, failed, or interrupted (the process died mid-run)")
    started_at: datetime
    finished_at: datetime | None
    produced: dict[str, int] = Field(description="What the run produced, counted")
    error: str | None = None


class NamePair(BaseModel):
    source: str
    target: str
    support: int = Field(description="Events that mentioned both")


class ConsolidationStatus(BaseModel):
    backlog: int = Field(description="Events not consolidated yet (sessions still in progress included)")
    candidate_sessions: int = Field(description="Workflow sessions waiting for a similar one")
    compacted: int = Field(description="Events currently compacted and restorable")
    interval_seconds: float = Field(description="Seconds between background runs; 0: only on request")
    runs: list[RunSummary] = Field(
        description="The latest runs for this namespace or over all (background), newest first, each "
        "with what it produced here"
    )
    graph_candidates: list[NamePair] = Field(description="Names most often mentioned together")


class CompactedEvent(BaseModel):
    id: int
    content: str
    event_type: str
    session_id: str | None
    timestamp: datetime
    digest_id: int = Field(description="The session digest it was folded into")
    score: float = Field(description="Its importance score when it was compacted")
    compacted_at: datetime
    restorable_until: datetime = Field(description="After this it is deleted for good")


class CompactionPage(BaseModel):
    items: list[CompactedEvent]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


class UndoResult(BaseModel):
    restored: list[int]
    not_compacted: list[int] = Field(
        description="Ids that were not compacted in this namespace (or were already purged)"
    )


class UsageResult(BaseModel):
    id: int
    helpful: int
    unhelpful: int
    access_count: int = Field(description="Times searches returned it (counted at consolidation runs)")


async def status(database: Database, namespace: str, interval: float) -> ConsolidationStatus:
    """What consolidation did and holds in one namespace; nothing of any other."""
    runs = await store.recent_runs(database, namespace, RECENT_RUNS)
    return ConsolidationStatus(
        backlog=await store.backlog(database, namespace),
        candidate_sessions=await store.candidate_count(database, namespace),
        compacted=await compaction.count(database, namespace),
        interval_seconds=interval,
        runs=[_run(row) for row in runs],
        graph_candidates=[
            NamePair(source=pair.source_name, target=pair.target_name, support=pair.support)
            for pair in await store.top_pairs(database, namespace, TOP_GRAPH_CANDIDATES)
        ],
    )


def _run(row: Any) -> RunSummary:
    return RunSummary(
        id=row["id"],
        trigger=row["trigger"],
        status=row["status"],
        started_at=to_datetime(row["started_at"]),
        finished_at=to_datetime_or_none(row["finished_at"]),
        produced={key: value for key, value in json.loads(row["report"]).items() if value},
        error=row["error"],
    )


async def compactions_page(
    database: Database, namespace: str, cursor: str | None, limit: int
) -> CompactionPage:
    after_id = decode_cursor(cursor, "list_compactions")
    rows = await compaction.page(database, namespace, after_id, limit + 1)
    items = [
        CompactedEvent(
            id=row["memory_id"],
            content=row["content"],
            event_type=row["kind"],
            session_id=row["session_id"],
            timestamp=to_datetime(row["occurred_at"]),
            digest_id=row["digest_id"],
            score=row["score"],
            compacted_at=to_datetime(row["compacted_at"]),
            restorable_until=to_datetime(row["restorable_until"]),
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return CompactionPage(items=items, next_cursor=next_cursor)


async def undo_compaction(database: Database, namespace: str, memory_ids: list[int]) -> UndoResult:
    async with database.transaction() as tx:
        restored = await compaction.undo(tx, namespace, memory_ids)
    return UndoResult(restored=restored, not_compacted=[m for m in memory_ids if m not in restored])


async def rate(database: Database, namespace: str, memory_id: int, helpful: bool) -> UsageResult:
    async with database.transaction() as tx:
        if await memories.get_memory(tx, namespace, memory_id) is None:
            raise NotFound(
                f"id: no memory {memory_id} in namespace {namespace!r}. Use an id returned by recall, get "
                "or timeline."
            )
        await compaction.rate(tx, memory_id, helpful)
        row = await compaction.usage(tx, memory_id)
    assert row is not None
    return UsageResult(id=memory_id, helpful=row[2], unhelpful=row[3], access_count=row[0])
