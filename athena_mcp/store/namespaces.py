"""SQL of what each namespace holds: the counts a user sees to tell which namespaces exist."""

from __future__ import annotations

from dataclasses import dataclass, field

from athena_mcp.store.graph import Reader

# One row per namespace and system; each arm reads an index whose first column is the namespace.
_COUNTS = """
SELECT namespace, 'facts', count(*) FROM memories WHERE system = 'semantic' AND status = 'active'
GROUP BY namespace
UNION ALL SELECT namespace, 'events', count(*) FROM memories WHERE system = 'episodic' AND status = 'active'
GROUP BY namespace
UNION ALL SELECT namespace, 'procedures', count(*) FROM procedures WHERE status = 'active' GROUP BY namespace
UNION ALL SELECT namespace, 'open_tasks', count(*) FROM tasks
WHERE status IN ('todo', 'in_progress', 'blocked') GROUP BY namespace
UNION ALL SELECT namespace, 'entities', count(*) FROM graph_entities WHERE status = 'active'
GROUP BY namespace
"""


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
