"""The hooks as the editor runs them: the installed console script, a payload on stdin, one process
per event, with and without a server listening on the database."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.stdio_server import ATHENA_MCP, StdioServer

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

SECRET = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"


class Editor:
    """Runs `athena-mcp hook EVENT` the way Claude Code does, for one project folder."""

    def __init__(self, tmp_path: Path, runtime: Path) -> None:
        self.project = tmp_path / "widget"
        (self.project / ".git").mkdir(parents=True)
        (self.project / ".git" / "config").write_text(
            '[remote "origin"]\n\turl = git@github.com:acme/widget.git\n'
        )
        self.db = tmp_path / "memory.db"
        self.log = tmp_path / "hooks.log"
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ATHENA_DB": str(self.db),
            "ATHENA_HOOK_LOG": str(self.log),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }

    def hook(self, event: str, session: str, **fields: Any) -> dict[str, Any] | None:
        payload = {"session_id": session, "cwd": str(self.project), "hook_event_name": event, **fields}
        done = subprocess.run(
            [ATHENA_MCP, "hook", event],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            env=self.env,
            timeout=200,
            check=False,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return json.loads(done.stdout) if done.stdout else None

    def context(self, answer: dict[str, Any] | None) -> str:
        assert answer is not None
        return str(answer["hookSpecificOutput"]["additionalContext"])

    def stored_bytes(self) -> bytes:
        return b"".join(path.read_bytes() for path in self.db.parent.glob("memory.db*"))


def _first_session(editor: Editor) -> None:
    """Session 1, captured by hooks alone: the agent calls no memory tool."""
    editor.hook("SessionStart", "s1", source="startup")
    editor.hook("UserPromptSubmit", "s1", prompt="Let's use SQLite instead of Postgres for the job queue")
    editor.hook(
        "PostToolUseFailure",
        "s1",
        tool_name="Bash",
        tool_input={"command": "pytest -q tests/test_queue.py"},
        error=f"ImportError: cannot import name Queue from jobs\nGITHUB_TOKEN={SECRET}",
    )
    editor.hook(
        "PostToolUse",
        "s1",
        tool_name="Bash",
        tool_input={"command": f"echo {SECRET}"},
        tool_response={"stdout": SECRET, "stderr": ""},
    )
    editor.hook("PostToolUse", "s1", tool_name="Edit", tool_input={"file_path": "jobs/queue.py"})
    editor.hook(
        "Stop", "s1", last_assistant_message="The Queue class had moved to jobs.queue; fixed the import."
    )
    editor.hook("SessionEnd", "s1", reason="exit")


def _second_session_is_briefed(editor: Editor) -> None:
    briefing = editor.context(editor.hook("SessionStart", "s2", source="startup"))
    assert "acme/widget" in briefing
    assert "SQLite instead of Postgres" in briefing  # the decision
    assert "ImportError: cannot import name Queue" in briefing  # the error
    # A prompt on the error brings it back; a prompt on nothing stored adds nothing.
    found = editor.context(
        editor.hook("UserPromptSubmit", "s2", prompt="why did pytest fail to import Queue?")
    )
    assert "cannot import name Queue" in found
    assert editor.hook("UserPromptSubmit", "s2", prompt="rename the CSS classes of the footer") is None
    assert SECRET.encode() not in editor.stored_bytes()
    assert SECRET not in editor.log.read_text()


def _runtime() -> Path:
    """A runtime folder as short as a real one (/run/user/UID): pytest's are too deep for a socket."""
    return Path(tempfile.mkdtemp(prefix="athena-run-"))


def test_hooks_alone_carry_a_decision_and_an_error_into_the_next_session(tmp_path: Path) -> None:
    editor = Editor(tmp_path, _runtime())
    _first_session(editor)
    _second_session_is_briefed(editor)
    assert "answered by the running server" not in editor.log.read_text()


async def test_a_running_server_answers_the_hooks_of_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = Editor(tmp_path, _runtime())
    monkeypatch.setenv("XDG_RUNTIME_DIR", editor.env["XDG_RUNTIME_DIR"])
    monkeypatch.setenv("XDG_CACHE_HOME", editor.env["XDG_CACHE_HOME"])
    server = await StdioServer(editor.db).start()
    try:
        _first_session(editor)
        _second_session_is_briefed(editor)
        # The events the hooks recorded are the server's memory too.
        found = await server.call_tool("recall", {"query": "SQLite job queue", "namespace": "acme/widget"})
        assert any("SQLite" in hit["content"] for hit in found["results"])
    finally:
        await server.kill()
    log = editor.log.read_text()
    assert "answered by the running server" in log and "answering here" not in log


@pytest.mark.parametrize("stdin", ["not json", "[1, 2]", ""])
def test_a_hook_never_fails_the_editor(tmp_path: Path, stdin: str) -> None:
    editor = Editor(tmp_path, tmp_path / "run")
    done = subprocess.run(
        [ATHENA_MCP, "hook", "UserPromptSubmit"],
        input=stdin,
        capture_output=True,
        text=True,
        env={**editor.env, "ATHENA_HOOK_MIN_SCORE": "2"} if stdin == "" else editor.env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert "Traceback" in editor.log.read_text()


def test_an_unwritable_database_is_logged_not_shown(tmp_path: Path) -> None:
    editor = Editor(tmp_path, tmp_path / "run")
    editor.env["ATHENA_DB"] = str(tmp_path / "no-such-folder" / "x" / "memory.db")
    (tmp_path / "no-such-folder").write_text("a file where a folder should be")
    assert editor.hook("PostToolUse", "s1", tool_name="Edit", tool_input={"file_path": "a.py"}) is None
    assert "failed" in editor.log.read_text()


def test_a_project_outside_the_servers_namespaces_is_left_alone(tmp_path: Path) -> None:
    editor = Editor(tmp_path, _runtime())
    editor.env["ATHENA_NAMESPACES"] = "work"
    assert editor.hook("PostToolUse", "s1", tool_name="Edit", tool_input={"file_path": "a.py"}) is None
    assert "outside --namespaces" in editor.log.read_text()
    assert not editor.db.exists() or b"Edit edited" not in editor.stored_bytes()
