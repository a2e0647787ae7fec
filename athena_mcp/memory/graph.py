"""Graph memory: entities, their observations and the relations between them, per namespace.

The shapes and behaviour follow the reference MCP memory server (create skips existing names and
duplicate relations; add_observations to a missing entity fails and saves nothing; deleting an
entity ends its relations), with deliberate differences listed in the README: names that differ
only in case or whitespace (or match an alias) are one entity, a relation needs both of its
entities, facts are ended rather than erased (so every read can ask `as_of` a time), and reads are
bounded pages. Write times are taken inside the write transaction, after any wait for the lock,
so that facts written by several processes are ordered as they were committed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.memory import graph_search
from athena_mcp.memory.cursors import decode_phase_cursor, encode_cursor
from athena_mcp.memory.entity_linking import NameMatcher
from athena_mcp.memory.graph_models import (
    AddedObservations,
    CreatedEntities,
    CreatedRelations,
    Deleted,
    Entity,
    GraphAdded,
    KnowledgeGraph,
    NewEntity,
    NewRelation,
    ObservationBatch,
    ObservationsAdded,
    Relation,
    RelationKey,
)
from athena_mcp.store import graph, graph_reads, mentions
from athena_mcp.store.database import Database, Transaction

# Relations shown with the entities of a search or open_nodes answer, at most (relations_truncated
# says when there were more).
MAX_RELATIONS_SHOWN = 1000


class GraphMemory:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def create_entities(self, namespace: str, entities: Sequence[NewEntity]) -> CreatedEntities:
        async with self._database.transaction() as tx:
            now = time.time()
            await require_sources(tx, namespace, (s for e in entities for s in e.sources))
            await graph.bump_revision(tx, namespace)
            created, _ = await _insert_entities(tx, namespace, entities, now, observe_existing=False)
        return CreatedEntities(entities=created)

    async def create_relations(self, namespace: str, relations: Sequence[NewRelation]) -> CreatedRelations:
        async with self._database.transaction() as tx:
            now = time.time()
            await require_sources(tx, namespace, (s for r in relations for s in r.sources))
            await graph.bump_revision(tx, namespace)
            return await _insert_relations(tx, namespace, relations, "relations", now)

    async def add(
        self, namespace: str, entities: Sequence[NewEntity], relations: Sequence[NewRelation]
    ) -> GraphAdded:
        """Entities (new ones created, known ones given the new observations), then relations among
        any entities, in one transaction: all of it is saved or none."""
        async with self._database.transaction() as tx:
            now = time.time()
            sources = [*(s for e in entities for s in e.sources), *(s for r in relations for s in r.sources)]
            await require_sources(tx, namespace, sources)
            await graph.bump_revision(tx, namespace)
            created, observed = await _insert_entities(tx, namespace, entities, now, observe_existing=True)
            linked = await _insert_relations(tx, namespace, relations, "relations", now)
        return GraphAdded(
            entities=created, observations=observed, relations=linked.relations, ended=linked.ended
        )

    async def about(
        self, namespace: str, query: str, memory_ids: Sequence[int], limit: int
    ) -> KnowledgeGraph:
        """The entities a question names, then those its memories mention (best memory first), with
        their relations: what recall shows of the graph."""
        matcher = NameMatcher(await mentions.known_names(self._database, namespace))
        names = sorted(matcher.find(query))
        mentioned = await mentions.names_mentioned(self._database, memory_ids)
        for memory_id in memory_ids:
            held_in, names_of_memory = mentioned.get(memory_id, (namespace, []))
            # A memory of another namespace searched in the same call must not bring in this one's entities.
            if held_in == namespace:
                names += names_of_memory
        ids = await graph.resolve(self._database, namespace, dict.fromkeys(names))
        wanted = list(dict.fromkeys(ids[name] for name in names if name in ids))[:limit]
        records = {e.id: e for e in await graph_reads.entities(self._database, wanted)}
        return await self._with_relations([records[i] for i in wanted if i in records], None, None)

    async def add_observations(
        self, namespace: str, batches: Sequence[ObservationBatch]
    ) -> ObservationsAdded:
        results = []
        async with self._database.transaction() as tx:
            now = time.time()
            await require_sources(tx, namespace, (s for b in batches for s in b.sources))
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, (b.entity_name for b in batches))
            for index, batch in enumerate(batches):
                if graph.normalise(batch.entity_name) not in ids:
                    raise missing_entity(
                        f"observations[{index}].entityName", batch.entity_name, "Nothing was saved"
                    )
            for batch in batches:
                entity_id = ids[graph.normalise(batch.entity_name)]
                added = await graph.add_observations(tx, entity_id, batch.contents, batch.sources, now)
                results.append(AddedObservations(entityName=batch.entity_name, addedObservations=added))
            await graph.refresh_search(tx, ids.values())
        return ObservationsAdded(results=results)

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> Deleted:
        """Delete entities by their own names; an alias deletes nothing, since after a merge the old
        duplicate's name is an alias of the entity that absorbed it."""
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, names, aliases=False)
            await graph.delete_entities(tx, sorted(set(ids.values())), time.time())
            aliases = await graph.resolve(
                tx, namespace, [name for name in names if graph.normalise(name) not in ids]
            )
        asked: dict[str, str] = {}
        for name in names:
            asked.setdefault(graph.normalise(name), name)
        missing = [name for key, name in asked.items() if key not in ids]
        if not missing:
            return Deleted(success=True, message="Entities deleted successfully")
        tail = (
            " (aliases, not names: delete an entity by its own name, or remove an alias with remove_aliases)"
            if aliases
            else ""
        )
        return Deleted(
            success=True,
            message=f"Deleted {len(asked) - len(missing)} of {len(asked)} entities. "
            f"Not found: {', '.join(missing)}{tail}",
        )

    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]]
    ) -> Deleted:
        wanted: dict[str, dict[str, None]] = {}
        given: dict[str, str] = {}  # each normalised name as the caller first wrote it
        for name, contents in deletions:
            wanted.setdefault(graph.normalise(name), {}).update(dict.fromkeys(contents))
            given.setdefault(graph.normalise(name), name)
        deleted = 0
        async with self._database.transaction() as tx:
            now = time.time()
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, wanted)
            for name, held in wanted.items():
                if name in ids:
                    deleted += len(await graph.end_observations(tx, ids[name], list(held), now))
            await graph.refresh_search(tx, ids.values())
        requested = sum(len(held) for held in wanted.values())
        if deleted == requested:
            return Deleted(success=True, message="Observations deleted successfully")
        missing = [given[name] for name in wanted if name not in ids]
        tail = f" Entities not found: {', '.join(missing)}" if missing else ""
        return Deleted(
            success=True,
            message=f"Deleted {deleted} of {requested} observations; the rest were not held.{tail}",
        )

    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> Deleted:
        keys = list(
            dict.fromkeys(
                (graph.normalise(r.source), graph.normalise(r.target), r.relation_type) for r in relations
            )
        )
        deleted = 0
        async with self._database.transaction() as tx:
            now = time.time()
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, (name for key in keys for name in key[:2]))
            for source, target, relation_type in keys:
                if source in ids and target in ids:
                    deleted += await graph.end_relation(tx, ids[source], ids[target], relation_type, now)
        if deleted == len(keys):
            return Deleted(success=True, message="Relations deleted successfully")
        return Deleted(
            success=True, message=f"Deleted {deleted} of {len(keys)} relations. The rest matched nothing."
        )

    async def read_graph(
        self, namespace: str, cursor: str | None, limit: int, as_of: float | None = None
    ) -> KnowledgeGraph:
        """A page of the whole graph: every entity first, then every relation, like the reference."""
        phase, after_id = (
            ("e", 0) if cursor is None else decode_phase_cursor(cursor, "read_graph", ("e", "r"))
        )
        db = self._database
        entities: list[graph_reads.EntityRecord] = []
        if phase == "e":
            ids = await graph_reads.entity_page(db, namespace, after_id, limit + 1, as_of)
            entities = await graph_reads.entities(db, ids[:limit], as_of)
            if len(ids) > limit:
                return knowledge_graph(entities, [], encode_cursor(ids[limit - 1], "e"))
            after_id, limit = 0, limit - len(entities)
            if limit == 0:
                more = await graph_reads.relation_page(db, namespace, 0, 1, as_of)
                return knowledge_graph(entities, [], encode_cursor(0, "r") if more else None)
        relations = await graph_reads.relation_page(db, namespace, after_id, limit + 1, as_of)
        next_cursor = encode_cursor(relations[limit - 1].id, "r") if len(relations) > limit else None
        return knowledge_graph(entities, relations[:limit], next_cursor)

    async def search_nodes(
        self, namespace: str, query: str, cursor: str | None, limit: int, as_of: float | None = None
    ) -> KnowledgeGraph:
        """Entities whose name, alias, type or an observation contains the query, any letter case. A
        page may hold fewer than `limit` (even none) with a next_cursor when the search had to walk
        the namespace: it examines at most graph_search.MAX_EXAMINED candidates a call."""
        after_id = 0 if cursor is None else decode_phase_cursor(cursor, "search_nodes", ("s",))[1]
        found = await graph_search.find_entities(self._database, namespace, query, after_id, limit + 1, as_of)
        entities = found.entities[:limit]
        if len(found.entities) > limit:
            next_cursor: str | None = encode_cursor(entities[-1].id, "s")
        elif found.resume_after is not None:
            next_cursor = encode_cursor(found.resume_after, "s")
        else:
            next_cursor = None
        return await self._with_relations(entities, next_cursor, as_of)

    async def open_nodes(
        self, namespace: str, names: Sequence[str], as_of: float | None = None
    ) -> KnowledgeGraph:
        ids = await graph.resolve(self._database, namespace, names, as_of)
        entities = await graph_reads.entities(self._database, sorted(set(ids.values())), as_of)
        return await self._with_relations(entities, None, as_of)

    async def rebuild_search_index(self) -> int:
        """Recreate the derived search index of every namespace; returns the entities indexed."""
        async with self._database.transaction() as tx:
            return await graph.rebuild_search(tx)

    async def _with_relations(
        self, entities: list[graph_reads.EntityRecord], next_cursor: str | None, as_of: float | None
    ) -> KnowledgeGraph:
        relations = await graph_reads.relations_touching(
            self._database, [e.id for e in entities], MAX_RELATIONS_SHOWN + 1, as_of
        )
        result = knowledge_graph(entities, relations[:MAX_RELATIONS_SHOWN], next_cursor)
        result.relations_truncated = len(relations) > MAX_RELATIONS_SHOWN
        return result


