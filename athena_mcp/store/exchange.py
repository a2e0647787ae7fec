"""The tables an export holds, how a selection picks their rows, and writing rows back on import.

Each record type is one table, row for row, with its ids: what the user stored (memories and their
versions, procedures and runs, goals, tasks, triggers, the graph) and its history (the audit trail,
consolidation runs and provenance, compactions, merges). Derived indexes are left out (the text and
graph search indexes, vectors and their queue, mention scans, duplicate-check bookkeeping, the
consolidation's candidate sessions and the procedures' embeddings): they belong to one embedding
model, and an import rebuilds them from the records. Types are listed in an order where what a row
refers to comes first, except the audit trail, which comes first of all: an import appends its own
audit rows, and those must not take the ids of the ones it brings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the command line reads this module before it knows it needs the store
    from athena_mcp.store.database import Transaction

MEMORY_SYSTEMS = ("episodic", "semantic")
SYSTEMS = (*MEMORY_SYSTEMS, "procedural", "prospective", "graph")
System = Literal["memories", "procedural", "prospective", "graph"]
JsonType = Literal["integer", "number", "string"]


def _in_namespaces(column: str) -> str:
    return f"(:namespaces IS NULL OR {column} IN (SELECT value FROM json_each(:namespaces)))"


def _in_time(column: str) -> str:
    return f"(:since IS NULL OR {column} >= :since) AND (:until IS NULL OR {column} < :until)"


_MEMORIES = (
    f"SELECT id FROM memories WHERE {_in_namespaces('namespace')} AND {_in_time('occurred_at')} "
    "AND system IN (SELECT value FROM json_each(:memory_systems))"
)
_RUNS = (
    f"SELECT id FROM consolidation_runs WHERE {_in_time('started_at')} AND (:namespaces IS NULL OR "
    f"{_in_namespaces('namespace')} OR id IN (SELECT run_id FROM consolidation_run_namespaces "
    f"WHERE {_in_namespaces('namespace')}))"
)
_PROCEDURES = f"SELECT id FROM procedures WHERE {_in_namespaces('namespace')} AND {_in_time('created_at')}"
_TASKS = f"SELECT id FROM tasks WHERE {_in_namespaces('namespace')} AND {_in_time('created_at')}"
_TRIGGERS = f"SELECT id FROM triggers WHERE {_in_namespaces('namespace')} AND {_in_time('created_at')}"
_ENTITIES = f"SELECT id FROM graph_entities WHERE {_in_namespaces('namespace')} AND {_in_time('created_at')}"
_MERGES = (
    f"SELECT id FROM graph_merges WHERE {_in_namespaces('namespace')} "
    f"AND survivor_id IN ({_ENTITIES}) AND absorbed_id IN ({_ENTITIES})"
)
_COMMUNITY_RUNS = f"SELECT id FROM graph_community_runs WHERE {_in_namespaces('namespace')}"


@dataclass(frozen=True)
class RecordType:
    name: str  # the record's "type" in a file
    table: str
    system: System | None  # None: follows the selection's namespaces and times, whatever the systems
    where: str  # picks the selection's rows, with the named parameters of Selection.parameters
    description: str
    omitted: tuple[str, ...] = ()  # derived columns, rebuilt on import
    generated: tuple[tuple[str, str], ...] = ()  # (column, SQL) of omitted columns a row needs
    # Nothing refers to its rows' ids (the audit trail): a row whose id this store has given to
    # another takes a new one, and a row already here under another id is not added again.
    renumbered: bool = False


RECORD_TYPES = (
    RecordType(
        "audit",
        "audit_log",
        None,
        f"{_in_namespaces('namespace')} AND {_in_time('at')}",
        "One change to what a user stored: who made it, with which tool, and digests of before and after.",
        renumbered=True,
    ),
    RecordType(
        "memory",
        "memories",
        "memories",
        f"id IN ({_MEMORIES})",
        "A fact, note or preference (semantic) or an event (episodic), forgotten ones included; JSON "
        "columns (tags, context) are strings of JSON.",
        omitted=("preceding",),
    ),
    RecordType("memory_tag", "memory_tags", "memories", f"memory_id IN ({_MEMORIES})", "A memory's tag."),
    RecordType(
        "memory_version",
        "memory_versions",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "An earlier version of an updated memory.",
    ),
    RecordType(
        "memory_usage",
        "memory_usage",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "How often a memory was recalled, and the feedback it got.",
    ),
    RecordType(
        "compaction",
        "compactions",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "An event folded into a digest by compaction, restorable until a time.",
    ),
    RecordType(
        "consolidation_run",
        "consolidation_runs",
        None,
        f"id IN ({_RUNS})",
        "One run of the consolidation worker and its report.",
    ),
    RecordType(
        "consolidation_run_namespace",
        "consolidation_run_namespaces",
        None,
        f"run_id IN ({_RUNS}) AND {_in_namespaces('namespace')}",
        "What a consolidation run did in one namespace.",
    ),
    RecordType(
        "consolidated_event",
        "consolidated_events",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "An event consolidation has taken in, and by which run.",
    ),
    RecordType(
        "provenance",
        "provenance",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "A consolidation product (fact, digest, procedure, entity, ...) and an event it came from.",
    ),
    RecordType(
        "procedure",
        "procedures",
        "procedural",
        f"id IN ({_PROCEDURES})",
        "A workflow with its steps and success statistics; JSON columns are strings of JSON.",
        # The revision is the change counter search copies follow: each store numbers its own.
        omitted=("embedding", "step_embeddings", "revision"),
        generated=(("revision", "(SELECT coalesce(max(revision), 0) + 1 FROM procedures)"),),
    ),
    RecordType(
        "procedure_run",
        "procedure_runs",
        "procedural",
        f"procedure_id IN ({_PROCEDURES})",
        "One recorded run of a procedure and how it ended.",
    ),
    RecordType(
        "goal",
        "goals",
        "prospective",
        f"{_in_namespaces('namespace')} AND {_in_time('created_at')}",
        "A goal tasks can serve.",
    ),
    RecordType("task", "tasks", "prospective", f"id IN ({_TASKS})", "A task, open or closed."),
    RecordType(
        "task_dependency",
        "task_dependencies",
        "prospective",
        f"task_id IN ({_TASKS}) AND depends_on IN ({_TASKS})",
        "A task that must be done before another.",
    ),
    RecordType(
        "trigger",
        "triggers",
        "prospective",
        f"id IN ({_TRIGGERS})",
        "A reminder or task trigger that fires at a time, on a schedule or on matching events.",
    ),
    RecordType(
        "trigger_firing",
        "trigger_firings",
        "prospective",
        f"trigger_id IN ({_TRIGGERS})",
        "One firing of a trigger, and when it was dismissed.",
    ),
    RecordType(
        "graph_entity",
        "graph_entities",
        "graph",
        f"id IN ({_ENTITIES})",
        "An entity of the knowledge graph, merged and deleted ones included.",
    ),
    RecordType(
        "graph_alias",
        "graph_aliases",
        "graph",
        f"entity_id IN ({_ENTITIES})",
        "Another name of an entity.",
    ),
    RecordType(
        "graph_observation",
        "graph_observations",
        "graph",
        f"entity_id IN ({_ENTITIES})",
        "Something observed about an entity, with the time it held.",
    ),
    RecordType(
        "graph_relation",
        "graph_relations",
        "graph",
        f"source_id IN ({_ENTITIES}) AND target_id IN ({_ENTITIES})",
        "A typed relation between two entities, with the time it held.",
    ),
    RecordType("graph_merge", "graph_merges", "graph", f"id IN ({_MERGES})", "Two entities merged into one."),
    RecordType(
        "graph_merge_move",
        "graph_merge_moves",
        "graph",
        f"merge_id IN ({_MERGES})",
        "What a merge moved, so that it can be undone.",
    ),
    RecordType(
        "graph_revision",
        "graph_state",
        "graph",
        _in_namespaces("namespace"),
        "How many times a namespace's graph changed: community runs name the revision they saw.",
    ),
    RecordType(
        "graph_candidate",
        "graph_candidates",
        "graph",
        _in_namespaces("namespace"),
        "A pair of names seen together in events, waiting for enough support to become a relation.",
    ),
    RecordType(
        "community_run",
        "graph_community_runs",
        "graph",
        f"id IN ({_COMMUNITY_RUNS})",
        "One run of community detection over a namespace's graph.",
    ),
    RecordType(
        "community",
        "graph_communities",
        "graph",
        f"run_id IN ({_COMMUNITY_RUNS})",
        "A community of entities found by a run.",
    ),
    RecordType(
        "community_member",
        "graph_community_members",
        "graph",
        f"community_id IN (SELECT id FROM graph_communities WHERE run_id IN ({_COMMUNITY_RUNS})) "
        f"AND entity_id IN ({_ENTITIES})",
        "An entity's place in a community.",
    ),
    RecordType(
        "working_item",
        "working_memory",
        "memories",
        f"memory_id IN ({_MEMORIES})",
        "A memory in a session's working memory, with its activation.",
    ),
    RecordType(
        "working_session",
        "working_sessions",
        None,
        f"{_in_namespaces('namespace')} AND {_in_time('touched_at')}",
        "A session's working-memory clock.",
    ),
    RecordType(
        "recall_miss",
        "recall_misses",
        None,
        f"{_in_namespaces('namespace')} AND {_in_time('last_at')}",
        "A question recall found nothing good for: a knowledge gap.",
    ),
)
RECORD_TYPES_BY_NAME = {record_type.name: record_type for record_type in RECORD_TYPES}


@dataclass(frozen=True)
class Selection:
    """What an export holds: namespaces (None: all), memory systems, and a time range [since, until)."""

    namespaces: tuple[str, ...] | None = None
    systems: frozenset[str] = frozenset(SYSTEMS)
    since: float | None = None
    until: float | None = None

    def includes(self, record_type: RecordType) -> bool:
        if record_type.system == "memories":
            return bool(self.systems & set(MEMORY_SYSTEMS))
        return record_type.system is None or record_type.system in self.systems

    def parameters(self) -> dict[str, Any]:
        return {
            "namespaces": None if self.namespaces is None else json.dumps(list(self.namespaces)),
            "memory_systems": json.dumps(sorted(self.systems & set(MEMORY_SYSTEMS))),
            "since": self.since,
            "until": self.until,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "namespaces": None if self.namespaces is None else list(self.namespaces),
            "systems": sorted(self.systems),
            "since": self.since,
            "until": self.until,
        }


@dataclass(frozen=True)
class Column:
    name: str
    json_type: JsonType
    nullable: bool
    required: bool  # a record without it cannot be written
    key: bool


_JSON_TYPES: dict[str, JsonType] = {"INTEGER": "integer", "REAL": "number", "TEXT": "string"}
_COLUMNS = 'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid'


def _columns(rows: Iterable[Any], record_type: RecordType) -> list[Column]:
    return [
        Column(
            name=name,
            json_type=_JSON_TYPES[declared.upper()],
            nullable=not (not_null or key),
            required=bool(key) or (bool(not_null) and default is None),
            key=bool(key),
        )
        for name, declared, not_null, default, key in rows
        if name not in record_type.omitted
    ]


def columns(connection: Any, record_type: RecordType) -> list[Column]:
    """The exported columns of a record type's table, as the database on `connection` declares them."""
    return _columns(connection.execute(_COLUMNS, (record_type.table,)), record_type)


