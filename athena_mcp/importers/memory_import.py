"""Import a checked reference memory file into one namespace's graph, through GraphMemory, in batches.

Re-running an import changes nothing: existing entities, observations and relations are skipped.
Where the reference keeps two entities (names differing only in case, or one name on two lines,
which its create_entities let through), here they are one entity: the first line gives its name
and type, and the observations of every line are added, none dropped. Relations with a missing end,
which the reference stored, are skipped and reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from athena_mcp.errors import InvalidInput
from athena_mcp.fields import Namespace
from athena_mcp.importers.memory_file import FileRelation, MemoryFile
from athena_mcp.memory.graph import GraphMemory
from athena_mcp.memory.graph_models import MAX_BATCH, NewEntity, NewRelation, ObservationBatch
from athena_mcp.store import graph
from athena_mcp.store.database import Database

# Dangling relations named in the summary; the count covers the rest.
DANGLING_SHOWN = 5

T = TypeVar("T")


@dataclass
class ImportSummary:
    namespace: str
    entities_created: int = 0
    entities_skipped: int = 0
    observations_added: int = 0
    relations_created: int = 0
    relations_skipped: int = 0
    dangling: list[FileRelation] = field(default_factory=list)

    def describe(self, seconds: float) -> str:
        named = "; ".join(
            f"line {r.line}: {r.key.source} -> {r.key.target} ({r.key.relation_type})"
            for r in self.dangling[:DANGLING_SHOWN]
        )
        more = ", ..." if len(self.dangling) > DANGLING_SHOWN else ""
        return (
            f"imported into namespace {self.namespace!r} in {seconds:.2f} s\n"
            f"  entities: {self.entities_created} created, {self.entities_skipped} skipped "
            "(already present, or named again in the file)\n"
            f"  observations: {self.observations_added} added\n"
            f"  relations: {self.relations_created} created, {self.relations_skipped} skipped "
            f"(already present), {len(self.dangling)} dangling (an end is not an entity)"
            + (f": {named}{more}" if self.dangling else "")
        )


def checked_namespace(namespace: str) -> str:
    try:
        return TypeAdapter(Namespace).validate_python(namespace)
    except ValidationError:
        raise InvalidInput(
            f"--namespace: {namespace!r} is not a namespace; use letters, digits and _.:/@- "
            "(up to 128 characters, starting with a letter or digit)."
        ) from None


async def import_memory_file(
    memory: GraphMemory, database: Database, namespace: str, memory_file: MemoryFile
) -> ImportSummary:
    """Write the file's entities, then the observations of entities already present, then relations."""
    summary = ImportSummary(namespace)
    merged = _merge(memory_file.entities)
    summary.entities_skipped = len(memory_file.entities) - len(merged)

    present = await graph.resolve(database, namespace, (e.name for e in merged.values()))
    created: set[str] = set()
    for entities in _batches([e for key, e in merged.items() if key not in present]):
        for entity in (await memory.create_entities(namespace, entities)).entities:
            created.add(graph.normalise(entity.name))
            summary.observations_added += len(entity.observations)
    summary.entities_created = len(created)
    summary.entities_skipped += len(merged) - len(created)

    # Includes any entity another process created between the lookup and the write.
    additions = [
        ObservationBatch(e.name, e.observations)
        for key, e in merged.items()
        if key not in created and e.observations
    ]
    for some in _batches(additions):
        for result in (await memory.add_observations(namespace, some)).results:
            summary.observations_added += len(result.addedObservations)

    ends = await graph.resolve(
        database, namespace, (name for r in memory_file.relations for name in (r.key.source, r.key.target))
    )
    ready: list[NewRelation] = []
    for relation in memory_file.relations:
        if graph.normalise(relation.key.source) in ends and graph.normalise(relation.key.target) in ends:
            ready.append(NewRelation(relation.key))
        else:
            summary.dangling.append(relation)
    for relations in _batches(ready):
        summary.relations_created += len((await memory.create_relations(namespace, relations)).relations)
    summary.relations_skipped = len(ready) - summary.relations_created
    return summary


def _merge(entities: Sequence[NewEntity]) -> dict[str, NewEntity]:
    """One entity per normalised name: the first line's name and type, every line's observations once."""
    first: dict[str, NewEntity] = {}
    observations: dict[str, dict[str, None]] = {}
    for entity in entities:
        key = graph.normalise(entity.name)
        first.setdefault(key, entity)
        observations.setdefault(key, {}).update(dict.fromkeys(entity.observations))
    return {key: NewEntity(e.name, e.entity_type, tuple(observations[key])) for key, e in first.items()}


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), MAX_BATCH):
        yield items[start : start + MAX_BATCH]
