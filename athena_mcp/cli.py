"""The `athena-mcp` command: serve (the default) and maintenance commands."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from athena_mcp import __version__, logs
from athena_mcp.errors import AthenaError, out_of_memory
from athena_mcp.settings import Settings, env_var, setting_fields
from athena_mcp.store.exchange import SYSTEMS, Selection
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
    backup = commands.add_parser(
        "backup",
        parents=[settings_flags],
        help="Copy the database, live (servers may keep writing), to FILE: one consistent snapshot, "
        "checked by SQLite, with its SHA-256 in FILE.sha256. FILE must not exist.",
    )
    backup.add_argument("file", type=Path, metavar="FILE")
    restore = commands.add_parser(
        "restore",
        parents=[settings_flags],
        help="Put a backup in place of the database: checked first (checksum, integrity), refused while "
        "a process holds the database unless --force; the replaced file is kept beside it.",
    )
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.add_argument(
        "--force", action="store_true", help="restore even while a process holds the database"
    )
    doctor = commands.add_parser(
        "doctor",
        parents=[settings_flags],
        help="Check the database (integrity, foreign keys) and its derived indexes (text, vectors, graph) "
        "against the tables; --repair rebuilds the indexes. Exits 1 when a check fails.",
    )
    doctor.add_argument("--repair", action="store_true", help="rebuild every derived index from the tables")
    stats = commands.add_parser(
        "stats",
        parents=[settings_flags],
        help="What the store holds per namespace, its size and vector backlog.",
    )
    stats.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    exporter = commands.add_parser(
        "export",
        parents=[settings_flags],
        help="Write the store as JSON Lines (format: athena_mcp/exchange/export.schema.json), all of it or "
        "the chosen namespaces, systems and time range, read in one snapshot while servers keep writing.",
    )
    exporter.add_argument(
        "file", type=Path, nargs="?", metavar="FILE", help="a new file (default: standard output)"
    )
    exporter.add_argument(
        "--namespace",
        action="append",
        dest="export_namespaces",
        metavar="NAMESPACE",
        help="only this namespace; repeat for more (default: all)",
    )
    exporter.add_argument(
        "--system",
        action="append",
        dest="export_systems",
        choices=SYSTEMS,
        help="only this memory system; repeat for more (default: all)",
    )
    exporter.add_argument("--since", type=_iso_time, help="only records from this time (ISO 8601)")
    exporter.add_argument("--until", type=_iso_time, help="only records before this time (ISO 8601)")
    exporter.add_argument(
        "--schema", action="store_true", help="print the format's JSON Schema instead of the records"
    )
    importer_ = commands.add_parser(
        "import",
        parents=[settings_flags],
        help="Take an export into the store in one transaction: a bad line refuses the whole file (with its "
        "line number); records already here are skipped, so importing twice adds nothing.",
    )
    importer_.add_argument("file", type=Path, metavar="FILE", help="an export, or - for standard input")
    importer_.add_argument(
        "--no-embed",
        action="store_true",
        help="leave the new memories' vectors to a server instead of computing them now",
    )
    viewing = argparse.ArgumentParser(add_help=False)
    viewing.add_argument(
        "--namespace",
        action="append",
        dest="view_namespaces",
        metavar="NAMESPACE",
        help="the namespace to read (default 'default'); search and timeline take several",
    )
    viewing.add_argument("--json", action="store_true", help="JSON for scripts instead of a table")
    show = commands.add_parser(
        "show",
        parents=[settings_flags, viewing],
        help="Show a memory (its history, where it came from, what was made of it, its use), a procedure "
        "(steps, statistics, runs) or a session (digest and events); `show sessions` and `show "
        "procedures` list them.",
    )
    show.add_argument(
        "subject",
        choices=("memory", "procedure", "session", "sessions", "procedures"),
        help="what to show",
    )
    show.add_argument("key", nargs="?", metavar="ID", help="the memory's or procedure's id, or the session's")
    show.add_argument("--limit", type=int, default=50, help="most rows listed (default 50)")
    searcher = commands.add_parser(
        "search",
        parents=[settings_flags, viewing],
        help="Search memories as `recall` does (hybrid: keywords and meaning), with their scores.",
    )
    searcher.add_argument("query", metavar="QUERY")
    searcher.add_argument("--limit", type=int, default=10, help="results (default 10)")
    searcher.add_argument(
        "--explain", action="store_true", help="show each result's keyword and meaning ranks"
    )
    timeline = commands.add_parser(
        "timeline",
        parents=[settings_flags, viewing],
        help="Events in time order: the latest ones, or from --since on; of one --session if given.",
    )
    timeline.add_argument("--session", help="only this session's events")
    timeline.add_argument("--since", type=_iso_time, help="from this time on (ISO 8601)")
    timeline.add_argument("--until", type=_iso_time, help="before this time (ISO 8601)")
    timeline.add_argument("--limit", type=int, default=50, help="events shown (default 50)")
    explore = commands.add_parser(
        "explore",
        parents=[settings_flags],
        help="Open the memory explorer in the browser: search with explanations, sessions, facts with their "
        "history, procedures, tasks and the graph. Served on this machine only, behind a token made for "
        "this run; read-only unless --explorer-writes.",
    )
    explore.add_argument("--explorer-port", type=int, default=0, help="the port (default: any free one)")
    explore.add_argument("--no-open", action="store_true", help="print the address without opening a browser")
    audit = commands.add_parser(
        "audit",
        parents=[settings_flags],
        help="Show the audit trail: every change to memories, procedures, tasks and the graph, who "
        "made it (transport, client, token, session), with which tool, and digests of before and after.",
    )
    audit.add_argument("--namespace", help="only this namespace")
    audit.add_argument("--subject", help="only this kind of record: memory, procedure, task, entity, ...")
    audit.add_argument("--id", type=int, dest="subject_id", help="only this record (with --subject)")
    audit.add_argument(
        "--since", type=_iso_time, help="only changes from this time (ISO 8601, UTC if no zone)"
    )
    audit.add_argument("--after-id", type=int, default=0, help="only entries after this audit id")
    audit.add_argument("--limit", type=int, default=50, help="the newest this many entries (default 50)")
    audit.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    return root


def _iso_time(text: str) -> float:
    from athena_mcp.models import to_seconds

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-12-01T09:00"
        ) from None
    return to_seconds(moment)


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
        elif args.command == "backup":
            from athena_mcp.maintenance import take_backup

            take_backup(settings, args.file)
        elif args.command == "restore":
            from athena_mcp.maintenance import restore_backup

            restore_backup(settings, args.file, args.force)
        elif args.command == "doctor":
            from athena_mcp.maintenance import doctor

            if not asyncio.run(doctor(settings, args.repair)):
                sys.exit(1)
        elif args.command == "export":
            from athena_mcp.exchange.export import export, print_schema

            if args.schema:
                print_schema()
            else:
                selection = Selection(
                    namespaces=tuple(args.export_namespaces) if args.export_namespaces else None,
                    systems=frozenset(args.export_systems or SYSTEMS),
                    since=args.since,
                    until=args.until,
                )
                export(settings, args.file, selection)
        elif args.command == "import":
            from athena_mcp.exchange.load import opened
            from athena_mcp.maintenance import import_export

            with opened(args.file) as source:
                asyncio.run(import_export(settings, source, embed=not args.no_embed))
        elif args.command in ("show", "search", "timeline"):
            from athena_mcp.viewer.commands import run_view

            print(asyncio.run(run_view(settings, args)))
        elif args.command == "explore":
            from athena_mcp.transports.http import serve_explorer

            asyncio.run(serve_explorer(settings, args.explorer_port, open_browser=not args.no_open))
        elif args.command == "stats":
            from athena_mcp.maintenance import show_stats

            asyncio.run(show_stats(settings, args.json))
        elif args.command == "install-hooks":
            install_hooks(settings, args)
        elif args.command == "token":
            manage_tokens(settings, args)
        elif args.command == "audit":
            from athena_mcp.maintenance import show_audit
            from athena_mcp.store.audit import AuditFilter

            audit_filter = AuditFilter(
                namespace=args.namespace,
                subject=args.subject,
                subject_id=args.subject_id,
                since=args.since,
                after_id=args.after_id,
                limit=args.limit,
            )
            asyncio.run(show_audit(settings, audit_filter, args.json))
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
