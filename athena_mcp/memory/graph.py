"""Graph memory: entities, their observations and the relations between them, per namespace.

The shapes and behaviour follow the reference MCP memory server (create skips existing names and
duplicate relations; add_observations to a missing entity fails and saves nothing; deleting an
entity ends its relations), with three deliberate differences: names that differ only in case or
whitespace (or match an alias) are one entity, a relation needs both of its entities to exist
(the reference's unreleased fix for dangling relations), and reads are bounded pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.store import graph
from athena_mcp.store.database import Database, Transaction

# Relations shown with the entities of a search or open_nodes answer, at most.
MAX_RELATIONS_SHOWN = 1000


class Entity(BaseModel):
    name: str
    entityType: str
    observations: list[str]


class Relation(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    relationType: str


class CreatedEntities(BaseModel):
    entities: list[Entity] = Field(
        description="The entities created; names that already existed are left out"
    )


class CreatedRelations(BaseModel):
    relations: list[Relation] = Field(
        description="The relations created; ones that already held are left out"
    )


class AddedObservations(BaseModel):
    entityName: str
    addedObservations: list[str]


class ObservationsAdded(BaseModel):
    results: list[AddedObservations]


class Deleted(BaseModel):
    success: bool
    message: str


class KnowledgeGraph(BaseModel):
    entities: list[Entity]
    relations: list[Relation]
    next_cursor: str | None = Field(
        default=None, description="Pass as cursor to get the next page; null when there is no more"
    )


@dataclass(frozen=True)
class NewEntity:
    name: str
    entity_type: str
    observations: tuple[str, ...]


@dataclass(frozen=True)
class RelationKey:
    source: str
    target: str
    relation_type: str


class GraphMemory:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def create_entities(self, namespace: str, entities: Sequence[NewEntity]) -> CreatedEntities:
        created: list[Entity] = []
        now = time.time()
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            taken = set(await graph.resolve(tx, namespace, (e.name for e in entities)))
            ids = []
            for entity in entities:
                key = graph.normalise(entity.name)
                if key in taken:
                    continue
                taken.add(key)
                entity_id = await graph.insert_entity(tx, namespace, entity.name, entity.entity_type, now)
                added = await graph.add_observations(tx, entity_id, entity.observations, now)
                ids.append(entity_id)
                created.append(Entity(name=entity.name, entityType=entity.entity_type, observations=added))
            await graph.refresh_search(tx, ids)
        return CreatedEntities(entities=created)

    async def create_relations(self, namespace: str, relations: Sequence[RelationKey]) -> CreatedRelations:
        created: list[Relation] = []
        now = time.time()
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await self._require(tx, namespace, relations, "relations", "No relation was saved")
            for relation in relations:
                source, target = ids[graph.normalise(relation.source)], ids[graph.normalise(relation.target)]
                if await graph.insert_relation(tx, namespace, source, target, relation.relation_type, now):
                    created.append(_relation(relation))
        return CreatedRelations(relations=created)

    async def add_observations(
        self, namespace: str, additions: Sequence[tuple[str, Sequence[str]]]
    ) -> ObservationsAdded:
        results = []
        now = time.time()
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await self._require_names(
                tx, namespace, [name for name, _ in additions], "observations", "entityName"
            )
            for name, contents in additions:
                entity_id = ids[graph.normalise(name)]
                added = await graph.add_observations(tx, entity_id, contents, now)
                results.append(AddedObservations(entityName=name, addedObservations=added))
            await graph.refresh_search(tx, ids.values())
        return ObservationsAdded(results=results)

    async def delete_entities(self, namespace: str, names: Sequence[str]) -> Deleted:
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, names)
            await graph.delete_entities(tx, sorted(set(ids.values())), time.time())
        asked = list(dict.fromkeys(names))
        missing = [name for name in asked if graph.normalise(name) not in ids]
        if not missing:
            return Deleted(success=True, message="Entities deleted successfully")
        found = len(asked) - len(missing)
        return Deleted(
            success=True,
            message=f"Deleted {found} of {len(asked)} entities. Not found: {', '.join(missing)}",
        )

    async def delete_observations(
        self, namespace: str, deletions: Sequence[tuple[str, Sequence[str]]]
    ) -> Deleted:
        now = time.time()
        requested = sum(len(contents) for _, contents in deletions)
        deleted = 0
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, (name for name, _ in deletions))
            for name, contents in deletions:
                entity_id = ids.get(graph.normalise(name))
                if entity_id is not None:
                    deleted += await graph.invalidate_observations(tx, entity_id, contents, now)
            await graph.refresh_search(tx, ids.values())
        if deleted == requested:
            return Deleted(success=True, message="Observations deleted successfully")
        missing = [name for name, _ in deletions if graph.normalise(name) not in ids]
        tail = f" Entities not found: {', '.join(dict.fromkeys(missing))}" if missing else ""
        return Deleted(success=True, message=f"Deleted {deleted} of {requested} observations.{tail}")

    async def delete_relations(self, namespace: str, relations: Sequence[RelationKey]) -> Deleted:
        now = time.time()
        deleted = 0
        async with self._database.transaction() as tx:
            await graph.bump_revision(tx, namespace)
            ids = await graph.resolve(tx, namespace, (n for r in relations for n in (r.source, r.target)))
            for relation in relations:
                source = ids.get(graph.normalise(relation.source))
                target = ids.get(graph.normalise(relation.target))
                if source is not None and target is not None:
                    deleted += await graph.invalidate_relation(
                        tx, source, target, relation.relation_type, now
                    )
        if deleted == len(relations):
            return Deleted(success=True, message="Relations deleted successfully")
        return Deleted(
            success=True,
            message=f"Deleted {deleted} of {len(relations)} relations. The rest matched nothing.",
        )

    async def read_graph(self, namespace: str, cursor: str | None, limit: int) -> KnowledgeGraph:
        """A page of the whole graph: every entity first, then every relation, like the reference."""
        phase, after_id = _decode(cursor)
        if phase == "s":
            raise _bad_cursor()
        entities: list[graph.EntityRecord] = []
        if phase == "e":
            ids = await graph.entity_page(self._database, namespace, after_id, limit + 1)
            entities = await graph.entities(self._database, ids[:limit])
            if len(ids) > limit:
                return _graph(entities, [], _encode("e", ids[limit - 1]))
            after_id, limit = 0, limit - len(entities)
            if limit == 0:
                more = await graph.relation_page(self._database, namespace, 0, 1)
                return _graph(entities, [], _encode("r", 0) if more else None)
        relations = await graph.relation_page(self._database, namespace, after_id, limit + 1)
        next_cursor = _encode("r", relations[limit - 1].id) if len(relations) > limit else None
        return _graph(entities, relations[:limit], next_cursor)

    async def search_nodes(
        self, namespace: str, query: str, cursor: str | None, limit: int
    ) -> KnowledgeGraph:
        """Entities whose name, type or an observation contains the query, any letter case."""
        phase, after_id = _decode(cursor)
        if phase != "s" and cursor is not None:
            raise _bad_cursor()
        needle = query.casefold()
        found: list[graph.EntityRecord] = []
        while len(found) <= limit:
            ids = await graph.search_candidates(self._database, namespace, query, after_id, 200)
            for entity in await graph.entities(self._database, ids):
                texts = (entity.name, entity.entity_type, *entity.observations)
                if any(needle in text.casefold() for text in texts):
                    found.append(entity)
            if len(ids) < 200:
                break
            after_id = ids[-1]
        next_cursor = _encode("s", found[limit - 1].id) if len(found) > limit else None
        return await self._with_relations(found[:limit], next_cursor)

    async def open_nodes(self, namespace: str, names: Sequence[str]) -> KnowledgeGraph:
        ids = await graph.resolve(self._database, namespace, names)
        return await self._with_relations(
            await graph.entities(self._database, sorted(set(ids.values()))), None
        )

    async def _with_relations(
        self, entities: list[graph.EntityRecord], next_cursor: str | None
    ) -> KnowledgeGraph:
        relations = await graph.relations_touching(
            self._database, [e.id for e in entities], MAX_RELATIONS_SHOWN
        )
        return _graph(entities, relations, next_cursor)

    async def _require(
        self, tx: Transaction, namespace: str, relations: Sequence[RelationKey], field: str, outcome: str
    ) -> dict[str, int]:
        ids = await graph.resolve(tx, namespace, (n for r in relations for n in (r.source, r.target)))
        for index, relation in enumerate(relations):
            for end, name in (("from", relation.source), ("to", relation.target)):
                if graph.normalise(name) not in ids:
                    raise _missing(f"{field}[{index}].{end}", name, outcome)
        return ids

    async def _require_names(
        self, tx: Transaction, namespace: str, names: Sequence[str], field: str, key: str
    ) -> dict[str, int]:
        ids = await graph.resolve(tx, namespace, names)
        for index, name in enumerate(names):
            if graph.normalise(name) not in ids:
                raise _missing(f"{field}[{index}].{key}", name, "Nothing was saved")
        return ids


def _missing(field: str, name: str, outcome: str) -> NotFound:
    # "Entity with name X not found" is the reference server's wording, which clients may match.
    return NotFound(
        f"{field}: Entity with name {name} not found in this namespace. {outcome}; "
        "create the entity with create_entities first."
    )


def _relation(relation: RelationKey | graph.RelationRecord) -> Relation:
    return Relation.model_validate(
        {"from": relation.source, "to": relation.target, "relationType": relation.relation_type}
    )


def _graph(
    entities: list[graph.EntityRecord], relations: list[graph.RelationRecord], next_cursor: str | None
) -> KnowledgeGraph:
    return KnowledgeGraph(
        entities=[
            Entity(name=e.name, entityType=e.entity_type, observations=list(e.observations)) for e in entities
        ],
        relations=[_relation(r) for r in relations],
        next_cursor=next_cursor,
    )


def _encode(phase: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([phase, last_id]).encode()).decode()


def _decode(cursor: str | None) -> tuple[str, int]:
    """(phase, last id) of a cursor made by _encode: e entities, r relations, s search hits."""
    if cursor is None:
        return "e", 0
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if isinstance(position, list) and len(position) == 2:
            phase, last_id = position
            if phase in ("e", "r", "s") and type(last_id) is int and 0 <= last_id < 2**63:
                return phase, last_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _bad_cursor()


def _bad_cursor() -> InvalidInput:
    return InvalidInput("cursor: not a cursor returned by this tool; omit it to start from the beginning.")
