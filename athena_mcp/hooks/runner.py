"""Running one hook as the editor does: JSON on stdin, the answer on stdout, and never a failure.

The running server answers when one listens for the database (channel.py); otherwise the hook opens
the store and answers itself. Only the standard library is imported before that choice is made.

An editor shows a hook's failure to the user, and may block the prompt or the tool call it ran for.
A memory that could not be read or written is not worth that: every failure (bad input, a locked or
damaged database, a missing model, a bug) is logged to the hook log with its trace, and the hook
exits 0 having printed nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from athena_mcp.settings import Settings

log = logging.getLogger("athena_mcp.hooks")
LOG_BYTES = 1_000_000
LOG_BACKUPS = 2
# How long a hook waits for the running server: closing events consolidate, the rest answer at once.
SECONDS = 10.0
CLOSING_SECONDS = 110.0
CLOSING_EVENTS = ("PreCompact", "SessionEnd")


def run_hook(
    event: str, stdin: TextIO, stdout: TextIO, flags: dict[str, object], env: dict[str, str]
) -> None:
    """Answer one editor event; returns normally whatever happens (see the module docstring)."""
    from athena_mcp.settings import Settings, default_hook_log, env_var

    try:
        settings = Settings.load(flags, env)
        _log_to(Path(settings.hook_log).expanduser())
    except Exception:
        # The log named, even when another setting is what is wrong.
        named = flags.get("hook_log") or env.get(env_var("hook_log")) or default_hook_log()
        _log_to(Path(str(named)).expanduser())
        log.exception("hook %s: settings refused; nothing done", event)
        return
    try:
        answer = _answer(event, stdin.read(), settings)
        if answer is not None:
            stdout.write(json.dumps(answer, ensure_ascii=False))
            stdout.flush()
    except BaseException:  # even an interrupt: the editor must see nothing
        log.exception("hook %s failed; the editor was told nothing", event)


def _answer(event: str, text: str, settings: Settings) -> dict[str, Any] | None:
    """From the running server when one listens for this database, else worked out here."""
    from athena_mcp.hooks import channel
    from athena_mcp.hooks.project import namespace_for

    payload = json.loads(text or "{}")
    if not isinstance(payload, dict):
        raise ValueError("the hook's input is not a JSON object")
    cwd = payload.get("cwd")
    namespace = namespace_for(cwd if isinstance(cwd, str) else None, settings.hook_namespace)
    if settings.namespaces and namespace not in settings.namespaces:
        log.info("hook %s: namespace %r is outside --namespaces; nothing done", event, namespace)
        return None
    options = {
        "namespace": namespace,
        "min_score": settings.hook_min_score,
        "prompt_tokens": settings.hook_prompt_tokens,
        "briefing_tokens": settings.hook_briefing_tokens,
        "server_name": settings.hook_server_name,
    }
    timeout = CLOSING_SECONDS if event in CLOSING_EVENTS else SECONDS
    reply = channel.ask(settings.db, {"event": event, "payload": payload, "options": options}, timeout)
    if reply is None:
        log.info("hook %s: no server listens for %s; answering here", event, settings.db)
        return asyncio.run(_here(event, payload, options, settings))
    log.info("hook %s: answered by the running server", event)
    if "error" in reply:
        log.warning("hook %s: the server could not answer: %s", event, reply["error"])
        return None
    answer = reply.get("answer")
    return answer if isinstance(answer, dict) else None


async def _here(
    event: str, payload: dict[str, Any], options: dict[str, Any], settings: Settings
) -> dict[str, Any] | None:
    from athena_mcp.hooks.handlers import HookOptions, handle
    from athena_mcp.hooks.payload import HookInput
    from athena_mcp.services import open_services

    async with open_services(settings, background=False) as services:
        return await handle(
            event, HookInput.model_validate(payload), HookOptions.model_validate(options), services
        )


def _log_to(path: Path) -> None:
    """Hook logs go to a file (rotated), never to the editor's stderr."""
    root = logging.getLogger("athena_mcp")
    root.setLevel(logging.INFO)
    root.propagate = False
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
