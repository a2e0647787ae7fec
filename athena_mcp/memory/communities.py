"""Graph communities: Leiden on a namespace's current relations, stored as derived data.

A detection reads the graph and its revision, computes outside any transaction, and writes the
result in one transaction that first checks no run for that revision (or a newer one) was stored
meanwhile, by this process or another sharing the file: there is one result per revision. Each
recompute starts from the previous run's communities. `run_once` recomputes the namespaces whose
graph moved on since their newest run; the server runs it in a loop.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime

from pydantic import BaseModel, Field

from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.memory import leiden, leiden_process
from athena_mcp.memory.cursors import decode_position, encode_position
from athena_mcp.memory.graph_models import Relation
from athena_mcp.models import to_datetime, to_seconds, to_seconds_or_none
from athena_mcp.store import communities as store
from athena_mcp.store import graph, graph_traversal
from athena_mcp.store.database import Database

# Relations shown with a community, at most: those between the members shown.
MAX_RELATIONS_SHOWN = 200


class CommunityRun(BaseModel):
    run_id: int
    namespace: str
    revision: int = Field(description="The graph revision the communities were computed from")
    algorithm: str
    modularity: float | None = Field(
        description="How clustered the partition is (up to 1; higher is more); null without relations"
    )
    seconds: float = Field(description="Seconds spent reading the graph and computing the communities")
    entities: int
    relations: int
    communities: int = Field(description="Communities of two or more entities")
    computed_at: datetime = Field(description="When the graph was read (UTC)")


class Detection(CommunityRun):
    reused: bool = Field(description="True when the graph had not changed since this stored run")


class CommunitySummary(BaseModel):
    id: int = Field(description="Pass to get_community")
    label: str = Field(description="Its most central members and its most common entity type")
    summary: str
    size: int = Field(description="How many entities it has")
    relation_count: int = Field(description="Relations with both ends inside")


class CommunityList(BaseModel):
    run: CommunityRun | None = Field(description="The computation listed; null when there is none")
    stale: bool = Field(description="True when the graph changed after it; detect_communities updates it")
    communities: list[CommunitySummary]
    next_cursor: str | None = Field(
        default=None, description="Pass as cursor to get the next page; null when there is no more"
    )
    notice: str | None = None


class CommunityMember(BaseModel):
    name: str
    entityType: str
    rank: int = Field(description="1 for the most central member")
    strength: float = Field(description="Summed weight of its relations inside the community")


class CommunityDetail(CommunitySummary):
    run: CommunityRun
    members: list[CommunityMember] = Field(description="The most central members first")
    relations: list[Relation] = Field(
        description="Relations between the members shown, as they held when the communities were computed"
    )
    relations_truncated: bool = Field(description=f"True when more than {MAX_RELATIONS_SHOWN} were found")


class GraphCommunities:
    def __init__(self, database: Database) -> None:
        self._database = database
        # One detection at a time in this process: the loop and detect_communities may meet.
        self._detecting = asyncio.Lock()

    async def detect(self, namespace: str) -> Detection:
        """The communities of the namespace's current graph: the stored run when the graph has not
        changed since it, else a new run, computed and stored (replacing the current one)."""
        db = self._database
        async with self._detecting:
            revision = await graph.revision(db, namespace)
            previous = await store.newest_run(db, namespace)
            if previous is not None and previous.revision >= revision:
                return _detection(previous, reused=True)
            # Read after the revision: the graph is at least that new, so a run is never newer than
            # its label, and a write meanwhile only makes the next pass recompute.
            # Whole microseconds, as the time is shown: passed back as as_of, it finds this run.
            read_at = to_seconds(to_datetime(time.time()))
            started = time.perf_counter()
            entities = await store.graph_entities(db, namespace, None)
            relations = await store.graph_relations(db, namespace, None)
            seed = None if previous is None else await store.membership(db, previous.id)
            partition = await leiden_process.detect(entities, relations, seed)
            record = store.RunRecord(
                id=0,
                namespace=namespace,
                revision=revision,
                algorithm=leiden.ALGORITHM,
                modularity=partition.modularity,
                seconds=time.perf_counter() - started,
                entity_count=len(entities),
                relation_count=partition.relation_count,
                community_count=len(partition.communities),
                computed_at=read_at,
            )
            async with db.transaction() as tx:
                run_id = await store.save_run(tx, record, partition.communities)
            if run_id is None:
                # Another process stored this revision, or a newer one, first: that one stands.
                stored = await store.newest_run(db, namespace)
                assert stored is not None  # runs are only dropped by a newer run's write
                return _detection(stored, reused=True)
            return _detection(replace(record, id=run_id), reused=False)

    async def run_once(self) -> int:
        """Recompute every namespace whose graph changed since its newest run; returns how many runs
        this pass stored."""
        stored = 0
        for namespace in await store.stale_namespaces(self._database):
            stored += not (await self.detect(namespace)).reused
        return stored

    async def list_communities(
        self, namespace: str, limit: int, cursor: str | None = None, as_of: datetime | None = None
    ) -> CommunityList:
        """A page of the communities of the newest run (or the newest computed at or before
        `as_of`), largest first; a cursor continues the run its page came from."""
        db = self._database
        after = None
        if cursor is None:
            run = await store.newest_run(db, namespace, to_seconds_or_none(as_of))
        else:
            run_id, size, last_id = decode_position(cursor, "list_communities", 3)
            run = await store.run(db, namespace, run_id)
            if run is None:
                raise InvalidInput(
                    "cursor: its communities were replaced by newer computations (or it is from another "
                    "namespace); omit cursor to start from the beginning."
                )
            after = (size, last_id)
        if run is None:
            notice = (
                "No communities computed for this namespace yet; call detect_communities."
                if as_of is None
                else f"No communities were computed at or before as_of (the last {store.KEPT_RUNS} "
                "computations are kept)."
            )
            return CommunityList(run=None, stale=False, communities=[], notice=notice)
        page = await store.community_page(db, run.id, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        return CommunityList(
            run=_run(run),
            stale=run.revision < await graph.revision(db, namespace),
            communities=[_summary(c) for c in page],
            next_cursor=encode_position(run.id, page[-1].size, page[-1].id) if more else None,
        )

    async def get_community(self, namespace: str, community_id: int, member_limit: int) -> CommunityDetail:
        """One community with its most central members and the relations between them."""
        db = self._database
        record = await store.community(db, namespace, community_id)
        run = None if record is None else await store.run(db, namespace, record.run_id)
        if record is None or run is None:
            raise NotFound(
                f"community_id: no community {community_id} in namespace {namespace}; communities are "
                "replaced when recomputed, so take a current id from list_communities."
            )
        members = await store.members(db, community_id, member_limit)
        names = {member.entity_id: member.name for member in members}
        found = await graph_traversal.relations_among(
            db, list(names), run.computed_at, MAX_RELATIONS_SHOWN + 1
        )
        return CommunityDetail(
            **_summary(record).model_dump(),
            run=_run(run),
            members=[
                CommunityMember(name=m.name, entityType=m.entity_type, rank=m.rank, strength=m.strength)
                for m in members
            ],
            relations=[
                Relation.model_validate(
                    {"from": names[e.source_id], "to": names[e.target_id], "relationType": e.relation_type}
                )
                for e in found[:MAX_RELATIONS_SHOWN]
            ],
            relations_truncated=len(found) > MAX_RELATIONS_SHOWN,
        )


def _run(record: store.RunRecord) -> CommunityRun:
    return CommunityRun(
        run_id=record.id,
        namespace=record.namespace,
        revision=record.revision,
        algorithm=record.algorithm,
        modularity=record.modularity,
        seconds=record.seconds,
        entities=record.entity_count,
        relations=record.relation_count,
        communities=record.community_count,
        computed_at=to_datetime(record.computed_at),
    )


def _detection(record: store.RunRecord, *, reused: bool) -> Detection:
    return Detection(**_run(record).model_dump(), reused=reused)


def _summary(record: store.CommunityRecord) -> CommunitySummary:
    return CommunitySummary(
        id=record.id,
        label=record.label,
        summary=record.summary,
        size=record.size,
        relation_count=record.relation_count,
    )
