"""SQL of what each namespace holds: the counts a user sees to tell which namespaces exist."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from athena_mcp.store.graph import Reader

# What each system counts as a live item: (name, table, condition). Every table's namespace index
# comes first, so each arm reads an index range.
_LIVE = (
    ("facts", "memories", "system = 'semantic' AND status = 'active'"),
    ("events", "memories", "system = 'episodic' AND status = 'active'"),
    ("procedures", "procedures", "status = 'active'"),
    ("open_tasks", "tasks", "status IN ('todo', 'in_progress', 'blocked')"),
    ("entities", "graph_entities", "status = 'active'"),
)
_COUNTS = " UNION ALL ".join(
    f"SELECT namespace, '{name}', count(*) FROM {table} WHERE {live} GROUP BY namespace"
    for name, table, live in _LIVE
)
_ANY_HELD = "SELECT " + " OR ".join(
    f"EXISTS (SELECT 1 FROM {table} WHERE {live} AND namespace IN (SELECT value FROM json_each(?)))"
    for _, table, live in _LIVE
)


@dataclass
class NamespaceCounts:
    namespace: str
    counts: dict[str, int] = field(default_factory=dict)


async def counts(db: Reader) -> list[NamespaceCounts]:
    """Every namespace that holds anything, by name, with its live items per system."""
    found: dict[str, NamespaceCounts] = {}
    for namespace, system, count in await db.fetchall(_COUNTS):
        found.setdefault(namespace, NamespaceCounts(namespace)).counts[system] = int(count)
    return [found[name] for name in sorted(found)]


async def hold_anything(db: Reader, names: Sequence[str]) -> bool:
    """Whether any of the namespaces holds a live item; stops at the first it finds."""
    listed = json.dumps(list(names))
    row = await db.fetchone(_ANY_HELD, [listed] * len(_LIVE))
    return bool(row and row[0])
