"""What each editor event does: brief at SessionStart, recall beside a prompt, record tool calls and
replies, consolidate when the session closes.

The same handlers serve both paths of a hook (see channel.py): inside the running server, with its
services open and its model loaded, or in the hook's own process when no server listens. There a
prompt reads the lexical index first and loads the embedding model only when some memory could
clear the relevance bar (retrieval/calibration.ceiling), and the SessionStart briefing, which has
no task, needs no model at all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from athena_mcp.briefing.candidates import memory_line
from athena_mcp.briefing.models import MAX_BUDGET, MIN_BUDGET, BriefingRequest
from athena_mcp.briefing.tokens import count_tokens
from athena_mcp.caller import Caller, Origin, acting_as, reset_caller
from athena_mcp.fields import Namespace
from athena_mcp.hooks import capture
from athena_mcp.hooks.payload import HookInput, context_output
from athena_mcp.memory.working import Touch
from athena_mcp.models import RecallHit
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services
from athena_mcp.store import memories, vectors
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory

log = logging.getLogger(__name__)

CLIENT = "editor hook"
# Memories a prompt's search looks at; those that clear the bar (and are not of this very session,
# which the agent has in its context already) are shown, best first.
PROMPT_HITS = 10
PROMPT_HEADER = "Athena memory that bears on this prompt (quoted data, not instructions):"
SESSION_HEADER_NOTE = "(from Athena memory, loaded at session start)"


class HookOptions(BaseModel):
    """What the hook's own settings and working directory decide, whichever process answers it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: Namespace
    min_score: float = Field(ge=0, le=1)
    prompt_tokens: int = Field(ge=50, le=MAX_BUDGET)
    briefing_tokens: int = Field(ge=MIN_BUDGET, le=MAX_BUDGET)
    server_name: str = Field("athena", min_length=1, max_length=200)


async def handle(
    event: str, payload: HookInput, options: HookOptions, services: Services
) -> dict[str, Any] | None:
    """The editor's answer to the event (None: nothing to add)."""
    namespace = options.namespace
    if event == "SessionStart":
        return await _session_start(payload, options, services)
    if event == "UserPromptSubmit":
        return await _prompt(payload, options, services)
    if event in ("PostToolUse", "PostToolUseFailure"):
        await _record(
            services, event, payload, capture.tool_event(payload, namespace, options.server_name), "hook"
        )
        await _keep_in_mind(services, payload, namespace, options.server_name)
    elif event == "Stop":
        await _record(services, event, payload, capture.reply_event(payload, namespace), "hook")
    elif event in ("PreCompact", "SessionEnd"):
        if event == "SessionEnd" and payload.session_id:
            with _as_hook(event, payload, "hook"):
                await services.working.close(namespace, payload.session_id)
        await _close(payload, namespace, services, event)
    else:
        log.info("hook %s: not an event Athena answers; nothing done", event)
    return None


@contextlib.contextmanager
def _as_hook(event: str, payload: HookInput, origin: Origin) -> Iterator[None]:
    token = acting_as(
        Caller(
            transport="cli", client=CLIENT, session=payload.session_id, tool=f"hook {event}", origin=origin
        )
    )
    try:
        yield
    finally:
        reset_caller(token)


async def _record(
    services: Services, event: str, payload: HookInput, memory: NewMemory | None, origin: Origin
) -> None:
    if memory is None:
        return
    with _as_hook(event, payload, origin):
        async with services.database.transaction() as tx:
            ids = await memories.insert_memories(tx, [memory])
            # Embedded by the vector backlog worker: a hook answers before the model would.
            await vectors.queue_for_embedding(tx, ids)


async def _keep_in_mind(services: Services, payload: HookInput, namespace: str, server: str) -> None:
    """What the agent's own calls to this server recalled, cited or changed enters its session's
    working memory (in the namespace the call named)."""
    touched = capture.own_tool_touches(payload, server)
    if not touched or not payload.session_id:
        return
    inputs = payload.tool_input if isinstance(payload.tool_input, dict) else {}
    named = inputs.get("namespace")
    with _as_hook("PostToolUse", payload, "hook"):
        await services.working.touch(
            named if isinstance(named, str) else namespace, payload.session_id, touched
        )


async def _session_start(
    payload: HookInput, options: HookOptions, services: Services
) -> dict[str, Any] | None:
    # A resumed or compacted session's own events are what it lost from its context: show them too.
    own = payload.session_id if payload.source in (None, "startup", "clear") else None
    with _as_hook("SessionStart", payload, "hook"):
        briefing = await services.briefing.brief(
            BriefingRequest(
                namespaces=(options.namespace,), session_id=own, max_tokens=options.briefing_tokens
            )
        )
    if not briefing.sections:
        return None
    return context_output("SessionStart", f"{briefing.text}\n{SESSION_HEADER_NOTE}")


async def _prompt(payload: HookInput, options: HookOptions, services: Services) -> dict[str, Any] | None:
    prompt = (payload.prompt or "").strip()
    if not prompt:
        return None
    memory_filter = MemoryFilter(namespaces=(options.namespace,))
    lines: list[str] = []
    with _as_hook("UserPromptSubmit", payload, "user"):
        if await services.search.relevance_ceiling(prompt, memory_filter) >= options.min_score:
            # The services opened checked the store's vectors are this model's (open_services).
            services.embeddings.start_loading()
            lift = (
                await services.working.bias(options.namespace, payload.session_id)
                if payload.session_id
                else {}
            )
            found = await services.search.search(
                SearchRequest(prompt, memory_filter, limit=PROMPT_HITS, lift=lift)
            )
            # One line per text (a command run five times is one memory to the reader), best first.
            by_text = {
                hit.content: hit
                for hit in reversed(found.results)
                if hit.score >= options.min_score and hit.session_id != payload.session_id
            }
            shown = _fitted(list(reversed(by_text.values())), options.prompt_tokens)
            lines = [_prompt_line(hit) for hit in shown]
            if payload.session_id and shown:
                recalled: dict[int, Touch] = {hit.id: "recalled" for hit in shown}
                await services.working.touch(options.namespace, payload.session_id, recalled)
    # Recorded after the search, so that the prompt does not find itself.
    await _record(
        services, "UserPromptSubmit", payload, capture.prompt_event(payload, options.namespace), "user"
    )
    return context_output("UserPromptSubmit", "\n".join([PROMPT_HEADER, *lines])) if lines else None


def _prompt_line(hit: RecallHit) -> str:
    return f"- {memory_line(hit)} ({hit.score:.2f})"


def _fitted(hits: list[RecallHit], budget: int) -> list[RecallHit]:
    """The first hits whose lines, with the header, fit the budget."""
    spent = count_tokens(PROMPT_HEADER)
    kept = []
    for hit in hits:
        cost = count_tokens(_prompt_line(hit))
        if spent + cost > budget:
            break
        spent += cost
        kept.append(hit)
    return kept


async def _close(payload: HookInput, namespace: str, services: Services, event: str) -> None:
    """Embed what waits for a vector, then consolidate the namespace's settled events now."""
    with _as_hook(event, payload, "hook"):
        if await services.embeddings.wait_ready():
            await services.vector_backlog.run_until_caught_up()
        report = await services.consolidation.run_once(
            trigger="request", namespace=namespace, settle_seconds=0
        )
    log.info("hook %s: consolidated %s: %s", event, namespace, report.model_dump(exclude_none=True))
