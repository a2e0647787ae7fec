"""The `athena-mcp` command: serve (the default) and maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from athena_mcp import __version__
from athena_mcp.errors import AthenaError
from athena_mcp.importers.memory_file import read_memory_file
from athena_mcp.importers.memory_import import checked_namespace, import_memory_file
from athena_mcp.services import open_services
from athena_mcp.settings import Settings, env_var, setting_fields
from athena_mcp.store.vectors import backlog_size, reset_vectors, stored_identity

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
    try:
        if args.command == "reembed":
            asyncio.run(reembed(settings))
        elif args.command == "rebuild-graph-index":
            asyncio.run(rebuild_graph_index(settings))
        elif args.command == "import-memory-json":
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
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := fatal_message(inner)) is not None:
                return found
    return None


def serve(settings: Settings) -> None:
    from athena_mcp.server import build_server
    from athena_mcp.stdio import run_stdio

    server = build_server(settings)
    log.info("athena-mcp %s serving %s over %s", __version__, settings.db, settings.transport)
    if settings.transport == "http":
        from athena_mcp.http import serve_http

        asyncio.run(serve_http(server, settings))
    else:
        asyncio.run(run_stdio(server))


async def rebuild_graph_index(settings: Settings) -> None:
    async with open_services(settings, background=False) as services:
        indexed = await services.graph.rebuild_search_index()
    print(f"done: {indexed} entities indexed", file=sys.stderr)


async def reembed(settings: Settings) -> None:
    async with open_services(settings, background=False, check_vectors=False) as services:
        if not await services.embeddings.wait_ready():
            raise AthenaError(f"The embedder could not load: {services.embeddings.failure}")
        identity = services.embeddings.identity
        if await stored_identity(services.database) != identity:
            await reset_vectors(services.database, identity)
        # With the same model already recorded this resumes an interrupted run from its backlog.
        queued = await backlog_size(services.database)
        print(f"re-embedding {queued} memories with {identity.describe()}", file=sys.stderr)
        done = 0
        while stored := await services.vector_backlog.run_once():
            done += stored
            print(f"  {done}/{queued}", file=sys.stderr)
        left = await backlog_size(services.database)
        if left:
            raise AthenaError(
                f"{left} memories could not be embedded (see the warnings above); they are retried later "
                "by a running server, or run `athena-mcp reembed` again."
            )
        print(f"done: {done} vectors", file=sys.stderr)


async def import_memory_json(settings: Settings, file: Path, namespace: str) -> None:
    started = time.perf_counter()
    namespace = checked_namespace(namespace)
    memory_file = read_memory_file(file)
    async with open_services(settings, background=False, check_vectors=False) as services:
        summary = await import_memory_file(services.graph, services.database, namespace, memory_file)
    print(summary.describe(time.perf_counter() - started))
