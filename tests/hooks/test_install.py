"""install-hooks merges into the editor's settings and --uninstall takes out exactly its own entries."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from athena_mcp.errors import AthenaError
from athena_mcp.hooks.install import ENTRIES, install, uninstall

THEIRS = {
    "model": "opus",
    "hooks": {
        "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "prettier --write"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
    },
}


def _settings(tmp_path: Path) -> Path:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(THEIRS))
    return path


def test_install_adds_every_event_and_keeps_what_was_there(tmp_path: Path) -> None:
    path = _settings(tmp_path)
    install(path, tmp_path / "memory.db")
    settings = json.loads(path.read_text())
    assert settings["model"] == "opus"
    assert set(settings["hooks"]) == {event for event, _, _ in ENTRIES}
    post = settings["hooks"]["PostToolUse"]
    assert post[0] == THEIRS["hooks"]["PostToolUse"][0]
    ours = post[1]["hooks"][0]
    assert (
        ours["command"].endswith(f"--db {tmp_path / 'memory.db'} hook PostToolUse") and ours["async"] is True
    )
    assert json.loads(path.with_name("settings.json.bak").read_text()) == THEIRS


def test_installing_twice_replaces_rather_than_duplicates(tmp_path: Path) -> None:
    path = _settings(tmp_path)
    install(path, None)
    once = json.loads(path.read_text())
    install(path, None)
    assert json.loads(path.read_text()) == once


def test_uninstall_removes_exactly_its_own_entries(tmp_path: Path) -> None:
    path = _settings(tmp_path)
    install(path, None)
    assert uninstall(path) == len(ENTRIES)
    assert json.loads(path.read_text()) == THEIRS
    assert uninstall(path) == 0


def test_a_settings_file_that_is_not_json_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json")
    with pytest.raises(AthenaError, match="not valid JSON"):
        install(path, None)
    assert path.read_text() == "{ not json"


def test_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / ".claude" / "settings.json"
    install(path, None)
    assert "SessionStart" in json.loads(path.read_text())["hooks"]


def test_a_linked_settings_file_stays_linked_and_keeps_its_permissions(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "claude-settings.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text(json.dumps({"theme": "dark"}), encoding="utf-8")
    dotfiles.chmod(0o600)
    link = tmp_path / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(dotfiles)
    install(link, None)
    assert link.is_symlink() and link.resolve() == dotfiles
    written = json.loads(dotfiles.read_text(encoding="utf-8"))
    assert written["theme"] == "dark" and set(written["hooks"]) == {event for event, *_ in ENTRIES}
    assert stat.S_IMODE(dotfiles.stat().st_mode) == 0o600
    backup = dotfiles.with_name("claude-settings.json.bak")
    assert json.loads(backup.read_text(encoding="utf-8")) == {"theme": "dark"}
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_a_server_name_given_to_install_is_in_every_command(tmp_path: Path) -> None:
    path = _settings(tmp_path)
    install(path, None, "memory")
    commands = [
        hook["command"]
        for event, *_ in ENTRIES
        for group in json.loads(path.read_text())["hooks"][event]
        for hook in group["hooks"]
        if " hook " in hook["command"]
    ]
    assert len(commands) == len(ENTRIES) and all("--hook-server-name memory hook" in c for c in commands)
