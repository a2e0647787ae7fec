"""SQL of the graph communities: reading the graph they are computed from, and their runs.

A run is written whole in one transaction, which first checks that no run for the same or a newer
revision got there before (several processes may compute at once), and drops all but the newest
KEPT_RUNS runs of the namespace with their communities and members.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from athena_mcp.store.database import Row, Transaction
from athena_mcp.store.graph import Reader
from athena_mcp.store.graph_time import entity_alive, fact_holds

# Runs kept per namespace: the current one and a few before it, for as_of.
KEPT_RUNS = 5


@dataclass(frozen=True)
class SnapshotEntity:
    id: int
    name: str
    entity_type: str


@dataclass(frozen=True)
class SnapshotRelation:
    source_id: int
    target_id: int
    weight: float
    relation_type: str


@dataclass(frozen=True)
class NewCommunity:
    label: str
    summary: str
    relation_count: int
    members: tuple[tuple[int, float], ...]  # (entity id, strength inside), most central first


@dataclass(frozen=True)
class RunRecord:
    id: int
    namespace: str
    revision: int
    algorithm: str
    modularity: float | None
    seconds: float
    entity_count: int
    relation_count: int
    community_count: int
    computed_at: float


@dataclass(frozen=True)
class CommunityRecord:
    id: int
    run_id: int
    label: str
    summary: str
    size: int
    relation_count: int


@dataclass(frozen=True)
class MemberRecord:
    entity_id: int
    name: str
    entity_type: str
    rank: int
    strength: float


_RUN_COLUMNS = (
    "id, namespace, revision, algorithm, modularity, seconds, entity_count, relation_count, "
    "community_count, computed_at"
)
_COMMUNITY_COLUMNS = "id, run_id, label, summary, size, relation_count"


async def graph_entities(db: Reader, namespace: str, as_of: float | None) -> list[SnapshotEntity]:
    alive, params = entity_alive("e", as_of)
    rows = await db.fetchall(
        f"SELECT e.id, e.name, e.entity_type FROM graph_entities e WHERE e.namespace = ? AND {alive} "
        "ORDER BY e.id",
        [namespace, *params],
    )
    return [SnapshotEntity(int(row[0]), row[1], row[2]) for row in rows]


async def graph_relations(db: Reader, namespace: str, as_of: float | None) -> list[SnapshotRelation]:
    holds, params = fact_holds("r", as_of)
    rows = await db.fetchall(
        "SELECT r.source_id, r.target_id, r.weight, r.relation_type FROM graph_relations r "
        f"WHERE r.namespace = ? AND {holds} ORDER BY r.id",
        [namespace, *params],
    )
    return [SnapshotRelation(int(row[0]), int(row[1]), float(row[2]), row[3]) for row in rows]


async def newest_run(db: Reader, namespace: str, as_of: float | None = None) -> RunRecord | None:
    """The namespace's newest run, or the newest that read the graph at or before `as_of`."""
    if as_of is None:
        row = await db.fetchone(
            f"SELECT {_RUN_COLUMNS} FROM graph_community_runs WHERE namespace = ? "
            "ORDER BY revision DESC LIMIT 1",
            (namespace,),
        )
    else:
        row = await db.fetchone(
            f"SELECT {_RUN_COLUMNS} FROM graph_community_runs WHERE namespace = ? AND computed_at <= ? "
            "ORDER BY computed_at DESC, revision DESC LIMIT 1",
            (namespace, as_of),
        )
    return None if row is None else _run(row)


async def run(db: Reader, namespace: str, run_id: int) -> RunRecord | None:
    """The namespace's run `run_id`; None when it is not one of the namespace's."""
    row = await db.fetchone(
        f"SELECT {_RUN_COLUMNS} FROM graph_community_runs WHERE id = ? AND namespace = ?", (run_id, namespace)
    )
    return None if row is None else _run(row)


async def membership(db: Reader, run_id: int) -> dict[int, int]:
    """Entity id -> community id for every member of the run's communities."""
    rows = await db.fetchall(
        "SELECT m.entity_id, m.community_id FROM graph_community_members m "
        "JOIN graph_communities c ON c.id = m.community_id WHERE c.run_id = ?",
        (run_id,),
    )
    return {int(row[0]): int(row[1]) for row in rows}


async def communities_of(db: Reader, run_id: int, namespace: str, names: Sequence[str]) -> dict[str, int]:
    """Entity name -> its community in the run, for the named entities of the namespace that are in one."""
    rows = await db.fetchall(
        "SELECT e.name, m.community_id FROM graph_entities e "
        "JOIN graph_community_members m ON m.entity_id = e.id "
        "JOIN graph_communities c ON c.id = m.community_id AND c.run_id = ? "
        "WHERE e.namespace = ? AND e.name IN (SELECT value FROM json_each(?))",
        (run_id, namespace, json.dumps(list(names))),
    )
    return {row[0]: int(row[1]) for row in rows}


