"""What a briefing is made of: items in sections, each keeping the id the agent acts on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

SectionName = Literal["known", "lately", "open", "procedures", "involved"]
# Reading order, and each section's heading in the text.
SECTIONS: dict[SectionName, str] = {
    "known": "What is known",
    "lately": "What happened lately",
    "open": "What is open",
    "procedures": "How it was done before",
    "involved": "Who and what is involved",
}
ItemKind = Literal["fact", "event", "digest", "task", "reminder", "procedure", "entity", "relation"]

DEFAULT_BUDGET = 1500
MAX_BUDGET = 8000
MIN_BUDGET = 100


@dataclass(frozen=True)
class BriefingRequest:
    namespaces: tuple[str, ...]
    task: str | None = None
    # The session being briefed: its own events are not "what happened lately".
    session_id: str | None = None
    max_tokens: int = DEFAULT_BUDGET
    explain: bool = False


class BriefingItem(BaseModel):
    ref: str = Field(
        description="What to pass to get/update: memory 12, task 3, procedure 5, an entity's name"
    )
    kind: ItemKind
    text: str = Field(description="The line the briefing shows")
    value: float = Field(description="relevance x importance x recency x confidence, in [0, 1]; the rank")
    merged: list[str] = Field(default_factory=list, description="Near-duplicates shown as this one")
    why: str | None = Field(None, description="Why it was chosen (explain)")


class BriefingSection(BaseModel):
    name: SectionName
    items: list[BriefingItem]


class Briefing(BaseModel):
    namespaces: list[str]
    task: str | None
    sections: list[BriefingSection] = Field(description="Only sections with items, in reading order")
    text: str = Field(description="The briefing as the model reads it")
    tokens: int = Field(description="Tokens of `text`, by the embedding model's tokenizer")
    budget: int
    left_out: int = Field(description="Candidates that did not fit the budget")
    notice: str | None = None
