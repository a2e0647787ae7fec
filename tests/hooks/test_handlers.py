"""The hooks' handlers in-process: what the agent's own calls put in mind, and what a session leaves
behind when it ends."""

from __future__ import annotations

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.hooks.handlers import HookOptions, handle
from athena_mcp.hooks.payload import HookInput
from athena_mcp.memory.semantic import FactDraft
from athena_mcp.settings import Settings
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import timeline_page
from tests.conftest import services_for

pytestmark = pytest.mark.timeout(120)
OPTIONS = HookOptions(namespace="acme/widget", min_score=0.5, prompt_tokens=500, briefing_tokens=1500)


def _fact(content: str) -> FactDraft:
    return FactDraft(
        content=content,
        kind="fact",
        namespace="acme/widget",
        tags=(),
        importance=0.5,
        source=None,
        occurred_at=None,
    )


async def test_what_the_agent_recalls_stays_in_mind_and_is_recorded_when_the_session_ends(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        stored = await services.semantic.remember(_fact("Staging deploys need the VPN"))
        recall = HookInput(
            session_id="s1",
            hook_event_name="PostToolUse",
            tool_name="mcp__athena__recall",
            tool_input={"query": "staging", "namespace": "acme/widget"},
            tool_response=[{"type": "text", "text": f'[{stored.id}] fact: "Staging deploys need the VPN"'}],
        )
        assert await handle("PostToolUse", recall, OPTIONS, services) is None
        held = await services.working.view("acme/widget", "s1")
        assert [item.id for item in held.items] == [stored.id]
        # The call itself is not recorded as an event: it is the agent's use of memory, not work.
        events = MemoryFilter(namespaces=("acme/widget",), systems=("episodic",))
        assert await timeline_page(services.database, events, None, 10) == []
        await handle(
            "SessionEnd", HookInput(session_id="s1", hook_event_name="SessionEnd"), OPTIONS, services
        )
        [closing] = await timeline_page(services.database, events, None, 10)
        assert closing.session_id == "s1" and "Staging deploys need the VPN" in closing.content
        assert (await services.working.view("acme/widget", "s1")).items == []


async def test_a_prompt_that_finds_a_memory_puts_it_in_mind(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with services_for(settings, minilm) as services:
        stored = await services.semantic.remember(_fact("The staging database password rotates every Monday"))
        prompt = HookInput(
            session_id="s2",
            hook_event_name="UserPromptSubmit",
            prompt="when does the staging database password rotate?",
        )
        answer = await handle("UserPromptSubmit", prompt, OPTIONS, services)
        assert answer is not None and f"[{stored.id}]" in answer["hookSpecificOutput"]["additionalContext"]
        assert [item.id for item in (await services.working.view("acme/widget", "s2")).items] == [stored.id]
