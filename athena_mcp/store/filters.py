"""Filters as SQL: one description of "which memories may match", used by every index.

Filters are applied inside each search (in the FTS join and in the vector scan), never after a
top-k cut, so a selective filter cannot starve the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEMS = ("semantic", "episodic")


@dataclass(frozen=True)
class MemoryFilter:
    namespaces: tuple[str, ...]
    systems: tuple[str, ...] = SYSTEMS
    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # every listed tag must be present
    session_id: str | None = None
    since: float | None = None  # inclusive, seconds since the epoch
    until: float | None = None  # exclusive
    statuses: tuple[str, ...] = (
        "active",
    )  # searches only ever see active memories; listings may ask for more

    def memory_clause(self, alias: str = "m") -> tuple[str, list[Any]]:
        """Conditions on the `memories` row `alias`."""
        parts = [
            _in(f"{alias}.status", self.statuses),
            _in(f"{alias}.namespace", self.namespaces),
            _in(f"{alias}.system", self.systems),
        ]
        params: list[Any] = [*self.statuses, *self.namespaces, *self.systems]
        extra, extra_params = self._extra_conditions(alias)
        return " AND ".join(parts + extra), params + extra_params

    def vector_clause(self) -> tuple[str, list[Any]]:
        """`AND ...` conditions for a vec0 KNN query over the vector index (active memories only)."""
        self.require_active_only()
        sql = f"AND active = 1 AND {_in('namespace', self.namespaces)} AND {_in('system', self.systems)}"
        params: list[Any] = [*self.namespaces, *self.systems]
        extra, extra_params = self._extra_conditions("m")
        if extra:
            sql += f" AND rowid IN (SELECT m.id FROM memories m WHERE {' AND '.join(extra)})"
            params += extra_params
        return sql, params

    def require_active_only(self) -> None:
        """Vector indexes (vec0 and its in-memory copy) hold active memories only."""
        if self.statuses != ("active",):
            raise ValueError("the vector index serves active memories only")

    def has_extra_conditions(self) -> bool:
        """Whether the filter asks for more than the vector index holds (namespace, system, active)."""
        return bool(self._extra_conditions("m")[0])

    def _extra_conditions(self, alias: str) -> tuple[list[str], list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.kinds:
            parts.append(_in(f"{alias}.kind", self.kinds))
            params += self.kinds
        if self.tags:
            parts.append(
                f"(SELECT count(*) FROM memory_tags t WHERE t.memory_id = {alias}.id AND "
                f"{_in('t.tag', self.tags)}) = ?"
            )
            params += [*self.tags, len(set(self.tags))]
        if self.session_id is not None:
            parts.append(f"{alias}.session_id = ?")
            params.append(self.session_id)
        if self.since is not None:
            parts.append(f"{alias}.occurred_at >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append(f"{alias}.occurred_at < ?")
            params.append(self.until)
        return parts, params


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"
