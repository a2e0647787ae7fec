"""Writes for the fault scenarios, each one's outcome, and the check of the file against them.

Every write carries text no other write has, so afterwards the database file alone tells whether
it is there in full, not at all, or in part. An acknowledged write must be there in full; a write
that failed with an error must not be there at all (its transaction was rolled back); a write
whose answer never came (a cancelled or timed-out call) may be either, but never in part.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaos.integrity import read_only
from chaos.process import ChaosServer, ToolFailed
from chaos.report import ScenarioReport, error_kind

Outcome = Literal["acked", "failed", "unanswered"]
# How many rows of each table a write puts there, by the text that identifies them.
_COUNTS = {
    "memories": "SELECT count(*) FROM memories WHERE content = ?",
    "entities": "SELECT count(*) FROM graph_entities WHERE name = ? AND status = 'active'",
    "observations": "SELECT count(*) FROM graph_observations WHERE content = ?",
}


@dataclass
class Write:
    tool: str
    arguments: dict[str, Any]
    rows: list[tuple[str, str]]  # (table in _COUNTS, identifying text): every row the write adds
    outcome: Outcome = "unanswered"
    error: str = ""


@dataclass
class WriteFactory:
    """Random writes across the memory systems: a fact with tags, a batch of events, graph entities."""

    rng: random.Random
    label: str
    made: int = 0
    entity_names: list[str] = field(default_factory=list)

    def next(self) -> Write:
        self.made += 1
        token = f"{self.label}-{self.made}"
        choice = self.rng.choice(("remember", "record_events", "create_entities", "add_observations"))
        if choice == "add_observations" and not self.entity_names:
            choice = "create_entities"
        if choice == "remember":
            content = f"Fact {token}: the deploy key rotates every {self.rng.randint(2, 90)} days"
            tags = [f"t{self.rng.randint(0, 9)}", "chaos"]
            return Write("remember", {"content": content, "tags": tags}, [("memories", content)])
        if choice == "record_events":
            contents = [f"Event {token}.{n}: step {n} of the migration ran" for n in range(3)]
            events = [{"content": c, "session_id": f"s-{token}", "event_type": "action"} for c in contents]
            return Write("record_events", {"events": events}, [("memories", c) for c in contents])
        if choice == "create_entities":
            names = [f"Service {token}.{n}" for n in range(2)]
            entities = [
                {"name": name, "entityType": "service", "observations": [f"{name} runs on port {n}"]}
                for n, name in enumerate(names)
            ]
            rows = [("entities", name) for name in names] + [
                ("observations", f"{name} runs on port {n}") for n, name in enumerate(names)
            ]
            return Write("create_entities", {"entities": entities}, rows)
        name = self.rng.choice(self.entity_names)
        text = f"Observation {token}: {name} was restarted"
        observations = [{"entityName": name, "contents": [text]}]
        return Write("add_observations", {"observations": observations}, [("observations", text)])

    def settled(self, write: Write) -> None:
        """Note what an answered write created, for later writes to build on."""
        if write.outcome == "acked":
            self.entity_names += [text for table, text in write.rows if table == "entities"]


async def attempt(server: ChaosServer, write: Write, report: ScenarioReport, seconds: float) -> Write:
    """Send one write and record its outcome and any client-visible error by kind."""
    report.tried += 1
    try:
        async with asyncio.timeout(seconds):
            await server.call(write.tool, write.arguments)
    except ToolFailed as exc:
        write.outcome, write.error = "failed", exc.text
        report.errors[error_kind(exc.text)] += 1
    except TimeoutError:
        write.outcome = "unanswered"
        report.errors["timeout"] += 1
    else:
        write.outcome = "acked"
        report.acknowledged += 1
    return write


def verify_writes(db: Path, writes: list[Write], report: ScenarioReport) -> dict[str, int]:
    """Count losses and half-written writes in the file (no server may have it open); returns how
    many writes were found whole, by outcome, for the report's notes."""
    whole: dict[str, int] = {"acked": 0, "failed": 0, "unanswered": 0}
    with read_only(db) as connection:
        for write in writes:
            found = [connection.execute(_COUNTS[table], (text,)).fetchone()[0] for table, text in write.rows]
            present = sum(1 for count in found if count > 0)
            if 0 < present < len(found) or any(count > 1 for count in found):
                report.half_written += 1
                report.problem(f"{write.tool} ({write.outcome}) partly stored: {write.rows}")
            elif present:
                whole[write.outcome] += 1
                if write.outcome == "failed":
                    # Told it failed, yet stored: a client that retries would store it twice.
                    report.problem(f"{write.tool} failed ({write.error[:120]}) but was stored")
            elif write.outcome == "acked":
                report.lost += 1
                report.problem(f"{write.tool} acknowledged but missing: {write.rows[0]}")
    return whole
