"""The viewer's commands as the command line parses them: the store opened for reading, one view."""

from __future__ import annotations

import argparse

from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.viewer import views
from athena_mcp.viewer.tables import printable


async def run_view(settings: Settings, args: argparse.Namespace) -> str:
    """The text of `athena-mcp show|search|timeline` with the parsed `args`, safe to print."""
    return printable(await _view(settings, args))


async def _view(settings: Settings, args: argparse.Namespace) -> str:
    if not settings.db.exists():
        raise NotFound(f"there is no database at {settings.db}; name it with --db")
    namespaces = tuple(args.view_namespaces or ("default",))
    async with open_services(settings, background=False, check_vectors=args.command == "search") as services:
        if args.command == "search":
            return await views.search(services, args.query, namespaces, args.limit, args.explain, args.json)
        if args.command == "timeline":
            if args.since is not None and args.until is not None and args.until <= args.since:
                raise InvalidInput("--until must be later than --since")
            memory_filter = MemoryFilter(
                namespaces=namespaces,
                systems=("episodic",),
                session_id=args.session,
                since=args.since,
                until=args.until,
            )
            return await views.timeline(
                services, memory_filter, args.limit, args.since is not None, args.json
            )
        subject, key = args.subject, args.key
        if subject in ("memory", "procedure") and (key is None or not key.isdigit()):
            raise InvalidInput(
                f"`show {subject}` needs the {subject}'s id, e.g. `athena-mcp show {subject} 12`"
            )
        if subject == "memory":
            return await views.show_memory(services, int(key), args.json)
        if subject == "procedure":
            return await views.show_procedure(services, int(key), args.json)
        if subject == "session":
            if key is None:
                raise InvalidInput("`show session` needs the session's id; `show sessions` lists them")
            return await views.show_session(services, namespaces[0], key, args.limit, args.json)
        if subject == "sessions":
            return await views.list_sessions(services, namespaces, args.limit, args.json)
        return await views.list_procedures(services, namespaces[0], args.limit, args.json)
