"""Streamable HTTP serving, guarded for use beyond the local machine.

mcp's own transport already does two of the checks, and we configure rather than repeat them:
`TransportSecuritySettings` refuses a Host header that is not ours (421) and a browser Origin that
is not allowed (403), the DNS rebinding protection the MCP specification asks for, and
`max_request_body_size` counts the streamed bytes of a body (not its Content-Length) and answers 413.
What mcp lacks is added here as plain ASGI middlewares in front of its app: bearer tokens
compared in constant time (the one `--http-token`, which may do everything, and the named tokens of
`--token-file`, each bound to namespaces; see tokens), a per-client token-bucket rate limit, and a
memory check that answers 503 to a body that would not fit under the address-space limit (see
memory_budget). The token a request passed is handed to the gate in the ASGI scope, as the caller.
"""

from __future__ import annotations

import dataclasses
import hmac
import html
import ipaddress
import logging
import math
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from athena_mcp.caller import CALLER_SCOPE, Caller
from athena_mcp.errors import AthenaError
from athena_mcp.logs import REQUEST_ID_HEADER, usable_request_id
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.tools.gate import REQUEST_ID_SCOPE, ToolsetServer
from athena_mcp.transports import memory_budget
from athena_mcp.transports.probes import PROBE_PATHS, Probes
from athena_mcp.transports.tokens import TokenFile
from athena_mcp.viewer.web import PREFIX, Explorer, RequestCheck

log = logging.getLogger(__name__)
GRACEFUL_SECONDS = 10  # on SIGTERM or SIGINT, how long requests in flight may take to finish
BACKLOG = 128  # connections the explorer's socket holds until they are accepted

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Short tokens could be guessed even at the rate limit; 16 characters of a random token is ~96 bits.
MIN_TOKEN_CHARS = 16
MAX_TRACKED_CLIENTS = 10_000
RETRY_AFTER_MEMORY = 5  # seconds: memory is short until another request ends
RETRY_AFTER_TOKEN_FILE = 30  # seconds: a broken token file waits for its operator
# The name the single --http-token goes by in the audit trail.
HTTP_TOKEN_NAME = "http-token"


async def serve_http(server: MCPServer, settings: Settings) -> None:
    """Serve `server` over streamable HTTP at /mcp until cancelled; refuses an unsafe configuration first."""
    app = http_app(server, settings)
    # X-Forwarded-For is read only from the proxies named in --trusted-proxies, never from
    # uvicorn's FORWARDED_ALLOW_IPS default (loopback): any client that could set it would choose its
    # rate-limit bucket, and a client on this machine could set it.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # Never below INFO: uvicorn's debug logs are not ours to vet for content (see cli.configure_logging).
        log_level=max(logging.INFO, logging.getLevelName(settings.log_level)),
        # Its lines go through the server's own handler, in the server's --log-format.
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        # A stop lets the requests in flight finish, but not an event stream a client keeps open.
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    # uvicorn stops gracefully on SIGTERM (no new connection, requests finished, the lifespan closing
    # the store), then raises the signal again for the handler it found: this one makes that exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    await uvicorn.Server(config).serve()


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def http_app(
    server: MCPServer, settings: Settings, *, clock: Callable[[], float] = time.monotonic
) -> Starlette:
    """mcp's streamable HTTP app, its Host/Origin checks and body limit set, behind our token and rate limit.

    `clock` (monotonic seconds) drives the rate limit's refill; tests pass their own to see recovery.
    """
    token = bearer_token(settings)
    token_file = TokenFile(Path(settings.token_file).expanduser()) if settings.token_file else None
    app = server.streamable_http_app(
        transport_security=transport_security(settings),
        max_request_body_size=settings.http_max_body,
        host=settings.host,
    )
    # Starlette puts each added middleware outside the previous one: the rate limit runs first, so
    # failed token guesses are limited too.
    if isinstance(server, ToolsetServer):
        probes = Probes(server)
        for path, handler in zip(PROBE_PATHS, (probes.health, probes.ready, probes.metrics), strict=True):
            app.add_route(path, handler, methods=["GET"])
        toolset_server = server
        app.router.routes.extend(explorer_routes(settings, lambda: toolset_server.services))
    app.add_middleware(MemoryGuard, max_body=settings.http_max_body)
    if token is not None or token_file is not None:
        app.add_middleware(
            BearerToken, token=token, token_file=token_file, open_probes=settings.http_open_probes
        )
    if settings.http_rate > 0:
        app.add_middleware(RateLimit, rate=settings.http_rate, burst=settings.http_burst, clock=clock)
    # Outermost: a refused request (401, 429, 503) carries its id too.
    app.add_middleware(RequestIds)
    log.info(
        "HTTP transport on %s port %d: bearer token %s, body limit %d bytes, rate limit %s, "
        "X-Forwarded-For %s",
        settings.host,
        settings.port,
        "required" if token or token_file else "not set (loopback only)",
        settings.http_max_body,
        f"{settings.http_rate:g}/s burst {settings.http_burst}" if settings.http_rate > 0 else "off",
        f"from {', '.join(settings.trusted_proxies)}" if settings.trusted_proxies else "ignored",
    )
    return app


