"""The commands over the user's own data, with no MCP client: backup and restore, the store's health
and figures, export and import, the terminal viewer, the browser explorer and the audit trail."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from athena_mcp.settings import Settings
from athena_mcp.store.exchange import SYSTEMS, Selection


def add_parsers(commands: Any, settings_flags: argparse.ArgumentParser) -> None:
    """Add these commands to the command line's subparsers (`commands`); each marks what it parses
    as `data_command`, for `run`."""
    before = set(commands.choices)
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
    _namespaces_option(exporter, "export_namespaces", "only this namespace; repeat for more (default: all)")
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
    _namespaces_option(
        viewing,
        "view_namespaces",
        "the namespace to read (default 'default'); search and timeline take several",
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
    for name in set(commands.choices) - before:
        commands.choices[name].set_defaults(data_command=True)


def _namespaces_option(command: argparse.ArgumentParser, dest: str, help: str) -> None:
    command.add_argument("--namespace", action="append", dest=dest, metavar="NAMESPACE", help=help)


def _iso_time(text: str) -> float:
    from athena_mcp.models import to_seconds

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time such as 2026-12-01T09:00"
        ) from None
    return to_seconds(moment)


def run(settings: Settings, args: argparse.Namespace) -> None:
    """Carry out one of these commands as parsed (`args.data_command` is set)."""
    import asyncio

    if args.command == "backup":
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