async def stale_namespaces(db: Reader) -> list[str]:
    """Namespaces whose graph changed since their newest run (or that never had one)."""
    rows = await db.fetchall(
        "SELECT s.namespace FROM graph_state s WHERE NOT EXISTS (SELECT 1 FROM graph_community_runs r "
        "WHERE r.namespace = s.namespace AND r.revision >= s.revision) ORDER BY s.namespace"
    )
    return [row[0] for row in rows]


async def save_run(tx: Transaction, record: RunRecord, communities: Sequence[NewCommunity]) -> int | None:
    """Store a run (record.id is ignored) and its communities; None if one for this revision or a
    newer one is already there, in which case nothing is written."""
    newer = await tx.fetchone(
        "SELECT 1 FROM graph_community_runs WHERE namespace = ? AND revision >= ?",
        (record.namespace, record.revision),
    )
    if newer is not None:
        return None
    run_id = await tx.execute(
        "INSERT INTO graph_community_runs (namespace, revision, algorithm, modularity, seconds, "
        "entity_count, relation_count, community_count, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.namespace,
            record.revision,
            record.algorithm,
            record.modularity,
            record.seconds,
            record.entity_count,
            record.relation_count,
            record.community_count,
            record.computed_at,
        ),
    )
    for community in communities:
        community_id = await tx.execute(
            "INSERT INTO graph_communities (run_id, label, summary, size, relation_count) "
            "VALUES (?, ?, ?, ?, ?)",
            (run_id, community.label, community.summary, len(community.members), community.relation_count),
        )
        await tx.executemany(
            "INSERT INTO graph_community_members (community_id, entity_id, rank, strength) "
            "VALUES (?, ?, ?, ?)",
            [
                (community_id, entity_id, rank, strength)
                for rank, (entity_id, strength) in enumerate(community.members, start=1)
            ],
        )
    # The cascade takes the dropped runs' communities and members with them.
    await tx.execute(
        "DELETE FROM graph_community_runs WHERE namespace = ? AND id NOT IN (SELECT id FROM "
        "graph_community_runs WHERE namespace = ? ORDER BY revision DESC LIMIT ?)",
        (record.namespace, record.namespace, KEPT_RUNS),
    )
    return run_id


async def community_page(
    db: Reader, run_id: int, after: tuple[int, int] | None, limit: int
) -> list[CommunityRecord]:
    """The run's communities largest first (then by id), after the (size, id) of a previous page."""
    where, params = "run_id = ?", [run_id]
    if after is not None:
        where += " AND (size < ? OR (size = ? AND id > ?))"
        params += [after[0], after[0], after[1]]
    rows = await db.fetchall(
        f"SELECT {_COMMUNITY_COLUMNS} FROM graph_communities WHERE {where} ORDER BY size DESC, id LIMIT ?",
        [*params, limit],
    )
    return [_community(row) for row in rows]


async def community(db: Reader, namespace: str, community_id: int) -> CommunityRecord | None:
    """The namespace's community `community_id`; None when it is not one of the namespace's."""
    row = await db.fetchone(
        f"SELECT {_COMMUNITY_COLUMNS} FROM graph_communities WHERE id = ? "
        "AND run_id IN (SELECT id FROM graph_community_runs WHERE namespace = ?)",
        (community_id, namespace),
    )
    return None if row is None else _community(row)


async def members(db: Reader, community_id: int, limit: int) -> list[MemberRecord]:
    """The most central members first."""
    rows = await db.fetchall(
        "SELECT m.entity_id, e.name, e.entity_type, m.rank, m.strength FROM graph_community_members m "
        "JOIN graph_entities e ON e.id = m.entity_id WHERE m.community_id = ? ORDER BY m.rank LIMIT ?",
        (community_id, limit),
    )
    return [MemberRecord(int(row[0]), row[1], row[2], int(row[3]), float(row[4])) for row in rows]


def _run(row: Row) -> RunRecord:
    return RunRecord(
        id=int(row[0]),
        namespace=row[1],
        revision=int(row[2]),
        algorithm=row[3],
        modularity=None if row[4] is None else float(row[4]),
        seconds=float(row[5]),
        entity_count=int(row[6]),
        relation_count=int(row[7]),
        community_count=int(row[8]),
        computed_at=float(row[9]),
    )


def _community(row: Row) -> CommunityRecord:
    return CommunityRecord(int(row[0]), int(row[1]), row[2], row[3], int(row[4]), int(row[5]))