def explorer_routes(settings: Settings, services_of: Callable[[], Services | None]) -> list[BaseRoute]:
    """The explorer under /ui, as the settings want it: forgetting allowed or not, this server's
    Host and Origin checks, its namespaces."""
    served = frozenset(settings.namespaces) or None
    return Explorer(services_of, settings.explorer_writes, request_check(settings), served).routes()


def request_check(settings: Settings) -> RequestCheck:
    """mcp's own Host and Origin check (and JSON content type for a POST), for routes beside /mcp."""
    guard = TransportSecurityMiddleware(transport_security(settings))
    return guard.validate_request


async def serve_explorer(settings: Settings, port: int, open_browser: bool) -> None:
    """`athena-mcp explore`: the explorer alone on loopback, behind a token made for this run and
    handed to the browser in the address's fragment (never sent to a server, nor logged)."""
    if not settings.db.exists():
        raise AthenaError(f"explore: there is no database at {settings.db}; name it with --db")
    settings = dataclasses.replace(settings, host="127.0.0.1")
    token = secrets.token_urlsafe(32)
    async with open_services(settings, background=False) as services:
        app = Starlette(routes=explorer_routes(settings, lambda: services))
        app.add_middleware(BearerToken, token=token, token_file=None)
        app.add_middleware(RequestIds)
        listening = socket.socket()
        try:
            listening.bind((settings.host, port))
        except OSError as exc:
            listening.close()
            raise AthenaError(
                f"explore: cannot listen on port {port} ({exc.strerror}); choose another with --explorer-port"
            ) from None
        # Listening before the address is printed: a browser opened at once waits in the backlog
        # until uvicorn accepts, rather than being refused.
        listening.listen(BACKLOG)
        address = f"http://127.0.0.1:{listening.getsockname()[1]}{PREFIX}#token={token}"
        print(f"The memory explorer of {settings.db} is at {address}", flush=True)
        mode = "forgetting allowed" if settings.explorer_writes else "read-only"
        print(f"({mode}; Ctrl-C stops it)", flush=True)
        opener = opener_page(address) if open_browser else None
        try:
            if opener is not None:
                webbrowser.open(opener.as_uri())
            config = uvicorn.Config(app, log_config=None, log_level=logging.WARNING)
            await uvicorn.Server(config).serve(sockets=[listening])
        finally:
            if opener is not None:
                opener.unlink(missing_ok=True)


def opener_page(address: str) -> Path:
    """A page only this user can read that sends the browser on to `address`: the browser is opened
    on it, so the token is never in a command line other users can read (/proc/*/cmdline)."""
    descriptor, name = tempfile.mkstemp(prefix="athena-explore-", suffix=".html")  # 0600
    with os.fdopen(descriptor, "w", encoding="utf-8") as page:
        target = html.escape(address, quote=True)
        page.write(
            f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={target}">'
            f'<a href="{target}">Open the memory explorer</a>\n'
        )
    return Path(name)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bearer_token(settings: Settings) -> str | None:
    """The one configured --http-token, None if there is none and either a token file serves or the
    server only listens on loopback."""
    if settings.http_token and settings.http_token_file:
        raise AthenaError("set one of --http-token and --http-token-file, not both")
    token = settings.http_token
    if settings.http_token_file:
        path = Path(settings.http_token_file).expanduser()
        try:
            token = path.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AthenaError(f"cannot read the HTTP token file {path}: {exc}") from None
        if not token:
            raise AthenaError(f"the HTTP token file {path} is empty")
    if not token:
        if settings.token_file or is_loopback(settings.host):
            return None
        raise AthenaError(
            f"--host {settings.host} is not a loopback address, so the HTTP transport needs a bearer token: "
            "set --http-token-file (or --http-token, ATHENA_HTTP_TOKEN), e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or --token-file with tokens "
            "made by `athena-mcp token add`"
        )
    if len(token) < MIN_TOKEN_CHARS or not (token.isascii() and token.isprintable()) or " " in token:
        raise AthenaError(
            f"the HTTP bearer token must be at least {MIN_TOKEN_CHARS} printable ASCII characters, "
            "without spaces"
        )
    return token


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """The Host and Origin values mcp's DNS rebinding protection accepts."""
    host = settings.host
    try:
        listens_everywhere = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        listens_everywhere = False
    if listens_everywhere and not settings.http_allowed_hosts:
        raise AthenaError(
            f"--host {host} listens on every address: name the host names or addresses clients use to "
            "reach it in --http-allowed-hosts (ATHENA_HTTP_ALLOWED_HOSTS); requests naming any other "
            "host are refused"
        )
    hosts = [*LOOPBACK_HOSTS, *(h.lower() for h in settings.http_allowed_hosts)]
    bound = f"[{host}]" if ":" in host and not host.startswith("[") else host.lower()
    if not listens_everywhere and bound not in hosts:
        hosts.append(bound)
    # A Host header carries the port unless it is the scheme's default; the name is what matters here.
    allowed_hosts = [form for name in hosts for form in (name, f"{name}:*")]
    local_origins = [f"{scheme}://{name}" for scheme in ("http", "https") for name in LOOPBACK_HOSTS]
    allowed_origins = [form for origin in local_origins for form in (origin, f"{origin}:*")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=[*allowed_origins, *settings.http_allowed_origins],
    )


