"""Who is calling: the identity the server vouches for, and the namespaces it may touch.

The server learns the caller from the connection (transport, the client's name and version from
`initialize`, the HTTP token's name, the session), never from a tool's arguments. The gate sets it
for each tool call; the store records it with every change (the audit log) and every new memory
(its provenance), and access checks read it.
"""

from __future__ import annotations

import contextvars
import dataclasses
from dataclasses import dataclass
from typing import Literal

Transport = Literal["stdio", "http", "in-process", "cli", "worker"]
# How a memory came to be, as the server saw it: written by an agent through a tool, imported from a
# file, made by consolidation from events, or captured by an editor hook (what the user typed: user).
Origin = Literal["agent", "imported", "consolidated", "hook", "user"]


@dataclass(frozen=True)
class Caller:
    transport: Transport
    client: str | None = None  # "name/version" as the client announced itself in initialize
    token: str | None = None  # the name of the HTTP token it presented (never the secret)
    session: str | None = None
    tool: str | None = None  # the tool being called, if any
    origin: Origin = "agent"
    # None: every namespace. A read-only token has an empty `writable`.
    readable: frozenset[str] | None = None
    writable: frozenset[str] | None = None

    def may_read(self, namespace: str) -> bool:
        return self.readable is None or namespace in self.readable

    def may_write(self, namespace: str) -> bool:
        return self.writable is None or namespace in self.writable

    def limited_to(self, namespaces: frozenset[str] | None) -> Caller:
        """This caller within the namespaces a server serves (--namespaces; None: any)."""
        if namespaces is None:
            return self
        return dataclasses.replace(
            self,
            readable=namespaces if self.readable is None else self.readable & namespaces,
            writable=namespaces if self.writable is None else self.writable & namespaces,
        )

    @property
    def actor(self) -> str:
        """One line naming the caller, as the audit log and provenance show it."""
        parts: list[str] = [self.transport]
        if self.token is not None:
            parts.append(f"token={self.token}")
        if self.client is not None:
            parts.append(f"client={self.client}")
        if self.session is not None:
            parts.append(f"session={self.session}")
        return " ".join(parts)


# Work the server does on its own (the background worker: consolidation, triggers, vectors).
# Where the HTTP transport leaves the caller it authenticated, in the request's scope.
CALLER_SCOPE = "athena.caller"

WORKER = Caller(transport="worker", origin="consolidated")

_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("athena_caller", default=WORKER)


def current_caller() -> Caller:
    return _current.get()


def acting_as(caller: Caller) -> contextvars.Token[Caller]:
    """Make `caller` the current caller for this task (and the tasks it starts); reset with the token."""
    return _current.set(caller)


def reset_caller(token: contextvars.Token[Caller]) -> None:
    _current.reset(token)
