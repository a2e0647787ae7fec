"""The memory explorer: a web page under /ui over the same records as the terminal viewer.

The page itself (static/) is the package's own HTML, script and style, with nothing fetched from
elsewhere; it holds no memory. What it shows comes from /ui/api/..., behind the transport's bearer
token like /mcp, and each read is held to the namespaces the caller's token may read (a record of
another namespace reads as missing). It is read-only unless the server was started with
--explorer-writes, which adds forgetting a memory, recorded in the audit trail as the explorer's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from athena_mcp.caller import CALLER_SCOPE, Caller, acting_as, reset_caller
from athena_mcp.errors import AthenaError, InvalidInput, NotFound
from athena_mcp.services import Services
from athena_mcp.store import namespaces as namespace_counts
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.viewer import data

log = logging.getLogger(__name__)

PREFIX = "/ui"
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
# The page runs only its own script and style, and talks only to this server.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
LIMIT_MAX = 500
DEPTH_MAX = 3

Handler = Callable[[Request, Services, Caller], Awaitable[Any]]
# The transport's own check of a request's Host and Origin (DNS rebinding, other sites' pages), and
# for a POST its content type: a refusal, or None.
RequestCheck = Callable[[Request, bool], Awaitable[Response | None]]


class Explorer:
    """The explorer's routes over the services `services_of` returns (None until the store is open)."""

    def __init__(
        self,
        services_of: Callable[[], Services | None],
        writes: bool,
        check: RequestCheck | None = None,
        namespaces: frozenset[str] | None = None,
    ) -> None:
        self._services_of = services_of
        self._writes = writes
        self._check = check
        self._namespaces_served = namespaces  # --namespaces: what every caller is limited to

    def routes(self) -> list[BaseRoute]:
        api: dict[str, Handler] = {
            "namespaces": self._namespaces,
            "search": self._search,
            "memory/{id:int}": self._memory,
            "timeline": self._timeline,
            "sessions": self._sessions,
            "session": self._session,
            "procedures": self._procedures,
            "procedure/{id:int}": self._procedure,
            "tasks": self._tasks,
            "entity": self._entity,
            "entities": self._entities,
        }
        routes: list[BaseRoute] = [
            Route(PREFIX, self._page, methods=["GET"]),
            Route(f"{PREFIX}/", self._page, methods=["GET"]),
            Route(f"{PREFIX}/static/{{name}}", self._asset, methods=["GET"]),
        ]
        routes += [
            Route(f"{PREFIX}/api/{path}", self._answer(handler), methods=["GET"])
            for path, handler in api.items()
        ]
        routes.append(
            Route(f"{PREFIX}/api/memory/{{id:int}}/forget", self._answer(self._forget), methods=["POST"])
        )
        return routes

    async def _page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=_page_headers())

    async def _asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return JSONResponse({"error": "no such file"}, status_code=404)
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=_page_headers())

    def _answer(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            if self._check is not None and (refused := await self._check(request, request.method == "POST")):
                return refused
            services = self._services_of()
            if services is None:
                return _error(503, "the store is not open yet; retry in a moment")
            caller = request.scope.get(CALLER_SCOPE)
            caller = (caller if isinstance(caller, Caller) else Caller(transport="http")).limited_to(
                self._namespaces_served
            )
            try:
                return JSONResponse(
                    await handler(request, services, caller), headers={"Cache-Control": "no-store"}
                )
            except NotFound as exc:
                return _error(404, str(exc))
            except PermissionError as exc:
                return _error(403, str(exc))
            except InvalidInput as exc:
                return _error(400, str(exc))
            except AthenaError as exc:
                return _error(503, str(exc))
            except Exception:
                log.exception("explorer: %s failed", request.url.path)
                return _error(500, "the explorer failed on this request; the server log says why")

        return answer

    async def _namespaces(self, request: Request, services: Services, caller: Caller) -> Any:
        held = await namespace_counts.counts(services.database)
        return {
            "namespaces": [
                {"name": n.namespace, "counts": n.counts} for n in held if caller.may_read(n.namespace)
            ],
            "writes": self._writes,
        }

    async def _search(self, request: Request, services: Services, caller: Caller) -> Any:
        query = request.query_params.get("q", "").strip()
        if not query:
            raise InvalidInput("q: give something to search for")
        found = await data.search(
            services,
            query,
            (_namespace(request, caller),),
            _limit(request, 20),
            request.query_params.get("explain") == "1",
        )
        return found.as_json()

    async def _memory(self, request: Request, services: Services, caller: Caller) -> Any:
        memory_id = request.path_params["id"]
        with _unseen(f"memory {memory_id}"):
            view = await data.memory_view(services, memory_id)
            _readable(caller, view.memory.namespace, f"memory {memory_id}")
        return view.as_json()

    async def _timeline(self, request: Request, services: Services, caller: Caller) -> Any:
        memory_filter = MemoryFilter(namespaces=(_namespace(request, caller),), systems=("episodic",))
        return data.dump(await data.timeline(services, memory_filter, _limit(request, 100), False))

    async def _sessions(self, request: Request, services: Services, caller: Caller) -> Any:
        return (
            await data.session_list(services, (_namespace(request, caller),), _limit(request, 50))
        ).as_json()

    async def _session(self, request: Request, services: Services, caller: Caller) -> Any:
        session_id = request.query_params.get("id", "")
        if not session_id:
            raise InvalidInput("id: give the session's id")
        return (
            await data.session_view(services, _namespace(request, caller), session_id, _limit(request, 200))
        ).as_json()

    async def _procedures(self, request: Request, services: Services, caller: Caller) -> Any:
        return data.dump(
            await data.procedure_list(services, _namespace(request, caller), _limit(request, 100))
        )

    async def _procedure(self, request: Request, services: Services, caller: Caller) -> Any:
        procedure_id = request.path_params["id"]
        with _unseen(f"procedure {procedure_id}"):
            detail = await data.procedure_view(services, procedure_id)
            _readable(caller, detail.namespace, f"procedure {procedure_id}")
        return data.dump(detail)

    async def _tasks(self, request: Request, services: Services, caller: Caller) -> Any:
        return await data.open_tasks(services, _namespace(request, caller), _limit(request, 100))

    async def _entity(self, request: Request, services: Services, caller: Caller) -> Any:
        name = request.query_params.get("name", "").strip()
        if not name:
            raise InvalidInput("name: give the entity's name")
        depth = _whole(request, "depth", 1, DEPTH_MAX)
        return (await data.entity_view(services, _namespace(request, caller), name, depth)).as_json()

    async def _entities(self, request: Request, services: Services, caller: Caller) -> Any:
        query = request.query_params.get("q", "").strip()
        if not query:
            raise InvalidInput("q: give a name, or part of one")
        found = await services.graph.search_nodes(
            _namespace(request, caller), query, None, _limit(request, 20)
        )
        return data.dump(found)

    async def _forget(self, request: Request, services: Services, caller: Caller) -> Any:
        if not self._writes:
            raise PermissionError(
                "the explorer is read-only: start the server with --explorer-writes to forget"
            )
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise InvalidInput("send the reason as JSON (Content-Type: application/json)")
        with _unseen(f"memory {request.path_params['id']}"):
            memory = (await data.memory_view(services, request.path_params["id"])).memory
            _readable(caller, memory.namespace, f"memory {memory.id}")
        if not caller.may_write(memory.namespace):
            raise PermissionError(f"this token may not change namespace {memory.namespace!r}")
        try:
            body = await request.json()
        except ValueError:
            raise InvalidInput('send the reason as a JSON object, e.g. {"reason": "outdated"}') from None
        reason = body.get("reason") if isinstance(body, dict) else None
        token = acting_as(Caller(transport="http", token=caller.token, tool="explorer", origin="user"))
        try:
            return data.dump(
                await services.semantic.forget(
                    memory.namespace, memory.id, reason or "forgotten in the explorer"
                )
            )
        finally:
            reset_caller(token)


def _page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _namespace(request: Request, caller: Caller) -> str:
    namespace = request.query_params.get("namespace", "default")
    _readable(caller, namespace, f"namespace {namespace!r}")
    return namespace


@contextlib.contextmanager
def _unseen(what: str) -> Iterator[None]:
    """A record that is missing and one the token may not read answer alike, naming neither the
    store's file nor the namespace: a token learns nothing of what it may not read."""
    try:
        yield
    except NotFound:
        raise NotFound(f"there is no {what} this token may read") from None


def _readable(caller: Caller, namespace: str, what: str) -> None:
    if not caller.may_read(namespace):
        # As if it did not exist: a token learns nothing of namespaces it may not read.
        raise NotFound(f"there is no {what} this token may read")


def _limit(request: Request, default: int) -> int:
    return _whole(request, "limit", default, LIMIT_MAX)


def _whole(request: Request, name: str, default: int, most: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise InvalidInput(f"{name}: a whole number from 1 to {most}")
    return int(text)
