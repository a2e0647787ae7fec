"""Finding entities by text, as search_nodes does: a case-insensitive substring of the name, an
alias, the type or an observation.

Candidates come from the trigram index (queries of three or more characters), a LIKE filter (shorter
ASCII queries) or a walk of the namespace (shorter non-ASCII queries, and every search as of a past
time, since the index holds only the present); each is confirmed in Python with full case folding.
A call examines at most MAX_EXAMINED candidates, so a walk of a large namespace is paged rather than
done in one answer: the result then says where to resume even when it holds fewer hits than asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from athena_mcp.store import graph_reads
from athena_mcp.store.database import Database

SEARCH_BATCH = 200
MAX_EXAMINED = 2_000


@dataclass(frozen=True)
class Matches:
    entities: list[graph_reads.EntityRecord]
    # The last candidate examined when the cap stopped the search before the namespace's end.
    resume_after: int | None


async def find_entities(
    db: Database, namespace: str, query: str, after_id: int, limit: int, as_of: float | None
) -> Matches:
    """Up to `limit` entities matching `query`, in id order after `after_id`."""
    needle = query.casefold()
    found: list[graph_reads.EntityRecord] = []
    examined = 0
    while len(found) < limit:
        if as_of is None:
            ids = await graph_reads.search_candidates(db, namespace, query, after_id, SEARCH_BATCH)
        else:
            ids = await graph_reads.entity_page(db, namespace, after_id, SEARCH_BATCH, as_of)
        # Aliases are kept without history, so a search as of a time matches names only.
        aliases = {} if as_of is not None else await graph_reads.aliases_of(db, ids)
        for entity in await graph_reads.entities(db, ids, as_of):
            texts = (entity.name, entity.entity_type, *entity.observations, *aliases.get(entity.id, ()))
            if any(needle in text.casefold() for text in texts):
                found.append(entity)
                if len(found) == limit:
                    return Matches(found, None)
        examined += len(ids)
        if len(ids) < SEARCH_BATCH:
            break
        after_id = ids[-1]
        if examined >= MAX_EXAMINED:
            return Matches(found, after_id)
    return Matches(found, None)
