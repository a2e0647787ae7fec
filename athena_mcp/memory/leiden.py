"""Leiden communities of one graph snapshot, with a rank, a label and a summary for each; no I/O.

leidenalg optimises modularity on the undirected graph (a relation ties its two entities whichever
way it points; parallel relations add their weights). A fixed seed makes a result reproducible, and
a previous result can seed the search, so a recompute after a small edit starts near its answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version

from athena_mcp.store.communities import NewCommunity, SnapshotEntity, SnapshotRelation

ALGORITHM = f"leidenalg {version('leidenalg')} modularity"
SEED = 42
# Communities smaller than this are not kept: a lone entity is not a community.
MIN_SIZE = 2
LABEL_NAMES = 3
SUMMARY_NAMES = 5
SUMMARY_KINDS = 3
NAME_CHARS = 80  # a name as shown in a label or summary


@dataclass(frozen=True)
class Partition:
    modularity: float | None  # None for a graph without relations
    relation_count: int  # the relations between two different entities of the graph
    communities: tuple[NewCommunity, ...]  # largest first


def detect(
    entities: Sequence[SnapshotEntity],
    relations: Sequence[SnapshotRelation],
    previous: Mapping[int, int] | None = None,
) -> Partition:
    """Communities of the graph; `previous` (entity id -> community id) seeds the search."""
    # Imported here, not at start-up: igraph brings in its drawing code (matplotlib where installed),
    # which would delay the server's first answer by up to a second.
    import igraph
    import leidenalg

    index = {entity.id: position for position, entity in enumerate(entities)}
    # Self-relations and non-positive weights carry no tie between two entities.
    kept = [
        r
        for r in relations
        if r.source_id in index and r.target_id in index and r.source_id != r.target_id and r.weight > 0
    ]
    if not kept:
        return Partition(None, 0, ())
    graph = igraph.Graph(n=len(entities), edges=[(index[r.source_id], index[r.target_id]) for r in kept])
    graph.es["weight"] = [r.weight for r in kept]
    graph.simplify(multiple=True, loops=True, combine_edges={"weight": "sum"})
    found = leidenalg.find_partition(
        graph,
        leidenalg.ModularityVertexPartition,
        initial_membership=_initial(entities, previous),
        weights="weight",
        seed=SEED,
    )
    membership: list[int] = found.membership
    return Partition(
        graph.modularity(membership, weights="weight"),
        len(kept),
        _describe(entities, kept, index, membership),
    )


def _initial(entities: Sequence[SnapshotEntity], previous: Mapping[int, int] | None) -> list[int] | None:
    """The previous communities as a membership list; entities new to them start alone."""
    if not previous:
        return None
    labels: dict[int, int] = {}
    membership = []
    for entity in entities:
        key = previous.get(entity.id)
        # A negative key per entity keeps the ones outside every previous community apart.
        label = labels.setdefault(-1 - entity.id if key is None else key, len(labels))
        membership.append(label)
    return membership


def _describe(
    entities: Sequence[SnapshotEntity],
    relations: Sequence[SnapshotRelation],
    index: Mapping[int, int],
    membership: Sequence[int],
) -> tuple[NewCommunity, ...]:
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(membership):
        groups.setdefault(label, []).append(position)
    strength = [0.0] * len(entities)
    inside: dict[int, Counter[str]] = {}
    for relation in relations:
        source, target = index[relation.source_id], index[relation.target_id]
        if membership[source] == membership[target]:
            strength[source] += relation.weight
            strength[target] += relation.weight
            inside.setdefault(membership[source], Counter())[relation.relation_type] += 1
    described = []
    for label, positions in groups.items():
        if len(positions) < MIN_SIZE:
            continue
        ranked = sorted(positions, key=lambda p: (-strength[p], entities[p].name, entities[p].id))
        described.append(
            _community([entities[p] for p in ranked], [strength[p] for p in ranked], inside.get(label))
        )
    # Largest first; among equal sizes, the one whose central member was created first.
    described.sort(key=lambda c: (-len(c.members), c.members[0][0]))
    return tuple(described)


def _community(
    members: Sequence[SnapshotEntity], strengths: Sequence[float], kinds: Counter[str] | None
) -> NewCommunity:
    kinds = kinds or Counter()
    types = Counter(member.entity_type for member in members)
    names = [_short(member.name) for member in members]
    dominant = types.most_common(1)[0][0]
    label = ", ".join(names[:LABEL_NAMES]) + (" and others" if len(names) > LABEL_NAMES else "")
    relation_count = sum(kinds.values())
    summary = (
        f"{len(members)} entities ({_counted(types)}); {relation_count} relations inside"
        + (f", mostly {_counted(kinds)}" if kinds else "")
        + f"; most central: {', '.join(names[:SUMMARY_NAMES])}."
    )
    return NewCommunity(
        label=f"{label} ({_short(dominant)})",
        summary=summary,
        relation_count=relation_count,
        members=tuple((member.id, strength) for member, strength in zip(members, strengths, strict=True)),
    )


def _counted(counts: Counter[str]) -> str:
    common = counts.most_common(SUMMARY_KINDS)
    text = ", ".join(f"{count} {_short(kind)}" for kind, count in common)
    others = len(counts) - len(common)
    return text + (f" and {others} more kinds" if others else "")


def _short(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"