def read_records(
    connection: Any, selection: Selection
) -> Iterator[tuple[RecordType, list[Column], Iterator[tuple[Any, ...]]]]:
    """Each selected record type with its columns and rows (in key order), read on `connection`,
    which the caller holds in one read transaction so that all of it is one snapshot."""
    parameters = selection.parameters()
    for record_type in RECORD_TYPES:
        if not selection.includes(record_type):
            continue
        table_columns = columns(connection, record_type)
        names = ", ".join(column.name for column in table_columns)
        order = ", ".join(column.name for column in table_columns if column.key)
        cursor = connection.execute(
            f"SELECT {names} FROM {record_type.table} WHERE {record_type.where} ORDER BY {order}", parameters
        )
        yield record_type, table_columns, iter(cursor)


async def table_columns(tx: Transaction) -> dict[str, list[Column]]:
    """Every record type's exported columns in the database being written."""
    return {
        record_type.name: _columns(await tx.fetchall(_COLUMNS, (record_type.table,)), record_type)
        for record_type in RECORD_TYPES
    }


async def existing_keys(tx: Transaction, record_type: RecordType, key: list[str]) -> set[tuple[Any, ...]]:
    rows = await tx.fetchall(f"SELECT {', '.join(key)} FROM {record_type.table}")
    return {tuple(row) for row in rows}


