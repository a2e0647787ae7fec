"""The JSON an editor sends a hook on stdin (Claude Code's shape; fields an event lacks stay empty)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# The events `athena-mcp hook EVENT` answers, as the editor names them.
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "PreCompact",
    "SessionEnd",
)


class HookInput(BaseModel):
    # Editors add fields over time; a hook must keep working when they do.
    model_config = ConfigDict(extra="ignore")

    session_id: str | None = None
    transcript_path: str | None = None
    cwd: str | None = None
    hook_event_name: str | None = None
    source: str | None = None  # SessionStart: startup, resume, clear, compact
    prompt: str | None = None  # UserPromptSubmit
    tool_name: str | None = None
    tool_input: Any = None
    tool_response: Any = None
    error: str | None = None  # PostToolUseFailure
    last_assistant_message: str | None = None  # Stop
    reason: str | None = None  # SessionEnd
    trigger: str | None = None  # PreCompact: manual, auto


def context_output(event: str, text: str) -> dict[str, Any]:
    """The answer that adds `text` to the model's context (SessionStart, UserPromptSubmit)."""
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}
