"""The official MCP Inspector CLI, a client we did not write, lists the default tools with their
annotations and runs a remember → recall round trip against a real `athena-mcp` process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.stdio_server import ATHENA_MCP
from tests.tools.test_tool_contract import TOOLSET_TOOLS

# Pinned: the newest release that runs on this project's Node (20); npx fetches it once from npm.
INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"
HINTS = {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}

pytestmark = [
    pytest.mark.slow,
    # One worker runs both: two first-time npx downloads of the Inspector at once could collide.
    pytest.mark.xdist_group("inspector"),
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node's npx to run the Inspector"),
]


def inspector(db: Path, *arguments: str) -> dict[str, Any]:
    """One Inspector CLI call against a fresh `athena-mcp` process on `db`, with the default toolsets."""
    done = subprocess.run(
        ["npx", "--yes", INSPECTOR, "--cli", ATHENA_MCP, "--db", str(db), "--toolsets", "core", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_the_inspector_lists_the_default_tools_with_annotations(tmp_path: Path) -> None:
    tools = inspector(tmp_path / "a.db", "--method", "tools/list")["tools"]
    assert {tool["name"] for tool in tools} == TOOLSET_TOOLS["core"]
    for tool in tools:
        assert set(tool["annotations"]) >= HINTS, tool["name"]
        assert tool["annotations"]["openWorldHint"] is False


def test_the_inspector_remembers_and_recalls(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    stored = inspector(
        db,
        "--method",
        "tools/call",
        "--tool-name",
        "remember",
        "--tool-arg",
        "content=The app is hosted on Fly.io",
    )
    recalled = inspector(
        db, "--method", "tools/call", "--tool-name", "recall", "--tool-arg", "query=where is the app hosted"
    )
    memory_id = stored["structuredContent"]["id"]
    assert not stored["isError"] and not recalled["isError"]
    assert [hit["id"] for hit in recalled["structuredContent"]["results"]] == [memory_id]
    assert f"[{memory_id}] fact " in recalled["content"][0]["text"]
    assert recalled["content"][0]["text"].endswith(': "The app is hosted on Fly.io"')
