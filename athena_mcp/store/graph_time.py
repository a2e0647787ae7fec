"""SQL predicates for "now" and "as of" reads of the knowledge graph.

A fact (an observation or a relation) holds at t when valid_from <= t < valid_to. An entity is alive
at t when it was created by t, not deleted by t, and not folded into another by a merge that was in
force at t. With no time given, the same predicates read the current state through the partial
indexes (`valid_to IS NULL`, `status = 'active'`).
"""

from __future__ import annotations

Clause = tuple[str, list[object]]


def fact_holds(alias: str, as_of: float | None) -> Clause:
    """WHERE text (and its parameters) for the facts in table `alias` that hold at `as_of`."""
    if as_of is None:
        return f"{alias}.valid_to IS NULL", []
    return f"{alias}.valid_from <= ? AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ?)", [as_of, as_of]


def entity_alive(alias: str, as_of: float | None) -> Clause:
    """WHERE text (and its parameters) for the entities in table `alias` alive at `as_of`."""
    if as_of is None:
        return f"{alias}.status = 'active'", []
    return (
        f"{alias}.created_at <= ? AND ({alias}.deleted_at IS NULL OR {alias}.deleted_at > ?) "
        f"AND NOT EXISTS (SELECT 1 FROM graph_merges m WHERE m.absorbed_id = {alias}.id "
        "AND m.merged_at <= ? AND (m.unmerged_at IS NULL OR m.unmerged_at > ?))",
        [as_of, as_of, as_of, as_of],
    )