async def _insert_entities(
    tx: Transaction, namespace: str, entities: Sequence[NewEntity], now: float, *, observe_existing: bool
) -> tuple[list[Entity], list[AddedObservations]]:
    """Create the entities whose names are new; a known name gets its sources, and with
    `observe_existing` its new observations too (create_entities, like the reference, skips them)."""
    created: list[Entity] = []
    observed: list[AddedObservations] = []
    taken = await graph.resolve(tx, namespace, (e.name for e in entities))
    for entity in entities:
        key = graph.normalise(entity.name)
        if key in taken:
            await graph.add_sources(tx, "graph_entities", taken[key], entity.sources)
            if observe_existing and entity.observations:
                added = await graph.add_observations(tx, taken[key], entity.observations, entity.sources, now)
                observed.append(AddedObservations(entityName=entity.name, addedObservations=added))
            continue
        entity_id = await graph.insert_entity(
            tx, namespace, entity.name, entity.entity_type, entity.sources, now
        )
        taken[key] = entity_id
        added = await graph.add_observations(tx, entity_id, entity.observations, entity.sources, now)
        created.append(Entity(name=entity.name, entityType=entity.entity_type, observations=added))
    await graph.refresh_search(tx, taken.values())
    return created, observed


async def _insert_relations(
    tx: Transaction, namespace: str, relations: Sequence[NewRelation], field: str, now: float
) -> CreatedRelations:
    created: list[Relation] = []
    ended = 0
    ids = await require_ends(tx, namespace, [r.key for r in relations], field, "No relation was saved")
    for relation in relations:
        key = relation.key
        source, target = ids[graph.normalise(key.source)], ids[graph.normalise(key.target)]
        if relation.exclusive:
            ended += await graph.end_other_targets(tx, source, key.relation_type, target, now)
        if await graph.insert_relation(
            tx, namespace, (source, target), key.relation_type, relation.weight, relation.sources, now
        ):
            created.append(relation_view(key))
    return CreatedRelations(relations=created, ended=ended)


