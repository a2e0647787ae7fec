"""The `athena-mcp` command: serve (the default), the hooks and the maintenance commands; the
commands over the user's data are in data_commands.py."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from athena_mcp import __version__, data_commands, logs
from athena_mcp.errors import AthenaError, out_of_memory
from athena_mcp.settings import Settings, env_var, setting_fields
from athena_mcp.transports import memory_budget

if TYPE_CHECKING:
    from athena_mcp.embeddings.base import Embedder

log = logging.getLogger("athena_mcp")


def parser() -> argparse.ArgumentParser:
    # Settings are accepted before or after the command: `athena-mcp reembed --db FILE` works too.
    settings_flags = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    defaults = Settings()
    for f in setting_fields():
        default = getattr(defaults, f.name)
        shown = (
            "unset"
            if f.metadata["secret"] or default in ("", ())
            else (",".join(default) if isinstance(default, tuple) else default)
        )
        settings_flags.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            choices=f.metadata["choices"],
            help=f"{f.metadata['help']} (env {env_var(f.name)}; default {shown})",
        )
    # No abbreviations: the root would read a command's own --namespace as --namespaces.
    root = argparse.ArgumentParser(
        prog="athena-mcp",
        description="Long-term memory for AI agents: an MCP server over one local SQLite file.",
        parents=[settings_flags],
        allow_abbrev=False,
    )
    root.add_argument("--version", action="version", version=f"athena-mcp {__version__}")
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", parents=[settings_flags], help="Run the MCP server (the default command).")
    commands.add_parser(
        "reembed",
        parents=[settings_flags],
        help="Recompute every vector with the configured "
        "embedder (after changing models); resumable if interrupted.",
    )
    commands.add_parser(
        "rebuild-graph-index",
        parents=[settings_flags],
        help="Rebuild the graph's search index from its tables.",
    )
    importer = commands.add_parser(
        "import-memory-json",
        parents=[settings_flags],
        help="Import the reference MCP memory server's memory file (memory.jsonl) into the graph; "
        "the whole file is checked first, and running it again adds only what is missing.",
    )
    importer.add_argument("file", type=Path, metavar="FILE", help="the reference server's memory file")
    importer.add_argument(
        "--namespace", default="default", help="graph namespace to import into (default 'default')"
    )
    token = commands.add_parser(
        "token",
        parents=[settings_flags],
        allow_abbrev=False,
        help="Manage the named HTTP tokens of --token-file, each bound to namespaces: add, list, remove.",
    )
    token_actions = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    add = token_actions.add_parser(
        "add",
        parents=[settings_flags],
        allow_abbrev=False,
        help="Make a token for NAME, print it once, and record its SHA-256 (the file is created 0600).",
    )
    add.add_argument("name", metavar="NAME", help="what it is for, e.g. laptop (the audit trail shows it)")
    add.add_argument(
        "--namespace",
        action="append",
        dest="token_namespaces",
        required=True,
        metavar="NAMESPACE",
        help="a namespace it may use; repeat for more, or '*' for every one",
    )
    add.add_argument("--read-only", action="store_true", help="it may read but never write")
    token_actions.add_parser("list", parents=[settings_flags], help="Tokens: name, scope and namespaces.")
    remove = token_actions.add_parser(
        "remove", parents=[settings_flags], help="Remove a token; a running server refuses it at once."
    )
    remove.add_argument("name", metavar="NAME")
    hook = commands.add_parser(
        "hook",
        parents=[settings_flags],
        help="Answer an editor hook (Claude Code's JSON on stdin): SessionStart briefs, UserPromptSubmit "
        "adds memories that clear --hook-min-score, PostToolUse(Failure) and Stop record events, "
        "PreCompact and SessionEnd consolidate. Always exits 0; failures go to --hook-log.",
    )
    hook.add_argument("event", metavar="EVENT", help="the editor's event name, e.g. SessionStart")
    installer = commands.add_parser(
        "install-hooks",
        parents=[settings_flags],
        help="Add Athena's hooks to Claude Code's settings (.claude/settings.json of --project, or "
        "~/.claude/settings.json with --scope user), keeping every other entry; --uninstall removes them.",
    )
    installer.add_argument("--scope", choices=("project", "user"), default="project")
    installer.add_argument(
        "--project", type=Path, default=Path.cwd(), help="the project folder (default: the current one)"
    )
    installer.add_argument("--uninstall", action="store_true", help="remove Athena's entries only")
    data_commands.add_parsers(commands, settings_flags)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "hook":
        from athena_mcp.hooks.runner import run_hook

        # Before the settings are read: a hook reports even a bad setting to its log, never the editor.
        run_hook(args.event, sys.stdin, sys.stdout, vars(args), dict(os.environ))
        return
    # Imported here, past the hook: a hook answered by the running server needs none of it.
    import asyncio

    try:
        settings = Settings.load(vars(args), os.environ)
    except ValueError as exc:
        sys.exit(f"athena-mcp: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    # The server's libraries are imported inside this try, not at the top of the module: out of
    # memory while importing them (about 270 MB of address space) is then one line too.
    try:
        if args.command == "reembed":
            from athena_mcp.maintenance import reembed

            asyncio.run(reembed(settings))
        elif args.command == "rebuild-graph-index":
            from athena_mcp.maintenance import rebuild_graph_index

            asyncio.run(rebuild_graph_index(settings))
        elif args.command == "import-memory-json":
            from athena_mcp.maintenance import import_memory_json

            asyncio.run(import_memory_json(settings, args.file, args.namespace))
        elif args.command == "install-hooks":
            install_hooks(settings, args)
        elif args.command == "token":
            manage_tokens(settings, args)
        elif getattr(args, "data_command", False):
            data_commands.run(settings, args)
        else:
            serve(settings)
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        message = fatal_message(exc)
        if message is None:
            raise
        if _early_load is not None and _early_load.is_alive():
            # The model is still loading in C++ (ONNX Runtime): the interpreter's shutdown would
            # abort the process under it (SIGABRT) instead of exiting with the message.
            print(message, file=sys.stderr, flush=True)
            os._exit(1)
        sys.exit(message)


# Loggers of libraries that log what passes through them below INFO (aiosqlite: each statement with
# its parameters; sse_starlette: each event it sends; mcp: each message) or, in mcp's tool and
# resource handler, refusals that quote the caller's data at INFO.
CONTENT_LOGGERS = {
    "aiosqlite": logging.INFO,
    "sse_starlette": logging.INFO,
    "mcp": logging.INFO,
    "mcp.server.mcpserver.server": logging.WARNING,
    "uvicorn": logging.INFO,
    "httpx": logging.INFO,
    "httpcore": logging.INFO,
}


# The thread loading the model while the server starts, if one does (see serve).
_early_load: threading.Thread | None = None


def _load_early(embedder: Embedder) -> None:
    with contextlib.suppress(Exception):
        embedder.load()


def configure_logging(level: str, log_format: str = "text") -> None:
    """Logs on stderr at `level` for athena_mcp, never below INFO for the libraries it uses, so that
    no level shows stored content (or tokens): the libraries' debug logs are not ours to vet."""
    logging.basicConfig(
        level=max(logging.INFO, logging.getLevelName(level)), handlers=[logs.handler(sys.stderr, log_format)]
    )
    logging.getLogger("athena_mcp").setLevel(level)
    for name, floor in CONTENT_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


