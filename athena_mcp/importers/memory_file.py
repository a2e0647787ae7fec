"""The reference MCP memory server's memory file, read and checked whole before anything is written.

Every release of @modelcontextprotocol/server-memory stores its graph as JSON Lines: one
`{"type":"entity","name","entityType","observations"}` per entity, then one
`{"type":"relation","from","to","relationType"}` per relation. Accepted variants, all seen in its
releases: no trailing newline (npm) or one (main); blank lines, which it skips too; extra keys
(releases before 2025.9.25 saved whatever the client sent, later ones drop them); and entity lines
without `observations` (0.6.2 did not validate input and stored them so). Its older default name,
`memory.json`, held the same JSON Lines. A byte-order mark or CRLF line ends from hand editing are
tolerated. Every value must fit the graph tools' own limits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.memory.graph_models import (
    EntityName,
    EntityType,
    NewEntity,
    Observation,
    RelationKey,
    RelationType,
)

# Problems listed when a file is refused; the count of the rest follows.
PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class FileRelation:
    line: int
    key: RelationKey


@dataclass(frozen=True)
class MemoryFile:
    entities: list[NewEntity]  # one per entity line, in file order
    relations: list[FileRelation]


class _EntityLine(BaseModel):
    name: EntityName
    entityType: EntityType
    observations: list[Observation] = Field(default_factory=list)


class _RelationLine(BaseModel):
    from_: Annotated[EntityName, Field(alias="from")]
    to: EntityName
    relationType: RelationType


def read_memory_file(path: Path) -> MemoryFile:
    """Parse and check every line; raises InvalidInput listing the bad lines and fields, or NotFound."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            f"{path}: no such file; give the path of the reference server's memory file "
            "(its MEMORY_FILE_PATH, by default memory.jsonl next to its dist/index.js)."
        ) from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(f"{path}: line {bad_line} is not UTF-8 text; nothing was imported.") from None

    entities: list[NewEntity] = []
    relations: list[FileRelation] = []
    problems: list[str] = []
    # Split on "\n" alone, as the reference does; strip() then drops a CR left by CRLF line ends.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        kind = value.get("type") if isinstance(value, dict) else None
        try:
            if kind == "entity":
                entity = _EntityLine.model_validate(value)
                entities.append(NewEntity(entity.name, entity.entityType, tuple(entity.observations)))
            elif kind == "relation":
                relation = _RelationLine.model_validate(value)
                key = RelationKey(relation.from_, relation.to, relation.relationType)
                relations.append(FileRelation(number, key))
            elif isinstance(value, dict):
                problems.append(f'line {number}: type: {_shown(kind)}; expected "entity" or "relation"')
            else:
                problems.append(f"line {number}: not a JSON object")
        except ValidationError as exc:
            problems += [f"line {number}: {_field(error['loc'])}: {error['msg']}" for error in exc.errors()]
    if problems:
        listed = "\n  ".join(problems[:PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
        raise InvalidInput(
            f"{path}: {len(problems)} problem(s); nothing was imported. Fix these lines and run the "
            f"import again:\n  {listed}{more}"
        )
    return MemoryFile(entities, relations)


def _shown(kind: Any) -> str:
    return "missing" if kind is None else f"got {json.dumps(kind)[:60]}"


def _field(loc: Sequence[int | str]) -> str:
    """A validation error's location in the file's own terms, e.g. observations[2]."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path
