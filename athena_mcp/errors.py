"""Errors the caller can act on.

Every message says what went wrong and what to do next. The tool layer turns these into MCP
tool errors; anything else that escapes is a bug and reaches the client only as a bare failure.
"""


class AthenaError(Exception):
    """Base of every anticipated failure; its message is shown to the caller as is."""


class InvalidInput(AthenaError):
    """The arguments are well-formed but cannot be applied (e.g. updating an event)."""


class NotFound(AthenaError):
    """No memory with the given id exists in the store."""


class Conflict(AthenaError):
    """The change would break an invariant, such as two identical active facts."""


class StoreBusy(AthenaError):
    """Another process held the write lock for longer than the configured wait."""


class StoreFull(AthenaError):
    """The disk or the database's size limit is full; reads still work."""


class StoreFault(AthenaError):
    """The disk or the database file failed under a call (I/O error, corruption); it was rolled back."""


class StoreUnavailable(AthenaError):
    """The database cannot be opened or used as configured (driver, version, model mismatch)."""


class OutOfMemory(AthenaError):
    """The process's memory limit leaves too little room to serve."""


def out_of_memory(exc: BaseException) -> bool:
    """A failure for want of memory. Besides MemoryError, a capped address space (`ulimit -v`) shows
    as a thread that cannot start (its stack cannot be mapped) and as a library that cannot load."""
    if isinstance(exc, RuntimeError):
        return str(exc) == "can't start new thread"
    if isinstance(exc, ImportError):
        return "failed to map segment from shared object" in str(exc)
    return isinstance(exc, MemoryError)
