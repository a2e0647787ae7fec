"""Work under way, counted so that a process stopping can wait for it, within a bound."""

from __future__ import annotations

import asyncio
import contextlib


class InFlight:
    """The work running now (tool calls, hook answers), so that a shutdown can let it finish before
    it stops."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self._count += 1
        self._idle.clear()

    def end(self) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def finished(self, seconds: float) -> bool:
        """Wait up to `seconds` for the work running now to end; True when none is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)
        return self._idle.is_set()
