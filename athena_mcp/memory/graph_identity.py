"""Which entity a name means: aliases, merging two entities into one (reversibly), and an entity's
full record with the history and provenance of its facts."""

from __future__ import annotations

import time
from collections.abc import Sequence

from athena_mcp.errors import Conflict, InvalidInput, NotFound
from athena_mcp.memory.graph import missing_entity
from athena_mcp.memory.graph_models import Aliases, EntityRecordView, FactView, Merged, MergeView, Unmerged
from athena_mcp.models import to_datetime, to_datetime_or_none
from athena_mcp.store import graph, graph_merges, graph_reads
from athena_mcp.store.database import Database, Transaction


class GraphIdentity:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def add_aliases(self, namespace: str, name: str, aliases: Sequence[str]) -> Aliases:
        async with self._database.transaction() as tx:
            now = time.time()
            entity_id = await _require(tx, namespace, name, "entityName")
            taken = await graph.resolve(tx, namespace, aliases)
            for index, alias in enumerate(aliases):
                owner = taken.get(graph.normalise(alias))
                if owner is not None and owner != entity_id:
                    raise Conflict(
                        f"aliases[{index}]: {alias!r} already names another entity; merge the two with "
                        "merge_entities, or choose another alias. Nothing was saved."
                    )
            new: dict[str, str] = {}
            for alias in aliases:
                if graph.normalise(alias) not in taken:
                    new.setdefault(graph.normalise(alias), alias)
            for alias in new.values():
                await graph.add_alias(tx, namespace, entity_id, alias, now)
            if new:
                await graph.bump_revision(tx, namespace)
                await graph.refresh_search(tx, [entity_id])
            current = await graph_reads.aliases_of(tx, [entity_id])
        return Aliases(entityName=name, aliases=current.get(entity_id, []))

    async def remove_aliases(self, namespace: str, name: str, aliases: Sequence[str]) -> Aliases:
        async with self._database.transaction() as tx:
            entity_id = await _require(tx, namespace, name, "entityName")
            if await graph.remove_aliases(tx, entity_id, aliases):
                await graph.bump_revision(tx, namespace)
                await graph.refresh_search(tx, [entity_id])
            current = await graph_reads.aliases_of(tx, [entity_id])
        return Aliases(entityName=name, aliases=current.get(entity_id, []))

    async def merge_entities(self, namespace: str, survivor: str, absorbed: str) -> Merged:
        """Fold `absorbed` into `survivor`: its facts move over, its name becomes an alias."""
        async with self._database.transaction() as tx:
            now = time.time()
            survivor_id = await _require(tx, namespace, survivor, "into")
            absorbed_id = await _require(tx, namespace, absorbed, "entityName")
            if survivor_id == absorbed_id:
                raise InvalidInput(
                    f"entityName: {absorbed!r} and {survivor!r} already name the same entity; "
                    "nothing to merge."
                )
            await graph.bump_revision(tx, namespace)
            merge_id, observations, relations = await graph_merges.merge(
                tx, namespace, survivor_id, absorbed_id, now
            )
            await graph.refresh_search(tx, [survivor_id])
            names = {row.id: row.name for row in await graph_reads.entities(tx, [survivor_id])}
        return Merged(
            merge_id=merge_id,
            survivor=names[survivor_id],
            absorbed=absorbed,
            observations_moved=observations,
            relations_moved=relations,
        )

    async def unmerge_entities(self, namespace: str, merge_id: int) -> Unmerged:
        """Undo a merge: the absorbed entity stands alone again with the facts it brought."""
        async with self._database.transaction() as tx:
            now = time.time()
            merge = await graph_merges.find_merge(tx, namespace, merge_id)
            if merge is None:
                raise NotFound(
                    f"merge_id: no merge {merge_id} in namespace {namespace!r}; get_entity lists merges."
                )
            if merge.unmerged_at is not None:
                raise Conflict(f"merge_id: merge {merge_id} was already undone.")
            latest = await graph_merges.latest_merge_into(tx, merge.survivor_id)
            if (await graph_reads.entities(tx, [merge.survivor_id])) == [] or latest != merge_id:
                raise Conflict(
                    f"merge_id: the entity merge {merge_id} folded into has changed since (merged again or "
                    "deleted); undo the later merges first, newest first."
                )
            await graph.bump_revision(tx, namespace)
            observations, relations = await graph_merges.unmerge(tx, merge, now)
            await graph.refresh_search(tx, [merge.survivor_id, merge.absorbed_id])
            [restored] = await graph_reads.entities(tx, [merge.absorbed_id])
        return Unmerged(
            merge_id=merge_id,
            restored=restored.name,
            observations_restored=observations,
            relations_restored=relations,
        )

    async def get_entity(
        self, namespace: str, name: str, as_of: float | None, history: bool, limit: int
    ) -> EntityRecordView:
        db = self._database
        ids = await graph.resolve(db, namespace, [name], as_of)
        entity_id = ids.get(graph.normalise(name))
        if entity_id is None:
            raise missing_entity("name", name, "Nothing to show")
        [entity] = await graph_reads.entities(db, [entity_id], as_of)
        created_at, sources = await graph_reads.entity_row(db, entity_id)
        observations, relations = await graph_reads.facts(db, entity_id, as_of, history, limit)
        return EntityRecordView(
            name=entity.name,
            entityType=entity.entity_type,
            aliases=(await graph_reads.aliases_of(db, [entity_id])).get(entity_id, []),
            created_at=to_datetime(created_at),
            source_memory_ids=list(sources),
            observations=[_fact(f) for f in observations[:limit]],
            relations=[_fact(f) for f in relations[:limit]],
            merges=[
                MergeView(
                    merge_id=merge_id,
                    survivor=survivor,
                    absorbed=absorbed,
                    merged_at=to_datetime(merged_at),
                    unmerged_at=to_datetime_or_none(unmerged_at),
                )
                for merge_id, survivor, absorbed, merged_at, unmerged_at in await graph_reads.merges_of(
                    db, entity_id
                )
            ],
            truncated=len(observations) > limit or len(relations) > limit,
        )


async def _require(tx: Transaction, namespace: str, name: str, field: str) -> int:
    entity_id = (await graph.resolve(tx, namespace, [name])).get(graph.normalise(name))
    if entity_id is None:
        raise missing_entity(field, name, "Nothing was changed")
    return entity_id


def _fact(fact: graph_reads.Fact) -> FactView:
    is_relation = fact.other is not None
    return FactView(
        text=fact.text,
        entity=fact.other,
        direction=("out" if fact.outgoing else "in") if is_relation else None,
        weight=fact.weight if is_relation else None,
        source_memory_ids=list(fact.sources),
        valid_from=to_datetime(fact.valid_from),
        valid_to=to_datetime_or_none(fact.valid_to),
    )
