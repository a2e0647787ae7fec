"""How the C allocator keeps memory, tuned for a server that runs all day (glibc only; elsewhere a no-op).

glibc gives each thread that allocates an arena of its own (up to eight per core) and keeps what is
freed for reuse. The server's threads (SQLite's, ONNX Runtime's, the event loop's) each grew one, and
memory freed in one never served another. Two arenas, and handing freed memory back after the ONNX
session's build (70 MB) and after each batch embedding, took a server holding 10k memories from
319 to 253 MB at rest (`perf.bench_startup`). Mapping large blocks on their own (M_MMAP_THRESHOLD)
would also lower the peak while a batch is embedded, by about 40 MB, but each model call then
faults its activations in afresh: batch embedding fell from 176 to 124 texts/s, so it is not set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # mallopt's parameter, from glibc's <malloc.h>
ARENAS = 2


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
    """Few arenas. Called once, before the server's threads start."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def return_freed_memory() -> None:
    """Hand the memory freed but held by the allocator back to the system (after a large one-off build)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