async def existing_row(
    tx: Transaction, record_type: RecordType, record: Mapping[str, Any], key: list[str]
) -> dict[str, Any] | None:
    """The row this database holds at the record's key, in the record's columns; None if none."""
    names = list(record)
    row = await tx.fetchone(
        f"SELECT {', '.join(names)} FROM {record_type.table} WHERE "
        + " AND ".join(f"{column} = ?" for column in key),
        [record[column] for column in key],
    )
    return None if row is None else dict(zip(names, row, strict=True))


async def insert(tx: Transaction, record_type: RecordType, record: Mapping[str, Any]) -> int:
    """Write one record as it is, ids included; returns its rowid."""
    names = [*record, *(column for column, _ in record_type.generated)]
    values = ["?"] * len(record) + [sql for _, sql in record_type.generated]
    rowid = await tx.execute(
        f"INSERT INTO {record_type.table} ({', '.join(names)}) VALUES ({', '.join(values)})",
        list(record.values()),
    )
    if record_type.table == "memories":
        # The provenance trigger names the importer as the writer; the record says who wrote it.
        await tx.execute(
            "UPDATE memories SET written_by = ?, origin = ? WHERE id = ?",
            (record.get("written_by"), record.get("origin"), record["id"]),
        )
    return rowid


async def insert_renumbered(tx: Transaction, record_type: RecordType, record: Mapping[str, Any]) -> int:
    """Write a record of a renumbered type under a new id; returns it."""
    return await insert(tx, record_type, {name: value for name, value in record.items() if name != "id"})


