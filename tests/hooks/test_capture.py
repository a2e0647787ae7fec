"""What a hook stores of a prompt, a tool call or a reply: compact, redacted, and only what happened."""

from __future__ import annotations

import pytest

from athena_mcp.hooks.capture import MAX_EVENT_CHARS, own_tool_touches, prompt_event, reply_event, tool_event
from athena_mcp.hooks.payload import HookInput

GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _tool(**fields: object) -> HookInput:
    return HookInput.model_validate({"session_id": "s1", "hook_event_name": "PostToolUse", **fields})


def test_a_failed_command_is_an_error_event_with_its_message() -> None:
    payload = _tool(
        hook_event_name="PostToolUseFailure",
        tool_name="Bash",
        tool_input={"command": "pytest -q"},
        error="ImportError: cannot import name Queue",
    )
    event = tool_event(payload, "acme/widget", "athena")
    assert event is not None
    assert (event.kind, event.outcome, event.namespace, event.session_id) == (
        "error",
        "failure",
        "acme/widget",
        "s1",
    )
    assert event.content == "Bash failed: pytest -q\nImportError: cannot import name Queue"


@pytest.mark.parametrize(
    "secret",
    [
        GITHUB_TOKEN,
        "export DB_PASSWORD=hunter2hunter2",
        "Authorization: Bearer abcdefghijklmnopqrstuvwx123456",
        "postgres://app:s3cretpass@db.internal/app",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_secrets_in_inputs_and_outputs_are_redacted_before_anything_is_stored(secret: str) -> None:
    payload = _tool(
        tool_name="Bash",
        tool_input={"command": f"deploy --with '{secret}'"},
        tool_response={"stdout": secret},
    )
    failed = _tool(
        hook_event_name="PostToolUseFailure", tool_name="Bash", tool_input={"command": "x"}, error=secret
    )
    for event in (tool_event(payload, "p", "athena"), tool_event(failed, "p", "athena")):
        assert event is not None and "[redacted:" in event.content
        for piece in ("a1B2c3D4e5", "hunter2hunter2", "abcdefghijklmnop", "s3cretpass", "MIIEowIBAAKCAQEA"):
            assert piece not in event.content


def test_a_secret_at_the_clip_is_redacted_whole_not_cut_in_half() -> None:
    long_output = "x" * (MAX_EVENT_CHARS - 30) + " " + GITHUB_TOKEN
    event = tool_event(
        _tool(hook_event_name="PostToolUseFailure", tool_name="Bash", error=long_output), "p", "athena"
    )
    assert event is not None and len(event.content) <= MAX_EVENT_CHARS
    assert "ghp_" not in event.content and "a1B2" not in event.content


def test_reads_and_this_servers_own_tools_are_left_out_unless_a_read_fails() -> None:
    assert tool_event(_tool(tool_name="Read", tool_input={"file_path": "a.py"}), "p", "athena") is None
    assert (
        tool_event(_tool(tool_name="mcp__athena__recall", tool_input={"query": "x"}), "p", "athena") is None
    )
    failed = tool_event(
        _tool(hook_event_name="PostToolUseFailure", tool_name="Read", tool_input={"file_path": "a.py"}),
        "p",
        "athena",
    )
    assert failed is not None and failed.kind == "error"


def test_an_edit_is_an_action_naming_its_file() -> None:
    event = tool_event(
        _tool(tool_name="Edit", tool_input={"file_path": "src/app.py", "old_string": "a"}), "p", "athena"
    )
    assert event is not None and (event.kind, event.content) == ("action", "Edit edited: src/app.py")


def test_prompts_and_replies_that_state_a_choice_are_decisions() -> None:
    decided = prompt_event(HookInput(prompt="Let's use SQLite instead of Postgres for the cache"), "p")
    asked = prompt_event(HookInput(prompt="what does this function do?"), "p")
    replied = reply_event(HookInput(last_assistant_message="We decided to keep the retry loop."), "p")
    assert decided is not None and decided.kind == "decision"
    assert asked is not None and asked.kind == "message"
    assert replied is not None and replied.kind == "decision" and replied.content.startswith("Reply: ")
    assert prompt_event(HookInput(prompt="  "), "p") is None


def test_this_servers_own_calls_name_the_memories_they_touched() -> None:
    recall = _tool(
        tool_name="mcp__athena__recall",
        tool_input={"query": "deploys"},
        tool_response=[
            {"type": "text", "text": '[12] fact 2026-12-01 0.71: "x"\n[7] event:error 2026-12-02: "y"'}
        ],
    )
    update = _tool(
        tool_name="mcp__athena__update", tool_input={"id": 12, "content": "z"}, tool_response={"id": 12}
    )
    structured = _tool(
        tool_name="mcp__athena__recall", tool_response={"structuredContent": {"results": [{"id": 3}]}}
    )
    assert own_tool_touches(recall, "athena") == {12: "recalled", 7: "recalled"}
    assert own_tool_touches(update, "athena") == {12: "changed"}
    assert own_tool_touches(structured, "athena") == {3: "recalled"}
    assert own_tool_touches(_tool(tool_name="Edit", tool_input={"id": 4}), "athena") == {}
    assert own_tool_touches(_tool(tool_name="mcp__athena__forget", tool_input={"id": 4}), "athena") == {}


@pytest.mark.parametrize(
    "command",
    [
        "PGPASSWORD=hunter2x psql -h db",
        "MYSQL_PWD=S3cretpw mysql app",
        "mysql -u root -pS3cretpw app",
        "sshpass -p S3cretpw ssh deploy@host",
        "docker login -u me -p S3cretpw registry.example.com",
        "app --password=S3cretpw run",
    ],
)
def test_passwords_on_command_lines_are_redacted(command: str) -> None:
    event = tool_event(_tool(tool_name="Bash", tool_input={"command": command}), "p", "athena")
    assert event is not None and "S3cretpw" not in event.content and "hunter2x" not in event.content


def test_a_server_added_under_another_name_is_known_by_that_name() -> None:
    recall = _tool(tool_name="mcp__memory__recall", tool_input={"query": "x"}, tool_response={"id": 5})
    assert tool_event(recall, "p", "memory") is None and own_tool_touches(recall, "memory") == {5: "recalled"}
    # Under the default name the same call is another server's tool: an action of the agent.
    assert tool_event(recall, "p", "athena") is not None and own_tool_touches(recall, "athena") == {}
