"""Pick a SQLite driver that can load the sqlite-vec extension and has FTS5.

Many Python builds ship a `sqlite3` compiled without extension loading; `pysqlite3` (the
`pysqlite3-binary` wheel) bundles a recent SQLite that can. We take the first that works.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from enum import IntEnum
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlite_vec

from athena_mcp.errors import StoreUnavailable

_CANDIDATES = ("pysqlite3.dbapi2", "sqlite3")


@cache
def sqlite_module() -> ModuleType:
    """The DB-API module to use; raises StoreUnavailable naming what each candidate lacked."""
    problems = []
    for name in _CANDIDATES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            problems.append(f"{name}: not installed")
            continue
        problem = _capability_problem(module)
        if problem is None:
            return module
        problems.append(f"{name}: {problem}")
    raise StoreUnavailable(
        "No SQLite driver here can load sqlite-vec with FTS5 ("
        + "; ".join(problems)
        + "). Install one with `pip install pysqlite3-binary` (Linux) or use a Python whose sqlite3 "
        "module allows extension loading."
    )


def _capability_problem(module: Any) -> str | None:
    connection = module.connect(":memory:")
    try:
        if not hasattr(connection, "enable_load_extension"):
            return "built without extension loading"
        load_vector_extension(connection)
        connection.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
        try:
            connection.execute("SELECT * FROM no_such_table")
        except module.Error as exc:
            if result_code(exc) != ResultCode.ERROR:
                # Without codes a full disk or a failing file could not be told from a bug in our SQL.
                return "its errors carry no SQLite result code (sqlite_errorcode)"
        return None
    except Exception as exc:  # any driver-specific failure means "cannot use this one"
        return str(exc)
    finally:
        connection.close()


def load_vector_extension(connection: Any) -> None:
    connection.enable_load_extension(True)
    try:
        sqlite_vec.load(connection)
    finally:
        connection.enable_load_extension(False)


def driver_errors() -> tuple[type[Exception], type[Exception]]:
    """(Error, OperationalError) of the chosen driver, for except clauses."""
    module = sqlite_module()
    return module.Error, module.OperationalError


class ResultCode(IntEnum):
    """SQLite's primary result codes that the store tells apart (https://sqlite.org/rescode.html)."""

    ERROR = 1
    PERM = 3
    BUSY = 5
    NOMEM = 7
    READONLY = 8
    IOERR = 10
    CORRUPT = 11
    FULL = 13
    CANTOPEN = 14
    NOTADB = 26


def result_code(exc: BaseException) -> int | None:
    """The primary result code of a driver error, or None for one the driver raised itself (wrong
    bindings, a closed connection) rather than SQLite. The driver gives the extended code (such as
    SQLITE_IOERR_WRITE), which carries the primary one in its low byte."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def driver_error(code: ResultCode, message: str) -> Exception:
    """The driver's exception for a SQLite failure, carrying its code as the driver sets it: for
    injecting faults at the SQL seam (chaos, tests) that are classified like real ones."""
    exc: Exception = sqlite_module().OperationalError(message)
    exc.sqlite_errorcode = int(code)  # type: ignore[attr-defined]
    exc.sqlite_errorname = f"SQLITE_{code.name}"  # type: ignore[attr-defined]
    return exc


@contextlib.contextmanager
def plain_connection(path: Path, read_only: bool = False) -> Iterator[Any]:
    """A plain driver connection with the vector extension (the schema names its virtual tables), for
    the commands that work on a file outside the server's Database: backups, exports."""
    # A URI, so that read-only is asked for; escaped, so that a `#` or `?` in a folder's name is a name.
    uri = path.resolve().as_uri() + ("?mode=ro" if read_only else "")
    connection = sqlite_module().connect(uri, uri=True, isolation_level=None)
    try:
        load_vector_extension(connection)
        yield connection
    finally:
        connection.close()
