"""The `athena-mcp` command: serve (the default) and maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from athena_mcp import __version__
from athena_mcp.errors import AthenaError, out_of_memory
from athena_mcp.settings import Settings, env_var, setting_fields
from athena_mcp.transports import memory_budget

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
    root = argparse.ArgumentParser(
        prog="athena-mcp",
        description="Long-term memory for AI agents: an MCP server over one local SQLite file.",
        parents=[settings_flags],
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
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = Settings.load(vars(args), os.environ)
    except ValueError as exc:
        sys.exit(f"athena-mcp: {exc}")
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
        else:
            serve(settings)
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        message = fatal_message(exc)
        if message is None:
            raise
        sys.exit(message)


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
    from athena_mcp.server import build_server
    from athena_mcp.transports.stdio import run_stdio

    server = build_server(settings)
    memory_budget.require_room_to_serve()
    log.info("athena-mcp %s serving %s over %s", __version__, settings.db, settings.transport)
    if settings.transport == "http":
        from athena_mcp.transports.http import serve_http

        asyncio.run(serve_http(server, settings))
    else:
        asyncio.run(run_stdio(server))
