"""Domain models shared by the memory systems and returned by the tools as structured results, and the
value types that lower layers share (the store and the embedders both name an embedding model)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from athena_mcp.caller import Origin
from athena_mcp.governance import Flag, flags_of

MemorySystem = Literal["semantic", "episodic"]
Status = Literal["active", "forgotten"]
Outcome = Literal["success", "failure", "partial", "unknown"]
# low: the text reads like an instruction or carries a secret; high: the server saw it happen (an
# editor hook); medium: an agent's, an import's or consolidation's word.
Trust = Literal["high", "medium", "low"]


def trust_of(origin: Origin | None, flags: list[Flag]) -> Trust:
    if flags:
        return "low"
    return "high" if origin in ("hook", "user") else "medium"


@dataclass(frozen=True)
class EmbeddingIdentity:
    """Which model produced the stored vectors."""

    model: str
    dimension: int

    def describe(self) -> str:
        return f"{self.model} ({self.dimension}-d)"


class Memory(BaseModel):
    """One stored memory: a fact or note (semantic) or an event (episodic)."""

    id: int
    content: str
    system: MemorySystem = Field(description="semantic for facts and notes, episodic for events")
    kind: str = Field(description="The memory's kind; for events, the event type")
    namespace: str
    tags: list[str]
    importance: float
    source: str | None = None
    timestamp: datetime = Field(description="When it happened or became known (UTC)")
    created_at: datetime
    updated_at: datetime
    status: Status = "active"
    version: int = 1
    event_type: str | None = None
    session_id: str | None = None
    outcome: Outcome | None = None
    context: dict[str, Any] | None = None
    forget_reason: str | None = None
    origin: Origin | None = Field(None, description="How it came, as the server saw it")

    # Cached: an answer reads it several times per memory (its dump, `trust`, the text rendering),
    # and each scan is ~80 us of regular expressions (4 ms of a 10-hit recall, uncached).
    @computed_field(description="instruction: reads like an instruction to the model; secret: holds one")  # type: ignore[prop-decorator]
    @cached_property
    def flags(self) -> list[Flag]:
        return flags_of(self.content)

    @computed_field(description="low: flagged; high: seen by the server (hook); else medium")  # type: ignore[prop-decorator]
    @property
    def trust(self) -> Trust:
        return trust_of(self.origin, self.flags)


class MemoryVersion(BaseModel):
    """An earlier version of an updated memory, kept when it was superseded."""

    version: int
    content: str
    kind: str
    tags: list[str]
    importance: float
    source: str | None
    valid_from: datetime
    superseded_at: datetime
    change_reason: str | None


class SignalExplanation(BaseModel):
    rank: int = Field(description="1-based rank of this memory in that signal's own list")
    score: float = Field(description="BM25 score (lexical) or cosine similarity (dense)")
    contribution: float = Field(description="What this signal added to the fused score")


class ContextExplanation(BaseModel):
    neighbour: int = Field(description="The adjacent event (same session) that lent this one context")
    contribution: float = Field(description="What that context added to the fused score")


class GraphExplanation(BaseModel):
    via: int = Field(description="The better-ranked result that mentions the same entity or name")
    entity: str = Field(description="The entity (or, when it is no entity, the name) both mention")
    entity_id: int | None = Field(description="The entity's id; null when the name is no entity")
    contribution: float = Field(description="What the shared mention added to the fused score")


class Explanation(BaseModel):
    lexical: SignalExplanation | None = None
    dense: SignalExplanation | None = None
    context: ContextExplanation | None = None
    window: str | None = Field(None, description="Time the query names, when the hit is of it")
    graph: GraphExplanation | None = None
    fused: float = Field(
        description="Weighted sum of the signals' rescaled scores plus any context, before normalisation"
    )
    coverage: float | None = Field(None, description="BM25 over the best possible for the query (score part)")
    relative: float | None = Field(None, description="Fused score over the best possible (score part)")


class RecallHit(Memory):
    score: float = Field(description="Calibrated relevance in [0, 1]: about the chance it answers the query")
    explain: Explanation | None = None


class SearchResult(BaseModel):
    results: list[RecallHit]
    mode: Literal["hybrid", "lexical", "dense"] = Field(description="Which signals produced the ranking")
    notice: str | None = Field(None, description="Why the search ran in a reduced mode, if it did")
    truncated: bool = Field(False, description="True when max_tokens cut the list short")


RunOutcome = Literal["success", "failure", "partial"]


class ProcedureStats(BaseModel):
    """How well a procedure has worked, from its recorded runs."""

    runs: int
    successes: int
    failures: int
    partials: int
    success_rate: float | None = Field(
        description="(successes + partials / 2) / runs; null before the first run"
    )
    confidence: float = Field(
        description="Estimated chance that the next run succeeds: (successes + partials / 2 + 1) / (runs + 2)"
    )
    mean_duration: float | None = Field(description="Mean seconds over the runs that reported a duration")
    last_used_at: datetime | None = Field(description="When a run was last recorded")


class ProcedureSummary(BaseModel):
    """A procedure without its steps: what a listing shows."""

    id: int
    namespace: str
    name: str
    goal: str
    tags: list[str]
    origin: Literal["saved", "learned"] = Field(
        description="saved by an agent, or learned by consolidation from repeated sessions"
    )
    status: Literal["active", "retired"]
    validation: Literal["unvalidated", "validated", "rejected"]
    stats: ProcedureStats
    created_at: datetime
    updated_at: datetime


class Procedure(ProcedureSummary):
    steps: list[str] = Field(description="The steps, in order")
    preconditions: list[str]
    expected_outcome: str | None
    source_session_id: str | None = Field(description="The session it was written from, if given")
    source_event_ids: list[int] = Field(description="The events it was written from, if given")
    retired_at: datetime | None
    retire_reason: str | None


class ProcedureRun(BaseModel):
    """One execution: reported with record_execution, or found by consolidation in a session."""

    id: int
    source: Literal["execution", "session"]
    outcome: RunOutcome
    duration: float | None = Field(description="Seconds, if reported")
    notes: str | None
    session_id: str | None
    event_ids: list[int]
    recorded_at: datetime


def confidence(successes: int, failures: int, runs: int) -> float:
    """The estimated chance that a procedure's next run succeeds: the mean of the Beta posterior
    under a uniform prior,

        confidence = (successes + partials / 2 + 1) / (runs + 2)

    so a procedure never run stands at 0.5 and each run moves it, by less the more runs there were.
    A partial run (`runs - successes - failures` of them) counts as half a success and half a
    failure: it got somewhere, but not all the way."""
    partials = runs - successes - failures
    return (successes + partials / 2 + 1) / (runs + 2)


def to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def to_datetime_or_none(seconds: float | None) -> datetime | None:
    return None if seconds is None else to_datetime(seconds)


def to_seconds(moment: datetime) -> float:
    """Seconds since the epoch; a time without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def to_seconds_or_none(moment: datetime | None) -> float | None:
    return None if moment is None else to_seconds(moment)