def install_hooks(settings: Settings, args: argparse.Namespace) -> None:
    from athena_mcp.hooks import install

    path = install.settings_path(args.scope, args.project.resolve())
    # The hooks must use the server's database: name it in their command when it was chosen here.
    db = settings.db.resolve() if "db" in vars(args) or env_var("db") in os.environ else None
    if args.uninstall:
        removed = install.uninstall(path)
        print(f"athena-mcp: removed {removed} Athena hook entries from {path}", file=sys.stderr)
    else:
        named = "hook_server_name" in vars(args) or env_var("hook_server_name") in os.environ
        events = install.install(path, db, settings.hook_server_name if named else None)
        print(f"athena-mcp: hooks for {', '.join(events)} written to {path}", file=sys.stderr)


def manage_tokens(settings: Settings, args: argparse.Namespace) -> None:
    from athena_mcp.transports import tokens

    if not settings.token_file:
        raise AthenaError("token: say which file holds the tokens with --token-file (or ATHENA_TOKEN_FILE)")
    path = Path(settings.token_file).expanduser()
    if args.token_action == "add":
        scope: tokens.Scope = "read" if args.read_only else "write"
        print(tokens.add(path, args.name, args.token_namespaces, scope))
        print(
            f"athena-mcp: token {args.name!r} added to {path}; the line above is the token, shown only now: "
            "give it to the client (Authorization: Bearer TOKEN)",
            file=sys.stderr,
        )
    elif args.token_action == "list":
        for grant in tokens.read_grants(path):
            print(grant.describe())
    else:
        tokens.remove(path, args.name)
        print(f"athena-mcp: token {args.name!r} removed from {path}", file=sys.stderr)


OUT_OF_MEMORY = (
    "athena-mcp: out of memory: the process's memory limit (ulimit -v, a container's limit) is too "
    "small for the server; raise it"
)


def fatal_message(exc: BaseException) -> str | None:
    """The one line to exit with for an anticipated failure, or None for a bug (keep its traceback).

    Start-up failures arrive wrapped in the transport's task-group exception groups. Out of memory
    exits once with a message rather than a traceback, so a supervisor's log says what to change.
    """
    if isinstance(exc, AthenaError):
        return f"athena-mcp: {exc}"
    if out_of_memory(exc):
        return OUT_OF_MEMORY
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := fatal_message(inner)) is not None:
                return found
    return None


def serve(settings: Settings) -> None:
    import asyncio

    from athena_mcp import native_memory
    from athena_mcp.embeddings.factory import make_embedder

    native_memory.tune_for_server()

    # The model starts loading before the server's own imports, beside them: ONNX Runtime builds its
    # session in C++ without the GIL, so the first call that needs the model waits less. A failure
    # here is left to the embedding service, which loads again and reports it.
    embedder = make_embedder(settings)
    global _early_load
    _early_load = threading.Thread(
        target=_load_early, args=(embedder,), name="athena-embed-early", daemon=True
    )
    _early_load.start()

    from athena_mcp.server import build_server
    from athena_mcp.store.files import prepare
    from athena_mcp.transports.stdio import run_stdio

    # Checked before serving as well as when the store opens: over HTTP, uvicorn would report a
    # failed start-up with a traceback.
    prepare(settings.db)
    server = build_server(settings, embedder)
    memory_budget.require_room_to_serve()
    log.info("athena-mcp %s serving %s over %s", __version__, settings.db, settings.transport)
    if settings.transport == "http":
        from athena_mcp.transports.http import serve_http

        asyncio.run(serve_http(server, settings))
    else:
        asyncio.run(run_stdio(server))
