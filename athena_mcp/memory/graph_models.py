"""What the graph tools return, the requests the graph memory takes, and the bounds of the names and
texts a graph holds, which the graph tools' arguments and the memory-file importer both check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from athena_mcp.fields import MAX_CONTENT_CHARS, has_text

MAX_BATCH = 500
MAX_OBSERVATIONS = 500
MAX_NAME_CHARS = 500
MAX_TYPE_CHARS = 200
# SQLite's full-text index cannot hold or match a NUL character: graph text may not contain one.
WITHOUT_NUL = r"^[^\x00]*$"

EntityName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, description="The name of the entity", pattern=WITHOUT_NUL),
    AfterValidator(has_text),
]
EntityType = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TYPE_CHARS, description="The type of the entity", pattern=WITHOUT_NUL),
    AfterValidator(has_text),
]
RelationType = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_TYPE_CHARS, description="The type of the relation", pattern=WITHOUT_NUL
    ),
    AfterValidator(has_text),
]
Observation = Annotated[
    str, Field(min_length=1, max_length=MAX_CONTENT_CHARS, pattern=WITHOUT_NUL), AfterValidator(has_text)
]


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
    ended: int = Field(
        default=0,
        description="Relations ended because an exclusive new one contradicted them (kept as history)",
    )


class AddedObservations(BaseModel):
    entityName: str
    addedObservations: list[str]


class ObservationsAdded(BaseModel):
    results: list[AddedObservations]


class GraphAdded(BaseModel):
    entities: list[Entity] = Field(description="Entities created")
    observations: list[AddedObservations] = Field(description="New observations of entities that existed")
    relations: list[Relation] = Field(description="Relations created; ones that already held are left out")
    ended: int = Field(description="Relations ended by an exclusive new one (kept as history)")


class Deleted(BaseModel):
    success: bool
    message: str


class KnowledgeGraph(BaseModel):
    entities: list[Entity]
    relations: list[Relation]
    relations_truncated: bool = Field(
        default=False, description="True when more relations touch these entities than were listed"
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as cursor to get the next page; null when there is no more"
    )


class FactView(BaseModel):
    """An observation or a relation with when it held and which memories said it."""

    text: str = Field(description="The observation, or the relation type")
    entity: str | None = Field(default=None, description="For a relation: the entity at the other end")
    direction: str | None = Field(
        default=None, description="For a relation: 'out' (from this entity) or 'in'"
    )
    weight: float | None = None
    source_memory_ids: list[int]
    valid_from: datetime
    valid_to: datetime | None = Field(
        default=None, description="When it stopped holding; null while it holds"
    )


class MergeView(BaseModel):
    merge_id: int
    survivor: str
    absorbed: str
    merged_at: datetime
    unmerged_at: datetime | None = None


class EntityRecordView(BaseModel):
    name: str
    entityType: str
    aliases: list[str]
    created_at: datetime
    source_memory_ids: list[int]
    observations: list[FactView]
    relations: list[FactView]
    merges: list[MergeView] = Field(description="Merges this entity took part in, newest first")
    truncated: bool = Field(description="True when there were more facts than the limit")


class Merged(BaseModel):
    merge_id: int = Field(description="Pass to unmerge_entities to undo the merge")
    survivor: str
    absorbed: str
    observations_moved: int
    relations_moved: int


class Unmerged(BaseModel):
    merge_id: int
    restored: str
    observations_restored: int
    relations_restored: int


class Aliases(BaseModel):
    entityName: str
    aliases: list[str] = Field(description="All the entity's aliases after the change")


@dataclass(frozen=True)
class NewEntity:
    name: str
    entity_type: str
    observations: tuple[str, ...]
    sources: tuple[int, ...] = ()


@dataclass(frozen=True)
class RelationKey:
    source: str
    target: str
    relation_type: str


@dataclass(frozen=True)
class NewRelation:
    key: RelationKey
    weight: float = 1.0
    exclusive: bool = False
    sources: tuple[int, ...] = ()


@dataclass(frozen=True)
class ObservationBatch:
    entity_name: str
    contents: tuple[str, ...]
    sources: tuple[int, ...] = field(default=())