async def identical_exists(tx: Transaction, record_type: RecordType, record: Mapping[str, Any]) -> bool:
    """Whether the store holds this record under any id (renumbered types)."""
    others = [name for name in record if name != "id"]
    row = await tx.fetchone(
        f"SELECT 1 FROM {record_type.table} WHERE "
        + " AND ".join(f"{name} IS ?" for name in others)
        + " LIMIT 1",
        [record[name] for name in others],
    )
    return row is not None


async def nullable_references(
    tx: Transaction, nullable: Mapping[str, set[str]]
) -> dict[tuple[str, str], str]:
    """(table, column) of each reference that may be empty, with the table it refers to."""
    found = {}
    for table, columns in nullable.items():
        for column, parent in await tx.fetchall(
            'SELECT "from", "table" FROM pragma_foreign_key_list(?)', (table,)
        ):
            if column in columns:
                found[(table, column)] = parent
    return found


async def has_row(tx: Transaction, table: str, row_id: Any) -> bool:
    return await tx.fetchone(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,)) is not None


async def set_column(
    tx: Transaction, record_type: RecordType, key: Mapping[str, Any], column: str, value: Any
) -> None:
    await tx.execute(
        f"UPDATE {record_type.table} SET {column} = ? WHERE " + " AND ".join(f"{name} = ?" for name in key),
        [value, *key.values()],
    )


@dataclass(frozen=True)
class BrokenReference:
    table: str
    rowid: int | None  # None in a table without rowids
    parent: str
    column: str


async def broken_references(tx: Transaction, tables: Iterable[str]) -> list[BrokenReference]:
    """Rows of `tables` whose reference names a row that does not exist."""
    found = []
    for table in tables:
        for row in await tx.fetchall(
            'SELECT c.rowid, c.parent, l."from" FROM pragma_foreign_key_check(?) c '
            "JOIN pragma_foreign_key_list(?) l ON l.id = c.fkid",
            (table, table),
        ):
            found.append(BrokenReference(table, row[0], row[1], row[2]))
    return found


async def clear_reference(tx: Transaction, reference: BrokenReference) -> None:
    await tx.execute(
        f"UPDATE {reference.table} SET {reference.column} = NULL WHERE rowid = ?", (reference.rowid,)
    )
