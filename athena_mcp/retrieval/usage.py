"""Counts of how often searches return each memory, kept in memory between consolidation runs.

Searches only read; writing a usage row on every search would put every search in the write queue.
The counts are added to `memory_usage` by the next consolidation run instead, so a crash loses at
most one interval of counts: an input to a decay heuristic, not a memory.
"""

from __future__ import annotations

import time
from collections.abc import Iterable


class UsageLog:
    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, float]] = {}

    def note(self, memory_ids: Iterable[int]) -> None:
        now = time.time()
        for memory_id in memory_ids:
            count, _ = self._seen.get(memory_id, (0, now))
            self._seen[memory_id] = (count + 1, now)

    def drain(self) -> dict[int, tuple[int, float]]:
        """(count, last time) per memory since the last drain; the log starts afresh."""
        seen, self._seen = self._seen, {}
        return seen
