"""Procedural memory: workflows that are saved, found for a goal, run, measured, retired and restored.

A procedure's name is unique in its namespace (letter case ignored), retired ones included, so a
retired procedure is brought back with `restore` rather than saved again. Every reported run updates
its statistics and confidence (store/procedures.py); search weighs relevance by them
(retrieval/procedure_search.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from athena_mcp.embeddings.service import EmbeddingService
from athena_mcp.errors import Conflict, NotFound
from athena_mcp.memory.cursors import decode_cursor, encode_cursor
from athena_mcp.models import Procedure, ProcedureRun, ProcedureStats, ProcedureSummary
from athena_mcp.retrieval.procedure_mirror import ProcedureMirror
from athena_mcp.retrieval.procedure_search import ProcedureSearch, ProcedureSearcher, ProcedureSearchResult
from athena_mcp.store import memories, procedures
from athena_mcp.store.database import Database, Transaction
from athena_mcp.store.procedures import NewProcedure, ProcedureQuery

# Distinct sessions, and distinct events, that get_procedure lists as a procedure's evidence.
MAX_EVIDENCE = 100


class SaveResult(BaseModel):
    id: int
    vector: Literal["stored", "pending"] = Field(
        description="pending: the embedding model is not ready; the vectors are computed in the background"
    )


class ProcedureDetail(Procedure):
    recent_runs: list[ProcedureRun] = Field(description="The latest runs, newest first")
    evidence_sessions: list[str] = Field(
        description=f"Sessions it was written from or seen in (its source first, then newest runs; "
        f"at most {MAX_EVIDENCE})"
    )
    evidence_event_ids: list[int] = Field(
        description=f"Events it was written from or seen in (same order; at most {MAX_EVIDENCE})"
    )


class ExecutionResult(BaseModel):
    id: int
    recorded: bool = Field(
        description="False when a run from this session was already recorded for it: nothing changed"
    )
    stats: ProcedureStats


class ProcedureStatusResult(BaseModel):
    id: int
    status: Literal["active", "retired"]
    changed: bool = Field(description="False when the procedure was already in that state")


class ProcedurePage(BaseModel):
    items: list[ProcedureSummary] = Field(description="Without steps; get_procedure shows them")
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null on the last page")


@dataclass(frozen=True)
class Execution:
    outcome: Literal["success", "failure", "partial"]
    duration: float | None = None  # seconds
    notes: str | None = None
    session_id: str | None = None
    event_ids: tuple[int, ...] = ()


class ProceduralMemory:
    def __init__(self, database: Database, embeddings: EmbeddingService) -> None:
        self._database = database
        self._embeddings = embeddings
        self._searcher = ProcedureSearcher(
            database, embeddings, ProcedureMirror(database, embeddings.identity.dimension)
        )

    async def save(self, procedure: NewProcedure) -> SaveResult:
        """Store a new procedure with its vectors, or queue them when the model is not ready."""
        # A first, unlocked look only spares embedding a procedure whose name is taken or whose evidence
        # is not the namespace's; the checks that count are the ones under the write lock.
        await _require_name_free(self._database, procedure.namespace, procedure.name)
        await require_events(self._database, procedure.namespace, procedure.source_event_ids)
        vectors = await self._embeddings.embed_documents(
            procedures.embedding_texts(procedure.name, procedure.goal, procedure.steps)
        )
        if vectors is not None:
            procedure = dataclasses.replace(procedure, embedding=vectors[0], step_embeddings=vectors[1:])
        async with self._database.transaction() as tx:
            await _require_name_free(tx, procedure.namespace, procedure.name)
            await require_events(tx, procedure.namespace, procedure.source_event_ids)
            procedure_id = await procedures.insert_procedure(tx, procedure)
        return SaveResult(id=procedure_id, vector="pending" if vectors is None else "stored")

    async def find(self, search: ProcedureSearch) -> ProcedureSearchResult:
        return await self._searcher.search(search)

    async def get(self, namespace: str, procedure_id: int, runs: int) -> ProcedureDetail:
        procedure = await self._require(self._database, namespace, procedure_id)
        sessions, event_ids = await procedures.evidence(self._database, procedure_id, MAX_EVIDENCE)
        return ProcedureDetail(
            **procedure.model_dump(),
            recent_runs=await procedures.recent_runs(self._database, procedure_id, runs),
            evidence_sessions=sessions,
            evidence_event_ids=event_ids,
        )

    async def record_execution(
        self, namespace: str, procedure_id: int, execution: Execution
    ) -> ExecutionResult:
        """Add a run reported by an agent; a second report from the same session changes nothing."""
        async with self._database.transaction() as tx:
            await self._require(tx, namespace, procedure_id)
            await require_events(tx, namespace, execution.event_ids)
            recorded = await procedures.add_run(
                tx,
                procedure_id,
                source="execution",
                outcome=execution.outcome,
                duration=execution.duration,
                notes=execution.notes,
                session_id=execution.session_id,
                event_ids=execution.event_ids,
            )
            procedure = await self._require(tx, namespace, procedure_id)
        return ExecutionResult(id=procedure_id, recorded=recorded, stats=procedure.stats)

    async def list_page(
        self, query: ProcedureQuery, sort: str, cursor: str | None, limit: int
    ) -> ProcedurePage:
        after_id = decode_cursor(cursor, "list_procedures")
        items = await procedures.list_page(self._database, query, sort, after_id, limit + 1)
        next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
        return ProcedurePage(items=list[ProcedureSummary](items[:limit]), next_cursor=next_cursor)

    async def retire(self, namespace: str, procedure_id: int, reason: str | None) -> ProcedureStatusResult:
        return await self._set_status(namespace, procedure_id, "retired", reason)

    async def restore(self, namespace: str, procedure_id: int) -> ProcedureStatusResult:
        return await self._set_status(namespace, procedure_id, "active", None)

    async def _set_status(
        self, namespace: str, procedure_id: int, status: Literal["active", "retired"], reason: str | None
    ) -> ProcedureStatusResult:
        async with self._database.transaction() as tx:
            procedure = await self._require(tx, namespace, procedure_id)
            if procedure.status == status:
                return ProcedureStatusResult(id=procedure_id, status=status, changed=False)
            await procedures.set_status(tx, procedure_id, status, reason)
        return ProcedureStatusResult(id=procedure_id, status=status, changed=True)

    async def _require(self, db: Database | Transaction, namespace: str, procedure_id: int) -> Procedure:
        procedure = await procedures.get_procedure(db, namespace, procedure_id)
        if procedure is None:
            raise not_found(namespace, procedure_id)
        return procedure


def not_found(namespace: str, procedure_id: int) -> NotFound:
    """The one answer for an id that names no procedure in the namespace, wherever else it exists."""
    return NotFound(
        f"id: no procedure {procedure_id} in namespace {namespace!r}. Use find_procedures or "
        "list_procedures to find procedure ids."
    )


async def require_events(db: Database | Transaction, namespace: str, event_ids: Sequence[int]) -> None:
    """Refuse evidence that is not an event of the namespace (another namespace's reads as missing)."""
    if not event_ids:
        return
    unknown = sorted(set(event_ids) - await memories.events_in(db, namespace, event_ids))
    if unknown:
        raise NotFound(
            f"event_ids: no event {', '.join(map(str, unknown[:10]))} in namespace {namespace!r}; cite ids "
            "returned by record_event, recall_events or timeline in the same namespace. Nothing was saved."
        )


async def _require_name_free(db: Database | Transaction, namespace: str, name: str) -> None:
    """Raise Conflict, saying what to do instead, when the name is taken in the namespace."""
    taken = await procedures.named(db, namespace, name)
    if taken is None:
        return
    procedure_id, status, existing = taken
    remedy = "restore it with restore_procedure" if status == "retired" else "use it, or retire it first"
    raise Conflict(
        f"name: namespace {namespace!r} already has procedure {procedure_id} named {existing!r} ({status}); "
        f"{remedy}, or save this one under another name."
    )
