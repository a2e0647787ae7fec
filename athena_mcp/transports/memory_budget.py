"""Whether a request of a given size fits under the process's address-space limit (`ulimit -v`).

Under that limit an allocation that does not fit fails. In Python code that is a MemoryError the
server answers clearly, but the JSON parser of the MCP SDK (pydantic-core, in Rust) aborts the whole
process when an allocation fails inside it, and a restarted server that is sent the same request
aborts again. So the stdio transport asks here before it reads a message whole or parses it, and
refuses what would not fit with an answer saying so.

Only the address-space limit is checked: it is the one a process can read and that fails an
allocation. Under a cgroup memory limit (a container's) the kernel ends the process instead, which
loses nothing acknowledged (every write is committed before it is answered).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from athena_mcp.errors import OutOfMemory

MIB = 1 << 20
# `python -m chaos memory_pressure` reports it: a record_events call of 10 MB grew the server's
# address space by 27 MB and its resident peak by 38 MB while it was parsed, validated and
# written. Four times the message leaves room for the copies the SDK and pydantic make.
GROWTH_PER_REQUEST_BYTE = 4
# Room every request needs besides its own copies: the answer (up to a few MB at the largest
# limits), SQLite's page cache growing, a worker thread's stack.
RESERVE_BYTES = 32 * MIB


@dataclass(frozen=True)
class Shortfall:
    needed: int  # bytes the request is expected to take
    available: int  # bytes left under the limit
    limit: int  # the address-space limit, bytes

    def explain(self, request_bytes: int) -> str:
        return (
            f"Out of memory: this request ({request_bytes / MIB:.1f} MB) needs about "
            f"{self.needed / MIB:.0f} MB, but only {max(self.available, 0) / MIB:.0f} MB is left under "
            f"the server's address-space limit (ulimit -v, {self.limit / MIB:.0f} MB). Nothing from it "
            "was kept. Send a smaller request (fewer items per call), or raise the limit."
        )


def address_space_limit() -> int | None:
    """The soft RLIMIT_AS in bytes, or None when there is none (or no such limit, as on Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def address_space_used() -> int | None:
    """The process's address space in bytes (VmSize, what RLIMIT_AS counts), or None off Linux."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def shortfall(request_bytes: int) -> Shortfall | None:
    """Why a request of `request_bytes` would not fit now, or None if it fits (or nothing limits it)."""
    limit = address_space_limit()
    if limit is None:
        return None
    used = address_space_used()
    if used is None:
        return None
    needed = request_bytes * GROWTH_PER_REQUEST_BYTE + RESERVE_BYTES
    available = limit - used
    return Shortfall(needed, available, limit) if needed > available else None


def require_room_to_serve() -> None:
    """Raise OutOfMemory when, loaded, the server has too little room left to answer even a small
    request: better one clear line at start-up than a server that refuses every call."""
    if (short := shortfall(0)) is not None:
        raise OutOfMemory(
            f"out of memory: the address-space limit (ulimit -v, {short.limit / MIB:.0f} MB) leaves "
            f"{max(short.available, 0) / MIB:.0f} MB once the server has loaded, and it needs "
            f"{short.needed / MIB:.0f} MB to answer requests; raise the limit"
        )
