"""The consolidation toolset: consolidate, consolidation_status, list_compactions, undo_compaction,
rate_memory."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Resolve, Sample
from mcp_types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import Field

from athena_mcp.consolidation import status as records
from athena_mcp.consolidation.review import (
    REVIEW_MAX_TOKENS,
    SYSTEM_PROMPT,
    facts_from,
    review_prompt,
    verdicts_from,
)
from athena_mcp.consolidation.status import CompactionPage, ConsolidationStatus, UndoResult, UsageResult
from athena_mcp.consolidation.worker import RunReport
from athena_mcp.fields import MAX_BATCH_EVENTS, Cursor, Limit, MemoryId, Namespace
from athena_mcp.tools.common import ServicesDep, ToolSpec, tool_errors, tool_hints

SettleSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=365 * 86_400,
        allow_inf_nan=False,
        description="Take in sessions quiet this long (seconds; 0: all now); a session with an outcome "
        "is taken in at once",
    ),
]


def tools() -> tuple[ToolSpec, ...]:
    return (
        # Destructive: a run compacts old events and deletes those whose retention period is over.
        ToolSpec(consolidate, tool_hints(read_only=False, destructive=True, idempotent=True)),
        ToolSpec(consolidation_status, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(list_compactions, tool_hints(read_only=True, idempotent=True)),
        ToolSpec(undo_compaction, tool_hints(read_only=False, idempotent=True)),
        ToolSpec(rate_memory, tool_hints(read_only=False)),
    )


async def _ask_for_review(
    ctx: Context,
    services: ServicesDep,
    namespace: str,
    dry_run: bool,
    settle_seconds: float | None,
    ask_model: bool,
) -> Sample | None:
    """System 2, when the client can sample: its model reviews this run's uncertain proposals, which are
    the namespace's own (the prompt holds none of another namespace's events)."""
    capabilities = ctx.client_capabilities
    if dry_run or not ask_model or capabilities is None or capabilities.sampling is None:
        return None
    prompt = review_prompt(await services.consolidation.plan(namespace, settle_seconds))
    if prompt is None:
        return None
    messages = [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))]
    return Sample(messages, max_tokens=REVIEW_MAX_TOKENS, system_prompt=SYSTEM_PROMPT)


def _answer_text(result: CreateMessageResult) -> str:
    """The text of a sampling answer; an answer of another kind (an image, audio) reads as none."""
    content = result.content
    return content.text if isinstance(content, TextContent) else ""


@tool_errors
async def consolidate(
    services: ServicesDep,
    review: Annotated[CreateMessageResult | None, Resolve(_ask_for_review)],
    namespace: Namespace = "default",
    dry_run: bool = False,
    settle_seconds: SettleSeconds | None = None,
    ask_model: Annotated[
        bool,
        Field(description="Let your model review uncertain proposals (MCP sampling)"),
    ] = True,
) -> RunReport:
    """After finishing a task: turn its events into facts, procedures, graph candidates and a session
    digest now, then compact old low-value events; dry_run only previews."""
    verdicts = None if review is None else verdicts_from(_answer_text(review))
    report = await services.consolidation.run_once(
        trigger="request",
        namespace=namespace,
        settle_seconds=settle_seconds,
        dry_run=dry_run,
        verdicts=verdicts,
        proposed_facts=() if review is None else facts_from(_answer_text(review)),
    )
    unreviewed = None
    if report.status == "done" and report.proposed and review is None:
        unreviewed = (
            "New proposals are unvalidated: no review was asked for, or this client does not offer "
            "MCP sampling."
        )
    elif report.status == "done" and report.proposed and verdicts == {}:
        unreviewed = "The client's model gave no readable review; new proposals stay unvalidated."
    # The worker's notice says what was left for later; this one adds what became of the review.
    report.notice = " ".join(note for note in (report.notice, unreviewed) if note) or None
    return report


@tool_errors
async def consolidation_status(
    services: ServicesDep, namespace: Namespace = "default"
) -> ConsolidationStatus:
    """The consolidation worker's latest runs and what they produced, its backlog, waiting sessions,
    compactions and the names most often mentioned together."""
    return await records.status(services.database, namespace, services.settings.consolidation_interval)


@tool_errors
async def list_compactions(
    services: ServicesDep, namespace: Namespace = "default", limit: Limit = 50, cursor: Cursor | None = None
) -> CompactionPage:
    """Old low-value events that were folded into their session digest, restorable until the date
    shown, a page at a time."""
    return await records.compactions_page(services.database, namespace, cursor, limit)


@tool_errors
async def undo_compaction(
    services: ServicesDep,
    ids: Annotated[list[MemoryId], Field(min_length=1, max_length=MAX_BATCH_EVENTS)],
    namespace: Namespace = "default",
) -> UndoResult:
    """Bring compacted events back into search, as they were."""
    return await records.undo_compaction(services.database, namespace, ids)


@tool_errors
async def rate_memory(
    services: ServicesDep, id: MemoryId, helpful: bool, namespace: Namespace = "default"
) -> UsageResult:
    """Say whether a recalled memory helped; helpful memories are kept raw longer, unhelpful ones
    fade sooner."""
    return await records.rate(services.database, namespace, id, helpful)