async def require_ends(
    tx: Transaction, namespace: str, relations: Sequence[RelationKey], field: str, outcome: str
) -> dict[str, int]:
    """Ids of both ends of every relation; NotFound naming the first missing end otherwise."""
    ids = await graph.resolve(tx, namespace, (n for r in relations for n in (r.source, r.target)))
    for index, relation in enumerate(relations):
        for end, name in (("from", relation.source), ("to", relation.target)):
            if graph.normalise(name) not in ids:
                raise missing_entity(f"{field}[{index}].{end}", name, outcome)
    return ids


async def require_sources(tx: Transaction, namespace: str, memory_ids: Iterable[int]) -> None:
    wanted = set(memory_ids)
    unknown = sorted(wanted - await graph_reads.memories_in(tx, namespace, sorted(wanted)))
    if unknown:
        raise InvalidInput(
            f"source_memory_ids: no memory {', '.join(map(str, unknown[:10]))} in namespace {namespace!r}; "
            "cite ids returned by remember, record_event or recall in the same namespace. Nothing was saved."
        )


def missing_entity(field: str, name: str, outcome: str) -> NotFound:
    # "Entity with name X not found" is the reference server's wording, which clients may match.
    return NotFound(
        f"{field}: Entity with name {name} not found in this namespace. {outcome}; "
        "create the entity with create_entities first."
    )


def relation_view(relation: RelationKey | graph_reads.RelationRecord) -> Relation:
    return Relation.model_validate(
        {"from": relation.source, "to": relation.target, "relationType": relation.relation_type}
    )


def knowledge_graph(
    entities: list[graph_reads.EntityRecord],
    relations: list[graph_reads.RelationRecord],
    next_cursor: str | None,
) -> KnowledgeGraph:
    return KnowledgeGraph(
        entities=[
            Entity(name=e.name, entityType=e.entity_type, observations=list(e.observations)) for e in entities
        ],
        relations=[relation_view(r) for r in relations],
        next_cursor=next_cursor,
    )
