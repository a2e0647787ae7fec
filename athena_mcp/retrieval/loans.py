"""Score lent between memories: neighbouring-event context and graph expansion both lend a share of
a strong candidate's score to memories related to it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from athena_mcp.retrieval.fusion import FusedCandidate
from athena_mcp.store import memories
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter

Loan = TypeVar("Loan")


async def apply_loans(
    database: Database,
    candidates: list[FusedCandidate],
    loans: Mapping[int, Loan],
    memory_filter: MemoryFilter,
    amount: Callable[[Loan], float],
    mark: Callable[[FusedCandidate, Loan], None],
) -> list[FusedCandidate]:
    """The candidates with each memory's loan (`amount` of it) added to its score and recorded by
    `mark`, best first. A loan to a memory that is not a candidate brings it in on that loan alone,
    if it passes the search's filter; it is found among all the candidates, never added twice."""
    known = {candidate.id: candidate for candidate in candidates}
    allowed = await memories.ids_matching(database, [m for m in loans if m not in known], memory_filter)
    lifted = list(candidates)
    for memory_id, loan in loans.items():
        candidate = known.get(memory_id)
        if candidate is None:
            if memory_id not in allowed:
                continue
            candidate = FusedCandidate(memory_id)
            lifted.append(candidate)
        candidate.fused += amount(loan)
        mark(candidate, loan)
    return sorted(lifted, key=lambda c: (-c.fused, -c.id))
