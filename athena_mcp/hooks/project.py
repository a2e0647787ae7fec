"""Which namespace a project's hooks use, derived from where the editor runs them.

In order: the `hook_namespace` setting; the repository's `origin` remote as `owner/repo` (so two
clones of one project share their memory, and two projects with the same folder name do not); the
repository's folder name; the working directory's folder name. Git's files are read directly, not
through a `git` process: a hook runs on every prompt and tool call.
"""

from __future__ import annotations

import configparser
import hashlib
import re
from pathlib import Path

from athena_mcp.settings import NAME_PATTERN

DEFAULT = "default"
MAX_CHARS = 128
# The path after the host: `git@host:owner/repo.git`, `https://host/group/sub/repo`, and Azure
# DevOps' `https://dev.azure.com/org/project/_git/repo` (its `_git` step dropped).
_REMOTE = re.compile(r"^(?:[a-z+]+://(?:[^@/]+@)?[^/]+/|[^@/]+@[^:/]+:)(.+?)(?:\.git)?/*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@-]+")


def namespace_for(cwd: str | None, configured: str = "") -> str:
    """The namespace for a project whose working directory is `cwd`."""
    if configured:
        return configured
    if not cwd:
        return DEFAULT
    folder = Path(cwd)
    root = _repository_root(folder)
    if root is not None:
        remote = _origin(root)
        if remote is not None:
            return _safe(remote)
        return _safe(root.name)
    return _safe(folder.name)


def _repository_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_dir(root: Path) -> Path | None:
    """The repository's git folder; a worktree's or submodule's `.git` file points to it."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    found = target if target.is_absolute() else (root / target).resolve()
    # A worktree's git folder keeps its shared config in the main repository's: commondir says where.
    common = found / "commondir"
    if common.exists():
        found = (found / common.read_text(encoding="utf-8").strip()).resolve()
    return found


def _origin(root: Path) -> str | None:
    """`owner/repo` of the repository's origin remote, lower-cased, or None."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    config = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        config.read(git_dir / "config", encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    url = config.get('remote "origin"', "url", fallback=None)
    match = None if url is None else _REMOTE.match(url.strip())
    return None if match is None else match.group(1).replace("/_git/", "/").lower()


def _safe(name: str) -> str:
    """A valid namespace name from a folder or remote name. A name with nothing usable left (only
    non-ASCII letters, say) gets one made from its hash: never the shared `default`, which would put
    unrelated projects, and the user's own default namespace, in one memory."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    cleaned = _UNSAFE.sub("-", name).strip("-._")[: MAX_CHARS - 9]
    if not cleaned or not re.fullmatch(NAME_PATTERN, cleaned):
        return f"project-{digest}"
    # Letters the pattern cannot hold were dropped: the hash keeps "über" and "aber" apart.
    return cleaned if name.isascii() else f"{cleaned}-{digest}"
