"""The fault plan: which faults a chaos server (`python -m chaos.server`) injects, read from its environment.

A plan is JSON, given inline in CHAOS_FAULTS or in a file named by CHAOS_FAULTS_FILE; the file is
re-read whenever it changes, so a harness can start, change and lift faults in a running server::

    {
      "storage": [                       # rules for the storage seam, Database.statement_hook
        {"match": "INSERT INTO memories",  # case-insensitive substring of the SQL ("" = every statement)
         "error": "io",                    # io | full | busy | corrupt: raise the driver's error for it
         "skip": 0,                        # let this many matching statements through first
         "times": 1},                      # then fire this many times (omitted: every time)
        {"match": "", "delay": 0.05}       # or sleep this long before the statement
      ],
      "driver": [{"match": "INSERT", "delay": 0.5}],  # sleep in the driver's thread (slow disk)
      "max_page_count": 300,             # the database cannot grow past this many pages (disk full)
      "embedder": {"mode": "hang", "seconds": 60}   # fail | hang | slow, see chaos.embedder
    }

Errors are raised from the hook, before the statement reaches the driver, as the driver's own
exception types with SQLite's own messages. A delay sleeps in the hook, which runs on the server's
event loop: it stalls the whole server. A `driver` delay sleeps in the driver's own thread as the
statement starts (Database.set_driver_hook): storage is slow while the event loop keeps serving, as
with a slow disk; it cannot raise errors.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from athena_mcp.store.driver import ResultCode, driver_error
from chaos.embedder import EmbedderFault

MISSING = (-1,)  # the stamp of a plan file that does not exist: no faults
PLAN_WAIT = 30.0  # seconds a server may take to apply a new plan (it polls every 50 ms)

INLINE = "CHAOS_FAULTS"
FILE = "CHAOS_FAULTS_FILE"
# SQLite's own code and message for each fault: the server's error translation sees what a real one says.
ERRORS = {
    "io": (ResultCode.IOERR, "disk I/O error"),
    "full": (ResultCode.FULL, "database or disk is full"),
    "busy": (ResultCode.BUSY, "database is locked"),
    "corrupt": (ResultCode.CORRUPT, "database disk image is malformed"),
}


@dataclass
class StorageRule:
    match: str
    error: str | None = None
    delay: float = 0.0
    skip: int = 0
    times: int | None = None
    seen: int = 0  # matching statements so far
    fired: int = 0

    def apply(self, sql: str) -> None:
        if self.match.lower() not in sql.lower():
            return
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.fired >= self.times):
            return
        self.fired += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise driver_error(*ERRORS[self.error])


@dataclass
class FaultPlan:
    storage: list[StorageRule] = field(default_factory=list)
    driver: list[StorageRule] = field(default_factory=list)
    max_page_count: int | None = None
    embedder: EmbedderFault | None = None

    def statement_hook(self, sql: str) -> None:
        for rule in self.storage:
            rule.apply(sql)

    def driver_hook(self, sql: str) -> None:
        for rule in self.driver:
            rule.apply(sql)


def parse_plan(text: str) -> FaultPlan:
    """A plan from its JSON text; raises ValueError naming what is wrong."""
    raw: dict[str, Any] = json.loads(text) if text.strip() else {}
    unknown = set(raw) - {"storage", "driver", "max_page_count", "embedder"}
    if unknown:
        raise ValueError(f"fault plan: unknown keys {sorted(unknown)}")
    rules = []
    for item in raw.get("storage", []):
        rule = StorageRule(
            match=str(item.get("match", "")),
            error=item.get("error"),
            delay=float(item.get("delay", 0.0)),
            skip=int(item.get("skip", 0)),
            times=None if item.get("times") is None else int(item["times"]),
        )
        if rule.error is not None and rule.error not in ERRORS:
            raise ValueError(f"fault plan: storage error must be one of {sorted(ERRORS)}, not {rule.error!r}")
        rules.append(rule)
    driver = [
        StorageRule(match=str(item.get("match", "")), delay=float(item["delay"]))
        for item in raw.get("driver", [])
    ]
    embedder = raw.get("embedder")
    if embedder is not None and embedder.get("mode") not in ("fail", "hang", "slow"):
        raise ValueError("fault plan: embedder mode must be fail, hang or slow")
    pages = raw.get("max_page_count")
    return FaultPlan(
        storage=rules,
        driver=driver,
        max_page_count=None if pages is None else int(pages),
        embedder=None
        if embedder is None
        else EmbedderFault(mode=embedder["mode"], seconds=float(embedder.get("seconds", 0.0))),
    )


class PlanSource:
    """Where the plan comes from: a file (re-read when it changes) or the inline variable (read once)."""

    def __init__(self, environ: dict[str, str] | os._Environ[str]) -> None:
        self.path = Path(environ[FILE]) if environ.get(FILE) else None
        self._inline = environ.get(INLINE, "")
        self._stamp: tuple[int, ...] | None = None

    def changed(self) -> FaultPlan | None:
        """The plan if it is new since the last call, else None."""
        if self.path is None:
            if self._stamp is not None:
                return None
            self._stamp = (0,)
            return parse_plan(self._inline)
        stamp: tuple[int, ...]
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            stamp = MISSING
        else:
            # The inode too: write_plan replaces the file, and two plans may share a size and mtime.
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        return parse_plan("" if stamp == MISSING else self.path.read_text())


def applied_marker(path: Path) -> Path:
    """The file a server writes once it has applied a plan read from `path`."""
    return path.with_name(path.name + ".applied")


def write_plan(path: Path, plan: dict[str, Any]) -> None:
    """Replace the plan file in one step, so a server never reads half of it. Removes the applied
    marker first: its reappearance says a server has applied this plan."""
    applied_marker(path).unlink(missing_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(plan))
    os.replace(partial, path)


async def set_plan(path: Path, plan: dict[str, Any]) -> None:
    """Write `plan` for the server watching `path` and wait until it is in force."""
    write_plan(path, plan)
    async with asyncio.timeout(PLAN_WAIT):
        # The marker is another process's file: polling is the only way to hear of it.
        while not applied_marker(path).exists():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
