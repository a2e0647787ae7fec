"""The loop every background worker runs: a pass, then a pause, until the server stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(
    interval: float, run_pass: Callable[[], Awaitable[object]], name: str, *, wait_first: bool = False
) -> None:
    """Call `run_pass` every `interval` seconds until cancelled (first after one interval with
    `wait_first`). A failed pass (database busy, disk full) is logged and retried on the next tick."""
    if wait_first:
        await asyncio.sleep(interval)
    while True:
        try:
            await run_pass()
        except Exception:
            log.exception("%s failed", name)
        await asyncio.sleep(interval)