class RequestIds:
    """Gives each HTTP request an id, the client's X-Request-Id when usable, for the gate to log its
    tool call under, and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == REQUEST_ID_HEADER.encode()), None)
        request_id = usable_request_id(None if sent is None else sent.decode("latin-1"))
        scope[REQUEST_ID_SCOPE] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class MemoryGuard:
    """Answers 503 to a request whose body would not fit in memory now, before it is read.

    mcp parses bodies with pydantic-core, which aborts the process when an allocation fails inside
    it. A POST without a Content-Length is counted at the body limit, the most it can be.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = self._body_size(scope)
            if (short := memory_budget.shortfall(size)) is not None:
                response = PlainTextResponse(
                    short.explain(size), status_code=503, headers={"Retry-After": str(RETRY_AFTER_MEMORY)}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _body_size(self, scope: Scope) -> int:
        if scope["method"] in ("GET", "HEAD", "DELETE"):
            return 0  # the event stream and the end of a session carry no body
        length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        try:
            return min(int(length), self._max_body) if length is not None else self._max_body
        except ValueError:
            return self._max_body


class BearerToken:
    """Answers 401 to an HTTP request without `Authorization: Bearer <a token>`, and tells the gate
    which token it was: the --http-token (every namespace) or a named one of the token file."""

    def __init__(
        self, app: ASGIApp, token: str | None, token_file: TokenFile | None, open_probes: bool = False
    ) -> None:
        self.app = app
        self._token = None if token is None else token.encode("ascii")
        self._token_file = token_file
        self._open_probes = open_probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._open_probe(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            try:
                caller = self._caller(scope)
            except AthenaError:
                # What is wrong (a path, a line) is for the server log, not for any client.
                response = PlainTextResponse(
                    "The server cannot check tokens now: its token file is missing or malformed (its log "
                    "says why). Retry once its operator has fixed it.",
                    status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_TOKEN_FILE)},
                )
                await response(scope, receive, send)
                return
            if caller is None:
                response = PlainTextResponse(
                    "Missing or wrong bearer token: send Authorization: Bearer <a token of this server>",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="athena-mcp"'},
                )
                await response(scope, receive, send)
                return
            scope[CALLER_SCOPE] = caller
        await self.app(scope, receive, send)

    def _open_probe(self, scope: Scope) -> bool:
        """The explorer's page (it holds no memory: its data comes from /ui/api behind the token), or a
        probe or metrics read from this machine when --http-open-probes says those need no token."""
        path = scope.get("path", "")
        if scope.get("method") == "GET" and (
            path in (PREFIX, f"{PREFIX}/") or path.startswith(f"{PREFIX}/static/")
        ):
            return True
        client = scope.get("client")
        return (
            self._open_probes and path in PROBE_PATHS and client is not None and is_loopback(str(client[0]))
        )

    def _caller(self, scope: Scope) -> Caller | None:
        header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        scheme, _, presented = header.partition(b" ")
        presented = presented.strip()
        bearer = scheme.lower() == b"bearer"
        # compare_digest takes as long whatever the bytes are, so timing tells nothing of the token;
        # both kinds are always compared, so timing does not tell which kind a server has either.
        single = self._token is not None and hmac.compare_digest(presented, self._token)
        grant = self._token_file.match(presented) if self._token_file is not None else None
        if not bearer:
            return None
        if single:
            return Caller(transport="http", token=HTTP_TOKEN_NAME)
        return None if grant is None else grant.caller()


class RateLimit:
    """A token bucket per client address: `burst` requests at once, refilled at `rate` a second; then 429."""

    def __init__(
        self,
        app: ASGIApp,
        rate: float,
        burst: int,
        clock: Callable[[], float],
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self.app = app
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_clients = max_clients
        # address -> (tokens left, when counted); kept least recently seen first.
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            wait = self._take(client[0] if client else "")
            if wait > 0:
                retry_after = math.ceil(wait)
                response = PlainTextResponse(
                    f"Too many requests: at most {self._rate:g} per second (bursts of {self._burst}) "
                    f"per client; retry after {retry_after} s",
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _take(self, client: str) -> float:
        """Spends one request of `client`'s bucket; returns 0, or the seconds until it may try again."""
        now = self._clock()
        tokens, counted = self._buckets.pop(client, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - counted) * self._rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self._rate
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        # Bounded memory under many addresses: a forgotten client only gets a full bucket back.
        if len(self._buckets) > self._max_clients:
            del self._buckets[next(iter(self._buckets))]
        return wait
