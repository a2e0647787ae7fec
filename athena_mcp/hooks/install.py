"""`athena-mcp install-hooks`: Athena's entries merged into Claude Code's settings file, and removed.

The file is the user's: entries of other tools and every other setting are kept as they are, a file
that is not valid JSON is refused rather than overwritten, the previous file is kept beside it
(`settings.json.bak`), and the new one is renamed into place so an interrupted write leaves the old
file whole. Athena's own entries are recognised by their command (`... athena-mcp hook EVENT` or
`... -m athena_mcp hook EVENT`), so installing again replaces them and `--uninstall` removes exactly
them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

from athena_mcp.errors import AthenaError

# (event, seconds the editor waits, whether it runs without blocking the agent).
ENTRIES: tuple[tuple[str, int, bool], ...] = (
    ("SessionStart", 15, False),
    ("UserPromptSubmit", 15, False),
    ("PostToolUse", 15, True),
    ("PostToolUseFailure", 15, True),
    ("Stop", 15, True),
    ("PreCompact", 120, False),
    ("SessionEnd", 120, False),
)
# Events whose entries take a tool matcher.
TOOL_EVENTS = frozenset({"PostToolUse", "PostToolUseFailure"})
_OURS = re.compile(r"(?:athena-mcp|-m athena_mcp)\b.*\shook\s+[A-Za-z]+\s*$")


def settings_path(scope: str, project: Path) -> Path:
    return (
        Path.home() / ".claude" / "settings.json"
        if scope == "user"
        else project / ".claude" / "settings.json"
    )


def hook_command(event: str, db: Path | None, server_name: str | None = None) -> str:
    """The command the editor runs: this installation's own console script (or interpreter), so the
    hooks work whatever the editor's PATH holds."""
    script = Path(sys.argv[0])
    base = (
        [str(script.resolve())]
        if script.name == "athena-mcp" and script.exists()
        else [sys.executable, "-m", "athena_mcp"]
    )
    extra = ["--db", str(db)] if db is not None else []
    extra += ["--hook-server-name", server_name] if server_name is not None else []
    return shlex.join([*base, *extra, "hook", event])


def install(path: Path, db: Path | None, server_name: str | None = None) -> list[str]:
    """Add (or replace) Athena's entries; the events installed."""
    settings = _read(path)
    hooks = settings.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise AthenaError(f"{path}: 'hooks' is not an object; fix the file by hand first")
    for event, timeout, background in ENTRIES:
        entry: dict[str, Any] = {
            "type": "command",
            "command": hook_command(event, db, server_name),
            "timeout": timeout,
        }
        if background:
            entry["async"] = True
        group: dict[str, Any] = {"hooks": [entry]}
        if event in TOOL_EVENTS:
            group = {"matcher": "*", **group}
        hooks[event] = [*_without_ours(hooks.get(event), path, event), group]
    _write(path, settings)
    return [event for event, _, _ in ENTRIES]


def uninstall(path: Path) -> int:
    """Remove Athena's entries only; how many were removed."""
    if not path.exists():
        return 0
    settings = _read(path)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return 0
    removed = 0
    for event in list(hooks):
        before = _count(hooks[event])
        kept = _without_ours(hooks[event], path, event)
        removed += before - _count(kept)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]
    if not hooks:
        del settings["hooks"]
    if removed:
        _write(path, settings)
    return removed


def _without_ours(groups: Any, path: Path, event: str) -> list[Any]:
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise AthenaError(f"{path}: hooks.{event} is not a list; fix the file by hand first")
    kept = []
    for group in groups:
        commands = group.get("hooks") if isinstance(group, dict) else None
        if not isinstance(commands, list):
            kept.append(group)
            continue
        others = [
            c for c in commands if not (isinstance(c, dict) and _OURS.search(str(c.get("command", ""))))
        ]
        if others:
            kept.append({**group, "hooks": others})
    return kept


def _count(groups: Any) -> int:
    if not isinstance(groups, list):
        return 0
    return sum(len(g["hooks"]) for g in groups if isinstance(g, dict) and isinstance(g.get("hooks"), list))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AthenaError(f"{path} is not valid JSON ({exc}); nothing was changed: fix it first") from None
    if not isinstance(settings, dict):
        raise AthenaError(f"{path} does not hold a JSON object; nothing was changed: fix it first")
    return settings


def _write(path: Path, settings: dict[str, Any]) -> None:
    """Write through a symbolic link (settings kept in a dotfiles folder stay there, linked), keeping
    the file's permissions; the previous content goes to `.bak` beside the file written."""
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    if mode is not None:
        backup = target.with_name(target.name + ".bak")
        backup.write_bytes(target.read_bytes())
        os.chmod(backup, mode)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, target)
