"""The procedural toolset: save_procedure, find_procedures, get_procedure, record_execution,
list_procedures, retire_procedure, restore_procedure."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from athena_mcp.fields import (
    Cursor,
    Limit,
    MemoryId,
    Namespace,
    Query,
    Reason,
    SessionId,
    ShortText,
    Tags,
    Title,
)
from athena_mcp.memory.procedural import (
    Execution,
    ExecutionResult,
    ProcedureDetail,
    ProcedurePage,
    ProcedureStatusResult,
    SaveResult,
)
from athena_mcp.models import RunOutcome
from athena_mcp.retrieval.procedure_search import ProcedureSearch, ProcedureSearchResult
from athena_mcp.store.procedures import NewProcedure, ProcedureQuery
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints

MAX_STEPS = 50
MAX_PRECONDITIONS = 20
MAX_EVENT_IDS = 200
MAX_RUNS_SHOWN = 100

ProcedureName = Annotated[Title, Field(description="Short, unique in the namespace")]
Goal = Annotated[ShortText, Field(description="What it achieves, when to use it")]
Step = ShortText
Steps = Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS, description="In order")]
Preconditions = Annotated[
    list[ShortText], Field(max_length=MAX_PRECONDITIONS, description="What must hold before starting")
]
ExpectedOutcome = Annotated[ShortText, Field(description="What success looks like")]
ProcedureId = Annotated[
    int,
    Field(ge=1, le=2**63 - 1, description="A procedure id"),
]
EventIds = Annotated[list[MemoryId], Field(max_length=MAX_EVENT_IDS, description="Events that show it")]
Duration = Annotated[float, Field(ge=0, le=31_536_000, allow_inf_nan=False, description="Seconds")]
Notes = Annotated[ShortText, Field(description="What went wrong, what to do differently")]
Runs = Annotated[int, Field(ge=0, le=MAX_RUNS_SHOWN, description="How many of its latest runs to include")]


def tools() -> tuple[ToolSpec, ...]:
    return (
        ToolSpec(save_procedure, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(find_procedures, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(get_procedure, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(record_execution, tool_hints(read_only=False)),
        ToolSpec(list_procedures, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(retire_procedure, tool_hints(read_only=False, destructive=True, idempotent=True)),
        ToolSpec(restore_procedure, tool_hints(read_only=False, idempotent=True)),
    )


@tool_errors
async def save_procedure(
    services: ServicesDep,
    name: ProcedureName,
    goal: Goal,
    steps: Steps,
    preconditions: Preconditions | None = None,
    expected_outcome: ExpectedOutcome | None = None,
    tags: Tags | None = None,
    namespace: Namespace = "default",
    session_id: Annotated[SessionId, Field(description="Where it was worked out")] | None = None,
    event_ids: EventIds | None = None,
) -> SaveResult:
    """Save a workflow worth repeating (a goal and ordered steps) for later sessions to follow."""
    return await services.procedural.save(
        NewProcedure(
            namespace=namespace,
            name=name,
            goal=goal,
            steps=tuple(steps),
            preconditions=tuple(preconditions or ()),
            expected_outcome=expected_outcome,
            tags=tuple(tags or ()),
            source_session_id=session_id,
            source_event_ids=tuple(event_ids or ()),
        )
    )


@tool_errors
async def find_procedures(
    services: ServicesDep,
    query: Annotated[Query, Field(description="The goal or task, in natural language")],
    namespace: Namespace = "default",
    limit: Limit = 5,
    include_retired: bool = False,
    explain: bool = False,
) -> ProcedureSearchResult:
    """Find saved or learned procedures for a goal, by meaning and keywords, ranked by relevance weighed
    by proven success and recent use; explain=true shows each part of the score."""
    return await services.procedural.find(
        ProcedureSearch(
            query=query, namespace=namespace, limit=limit, include_retired=include_retired, explain=explain
        )
    )


@tool_errors
async def get_procedure(
    services: ServicesDep, id: ProcedureId, runs: Runs = 10, namespace: Namespace = "default"
) -> ProcedureDetail:
    """Fetch one procedure by id, retired ones included, with its statistics, its latest runs and the
    sessions and events that evidence it."""
    return await services.procedural.get(namespace, id, runs)


@tool_errors
async def record_execution(
    services: ServicesDep,
    id: ProcedureId,
    outcome: RunOutcome,
    duration: Duration | None = None,
    notes: Notes | None = None,
    session_id: Annotated[SessionId, Field(description="Counted once")] | None = None,
    event_ids: EventIds | None = None,
    namespace: Namespace = "default",
) -> ExecutionResult:
    """After following a procedure, report how it went; its success rate and confidence follow."""
    return await services.procedural.record_execution(
        namespace,
        id,
        Execution(
            outcome=outcome,
            duration=duration,
            notes=notes,
            session_id=session_id,
            event_ids=tuple(event_ids or ()),
        ),
    )


@tool_errors
async def list_procedures(
    services: ServicesDep,
    namespace: Namespace = "default",
    sort: Literal["effectiveness", "confidence", "recency"] = "effectiveness",
    status: Literal["active", "retired", "all"] = "active",
    origin: Literal["saved", "learned"] | None = None,
    tags: Tags | None = None,
    limit: Limit = 20,
    cursor: Cursor | None = None,
) -> ProcedurePage:
    """List procedures with their statistics, best first by success rate (effectiveness), confidence or
    recent use, a page at a time (pass next_cursor to continue)."""
    query = ProcedureQuery(
        namespace=namespace,
        statuses=("active", "retired") if status == "all" else (status,),
        origin=origin,
        tags=tuple(tags or ()),
    )
    return await services.procedural.list_page(query, sort, cursor, limit)


@tool_errors
async def retire_procedure(
    services: ServicesDep, id: ProcedureId, reason: Reason | None = None, namespace: Namespace = "default"
) -> ProcedureStatusResult:
    """Retire an obsolete or harmful procedure: find_procedures stops returning it, but it is kept so
    that restore_procedure can undo this."""
    return await services.procedural.retire(namespace, id, reason)


@tool_errors
async def restore_procedure(
    services: ServicesDep, id: ProcedureId, namespace: Namespace = "default"
) -> ProcedureStatusResult:
    """Undo retire_procedure: the procedure is found again."""
    return await services.procedural.restore(namespace, id)
