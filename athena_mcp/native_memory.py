"""How the C allocator keeps memory, tuned for a server that runs all day (glibc only; elsewhere a no-op).

glibc gives each thread that allocates its own arena (up to eight per core) and keeps what is freed
for reuse. The server's threads (SQLite's, ONNX Runtime's, the event loop's) each grew an arena of
their own, and a freed block of one never served another: a server holding 10k memories kept 445 MB
resident at its peak, of which the ONNX session's build left 70 MB freed but held. Two arenas, large
blocks mapped and unmapped on their own, and handing back what the session's build freed brought that
peak under 300 MB (`perf.bench_core`, "server peak RSS").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ARENAS = 2
# Blocks from this size up (activations of a model call, numpy temporaries) are mapped on their own
# and returned to the system when freed; glibc would otherwise raise this threshold as it sees such
# blocks freed and keep them in its heap.
MMAP_THRESHOLD_BYTES = 256 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018  (present only in glibc)
    except (OSError, AttributeError):
        return None
    return libc


def tune_for_server() -> None:
    """Few arenas and large blocks mapped on their own. Called once, before the server's threads start."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def return_freed_memory() -> None:
    """Hand the memory freed but held by the allocator back to the system (after a large one-off build)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
