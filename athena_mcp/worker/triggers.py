"""Fires triggers: time and cron triggers whose moment has come, event triggers on new events.

Each occurrence is recorded in the transaction that moves its trigger past it (next time, watermark
or done), under the database's single write lock (`BEGIN IMMEDIATE`, which also holds off other
processes) and against the UNIQUE (trigger, occurrence) key. A crash before the commit leaves the
trigger where it was, so the next pass fires it; after the commit both changes are there. However
many processes run passes on one file, every occurrence fires exactly once.

A namespace fires at most `per_pass` occurrences a pass and holds at most `pending` undismissed
ones (TriggerLimits): a trigger of a namespace at either limit is left where it is, so it fires on
a later pass (once some are dismissed, for the second) and nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from athena_mcp.memory.cron import parse_cron
from athena_mcp.memory.prospective import TriggerLimits
from athena_mcp.models import to_datetime, to_seconds
from athena_mcp.store import triggers
from athena_mcp.store.database import Database, Row, Transaction

# Triggers handled per transaction, and events examined per event trigger in one: keeps each write
# transaction short when a backlog built up while no server ran.
BATCH = 200
EVENTS_PER_TRIGGER = 500

# Told the namespaces with new fired items, so the server can tell its clients.
FiringListener = Callable[[Sequence[str]], Awaitable[None]]


class Budget:
    """What each namespace may still fire in one pass: the pass's share, and the room left under the
    pending cap (counted afresh in each transaction, under the write lock that other processes'
    passes also take)."""

    def __init__(self, limits: TriggerLimits) -> None:
        self._limits = limits
        self._pass_left: dict[str, int] = {}
        self._room: dict[str, int] = {}
        self.spent: set[str] = set()  # namespaces that fire no more in this pass

    def new_transaction(self) -> None:
        self._room.clear()

    async def allows(self, tx: Transaction, namespace: str) -> int:
        """How many more occurrences the namespace may fire now (0: none, and none this pass)."""
        if namespace not in self._room:
            pending = await triggers.count_pending(tx, namespace, self._limits.pending)
            self._room[namespace] = self._limits.pending - pending
        left = min(self._pass_left.get(namespace, self._limits.per_pass), self._room[namespace])
        if left <= 0:
            self.spent.add(namespace)
        return max(left, 0)

    def use(self, namespace: str, fired: int) -> None:
        self._pass_left[namespace] = self._pass_left.get(namespace, self._limits.per_pass) - fired
        self._room[namespace] -= fired
        if min(self._pass_left[namespace], self._room[namespace]) <= 0:
            self.spent.add(namespace)


class TriggerWorker:
    def __init__(
        self, database: Database, on_fired: FiringListener | None = None, limits: TriggerLimits | None = None
    ) -> None:
        self._database = database
        self._on_fired = on_fired
        self._limits = limits or TriggerLimits()
        self._announced: int | None = None  # the newest firing id already passed to on_fired
        # One pass at a time in this process (the `due` tool runs one besides the loop).
        self._pass = asyncio.Lock()

    async def run_once(self, now: float | None = None) -> int:
        """Fire everything due at `now` (default: the clock), then announce the firings recorded since
        the last pass by any process. Returns how many occurrences this pass fired."""
        now = time.time() if now is None else now
        async with self._pass:
            if self._announced is None:
                self._announced = await triggers.newest_firing_id(self._database)
            budget = Budget(self._limits)
            fired = await self._fire_scheduled(now, budget) + await self._fire_on_events(now, budget)
            self._announced = await self._announce(self._announced)
        return fired

    async def _fire_scheduled(self, now: float, budget: Budget) -> int:
        fired = 0
        # Checked with a read first, so that an idle pass never takes the write lock. Each round
        # fires (and so moves on) a trigger or spends a namespace, which then drops out: it ends.
        while (
            earliest := await triggers.earliest_scheduled(self._database, sorted(budget.spent))
        ) is not None:
            if earliest > now:
                break
            async with self._database.transaction() as tx:
                budget.new_transaction()
                for row in await triggers.scheduled_by(tx, now, BATCH, sorted(budget.spent)):
                    if await budget.allows(tx, row["namespace"]):
                        recorded = await _fire_scheduled_trigger(tx, row, now)
                        budget.use(row["namespace"], recorded)
                        fired += recorded
        return fired

    async def _fire_on_events(self, now: float, budget: Budget) -> int:
        fired = 0
        while await triggers.watching_behind(self._database, 1, sorted(budget.spent)):
            async with self._database.transaction() as tx:
                budget.new_transaction()
                newest = await triggers.newest_memory_id(tx)
                for row in await triggers.watching_behind(tx, BATCH, sorted(budget.spent)):
                    if room := await budget.allows(tx, row["namespace"]):
                        recorded = await _examine_events(tx, row, newest, now, room)
                        budget.use(row["namespace"], recorded)
                        fired += recorded
        return fired

    async def _announce(self, since: int) -> int:
        """Tell on_fired of the firings after `since`; returns the newest firing id now announced."""
        newest = await triggers.firings_after(self._database, since)
        if newest and self._on_fired is not None:
            await self._on_fired(sorted(newest))
        return max(newest.values(), default=since)


async def _fire_scheduled_trigger(tx: Transaction, row: Row, now: float) -> int:
    occurrence, next_fire_at = row["next_fire_at"], None
    if row["kind"] == "cron":
        schedule = parse_cron(row["cron"])
        # After downtime only the latest missed occurrence fires, once: no storm of catch-up firings.
        latest = schedule.latest_at_or_before(to_datetime(now))
        occurrence, next_fire_at = to_seconds(latest), to_seconds(schedule.next_after(latest))
    fired = await triggers.record_firing(tx, row["id"], row["namespace"], occurrence, None, now)
    await triggers.advance(tx, row["id"], now, next_fire_at=next_fire_at, done=next_fire_at is None)
    return int(fired)


async def _examine_events(tx: Transaction, row: Row, newest: int, now: float, room: int) -> int:
    """Fire an event trigger on the events after its watermark (up to `newest`) that match it, at most
    `room` of them: its watermark then stops at the last one fired, so the rest are seen later."""
    events = await triggers.events_between(
        tx, row["namespace"], row["watermark"], newest, row["event_type"], EVENTS_PER_TRIGGER
    )
    # Fewer than a full batch means every event up to `newest` was seen (the type filter ran in SQL).
    watermark = newest if len(events) < EVENTS_PER_TRIGGER else events[-1]["id"]
    needle = None if row["text_contains"] is None else row["text_contains"].casefold()
    fired, done = 0, False
    for event in events:
        if needle is not None and needle not in event["content"].casefold():
            continue
        fired += await triggers.record_firing(tx, row["id"], row["namespace"], event["id"], event["id"], now)
        if not row["repeat"]:
            watermark, done = event["id"], True
            break
        if fired >= room:
            watermark = event["id"]
            break
    await triggers.advance(tx, row["id"], now, watermark=watermark, done=done)
    return fired
