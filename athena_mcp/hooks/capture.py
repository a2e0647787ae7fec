"""What a hook records: a compact, redacted event for a prompt, a tool call or a reply.

Secrets are redacted from the whole text before it is clipped, so a cut never leaves part of a
secret behind; nothing of a tool's input or output is stored beyond the event's own text and a
few named fields. Reads (Read, Grep, Glob, ...) are left out unless they fail: they say what the
agent looked at, not what happened. The agent's own calls to this memory server are left out too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from athena_mcp.governance import redact
from athena_mcp.hooks.payload import HookInput
from athena_mcp.memory.working import Touch
from athena_mcp.store.memories import NewMemory

MAX_EVENT_CHARS = 600
MAX_DETAIL_CHARS = 300
READS = frozenset({"Read", "Glob", "Grep", "LS", "WebSearch", "WebFetch", "TodoWrite", "NotebookRead"})
EDITS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
# Tools of a memory server such as this one, as Claude Code names MCP tools: mcp__<server>__<tool>:
# the server's configured name (--hook-server-name), or any name starting with athena.
OWN_TOOLS = re.compile(r"^mcp__athena[^_]*__")


def own_tool(tool: str, server: str) -> str | None:
    """The tool's own name when it is one of this server's (`recall` of mcp__athena__recall)."""
    prefix = f"mcp__{server}__"
    if tool.startswith(prefix):
        return tool[len(prefix) :]
    match = OWN_TOOLS.match(tool)
    return tool[match.end() :] if match else None


_DECISION = re.compile(
    r"\b(?:decided|decision|chose|chosen|going with|go with|instead of|from now on|switch(?:ed)? to|"
    r"(?:let'?s|we'?ll|we will|i'?ll|i will) (?:use|adopt|keep|drop|stick with|move to))\b",
    re.IGNORECASE,
)


def prompt_event(payload: HookInput, namespace: str) -> NewMemory | None:
    """What the user asked, as a message event (a decision when it states one)."""
    return _said(payload, namespace, payload.prompt, "Prompt", "user prompt", 0.5)


def reply_event(payload: HookInput, namespace: str) -> NewMemory | None:
    """How the assistant ended its turn, as a message event (a decision when it states one)."""
    return _said(payload, namespace, payload.last_assistant_message, "Reply", "assistant reply", 0.4)


def _said(
    payload: HookInput, namespace: str, said: str | None, label: str, source: str, importance: float
) -> NewMemory | None:
    text = (said or "").strip()
    if not text:
        return None
    decided = bool(_DECISION.search(text))
    kind = "decision" if decided else "message"
    return _event(namespace, payload, kind, f"{label}: {text}", source, 0.6 if decided else importance)


# This server's tools, by what a call does to the memories it names (memory/working.py). A briefing
# shows dozens of memories: none of them is in mind for being shown there.
TOUCHES: dict[str, Touch] = {
    "recall": "recalled",
    "recall_events": "recalled",
    "get": "cited",
    "rate_memory": "cited",
    "remember": "changed",
    "update": "changed",
}
# A memory's id as this server's answers show it: `[12]` opening a line, `stored [12]`, `memory 12`.
_SHOWN_ID = re.compile(r"(?:^|\n|stored |duplicate of |- )\[(\d+)\]|\bmemory (\d+)\b")


def own_tool_touches(payload: HookInput, server: str) -> dict[int, Touch]:
    """The memories one of this server's tools recalled, cited or changed, for the session's working
    memory; empty for any other tool."""
    name = own_tool(payload.tool_name or "", server)
    touch = None if name is None else TOUCHES.get(name)
    if touch is None:
        return {}
    ids: set[int] = set()
    inputs = payload.tool_input if isinstance(payload.tool_input, dict) else {}
    for key in ("id", "memory_id"):
        if isinstance(inputs.get(key), int):
            ids.add(inputs[key])
    ids |= _answer_ids(payload.tool_response)
    return {memory_id: touch for memory_id in ids}


def _answer_ids(response: Any) -> set[int]:
    """Memory ids in an answer, structured (`results`, `id`) or as its text shows them."""
    if isinstance(response, dict):
        structured = response.get("structuredContent", response)
        found = {
            h["id"]
            for h in structured.get("results", ())
            if isinstance(h, dict) and isinstance(h.get("id"), int)
        }
        if isinstance(structured.get("id"), int):
            found.add(structured["id"])
        return found | _answer_ids(response.get("content")) | _answer_ids(response.get("text"))
    if isinstance(response, list):
        return set().union(*(_answer_ids(block) for block in response)) if response else set()
    text = response if isinstance(response, str) else ""
    return {int(a or b) for a, b in _SHOWN_ID.findall(text)}


def tool_event(payload: HookInput, namespace: str, server: str) -> NewMemory | None:
    """What a tool call did and how it ended; None for reads that succeeded and this server's tools."""
    tool = payload.tool_name or "tool"
    failed = payload.hook_event_name == "PostToolUseFailure" or _reports_failure(payload.tool_response)
    if own_tool(tool, server) is not None or (tool in READS and not failed):
        return None
    inputs = payload.tool_input if isinstance(payload.tool_input, dict) else {}
    target = _target(tool, inputs)
    if failed:
        detail = payload.error or _output(payload.tool_response)
        text = f"{tool} failed: {target}" + (f"\n{_clip(redact(detail), MAX_DETAIL_CHARS)}" if detail else "")
        return _event(namespace, payload, "error", text, f"tool {tool}", 0.7, outcome="failure", tool=tool)
    verb = "edited" if tool in EDITS else "ran"
    return _event(
        namespace,
        payload,
        "action",
        f"{tool} {verb}: {target}",
        f"tool {tool}",
        0.4 if tool in EDITS else 0.3,
        outcome="success",
        tool=tool,
    )


def _target(tool: str, inputs: dict[str, Any]) -> str:
    """The one thing a tool call acted on: the command, the file, the pattern."""
    for key in ("command", "file_path", "notebook_path", "path", "url", "pattern", "query", "description"):
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return json.dumps(inputs, ensure_ascii=False, default=str) if inputs else tool


def _reports_failure(response: Any) -> bool:
    if not isinstance(response, dict):
        return False
    return (
        response.get("is_error") is True
        or response.get("success") is False
        or response.get("interrupted") is True
    )


def _output(response: Any) -> str:
    if isinstance(response, dict):
        parts = [response.get(key) for key in ("error", "stderr", "stdout")]
        return "\n".join(part for part in parts if isinstance(part, str) and part.strip())
    return response if isinstance(response, str) else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _event(
    namespace: str,
    payload: HookInput,
    kind: str,
    text: str,
    source: str,
    importance: float,
    *,
    outcome: str | None = None,
    tool: str | None = None,
) -> NewMemory:
    return NewMemory(
        system="episodic",
        namespace=namespace,
        kind=kind,
        # Redacted whole, then clipped: a cut must not leave the start of a secret behind.
        content=_clip(redact(text), MAX_EVENT_CHARS),
        tags=("hook",),
        importance=importance,
        source=source,
        session_id=payload.session_id,
        outcome=outcome,
        context={"tool": tool} if tool else None,
    )
