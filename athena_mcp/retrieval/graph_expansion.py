"""Graph expansion: memories that mention what the best results mention.

A question whose answer is spread over memories that share no words with it ("What does Alice's
sister do?") often has one piece found directly and the rest linked to it only by an entity. Each
of the SEEDS best candidates lends a share of its fused score to the other memories that mention
an entity (any of its names or aliases) or a name it mentions:

    loan = EXPANSION_WEIGHT * fused(seed) * log(N / df) / log(N)

where N is the number of memories in the namespace and df the number that mention the entity or
name: the rarer the name, the more sharing it says. A name mentioned by more than
max(MIN_COMMON, COMMON_SHARE * N) memories (the speakers of a conversation, the project's own
name) lends nothing at all, and so does one that no other memory mentions. A memory keeps the
largest loan it is offered; one that no signal returned enters on that loan alone if it passes the
search's filter. Since the loan is a fraction of its seed's score, an expanded result ranks below
the hit that brought it in. All memories of one name are offered the same loan and equal scores
rank newer first, so only the newest `limit` of each name are looked at.

On the LoCoMo dev split (no curated entities: the names the linker extracts), weight 0.3, 5 seeds
and a common cap of max(5, 1%) took multi-hop recall@5/@10/@25 from 0.329/0.415/0.595 to
0.346/0.425/0.602 and overall from 0.663/0.772/0.862 to 0.666/0.774/0.864, no category losing more
than 0.002 (weight 0.5 cost single-hop and adversarial 0.01-0.02, 0.8 cost 0.03 overall; a cap
of 20 or 5% helped multi-hop as much but cost adversarial 0.006). On LongMemEval's dev questions
(not tuned on) it cost turn-level recall_all@5 0.694 -> 0.653 and nDCG@5 0.701 -> 0.676, so
recall leaves it off unless asked (the graph_expansion setting, recall's expand_graph).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from athena_mcp.retrieval.fusion import FusedCandidate, GraphLink
from athena_mcp.retrieval.loans import apply_loans
from athena_mcp.store import mentions
from athena_mcp.store.database import Database
from athena_mcp.store.filters import MemoryFilter

SEEDS = 5
EXPANSION_WEIGHT = 0.3
COMMON_SHARE = 0.01
MIN_COMMON = 5


@dataclass(frozen=True)
class _Key:
    """What two memories share: an entity (all of its names) or, failing one, a bare name."""

    label: str
    entity_id: int | None
    names: frozenset[str]


async def add_graph_expansion(
    database: Database, candidates: list[FusedCandidate], memory_filter: MemoryFilter, limit: int
) -> list[FusedCandidate]:
    """The candidates with the memories linked to the seeds' entities added or lifted, best first."""
    seeds = candidates[:SEEDS]
    mentioned = await mentions.names_mentioned(database, [seed.id for seed in seeds])
    lent: dict[int, GraphLink] = {}
    for namespace in sorted({namespace for namespace, _ in mentioned.values()}):
        in_namespace = {
            memory_id: names for memory_id, (space, names) in mentioned.items() if space == namespace
        }
        keys = await _keys(database, namespace, {name for names in in_namespace.values() for name in names})
        specificity = await _specificity(database, namespace, set(keys.values()))
        members = await mentions.memories_mentioning(
            database, namespace, {name for key in specificity for name in key.names}, limit
        )
        for seed in seeds:
            for name in in_namespace.get(seed.id, ()):
                key = keys[name]
                if key not in specificity:
                    continue
                amount = EXPANSION_WEIGHT * seed.fused * specificity[key]
                for memory_id in {m for name in key.names for m in members.get(name, ())}:
                    if memory_id != seed.id and amount > _contribution(lent.get(memory_id)):
                        lent[memory_id] = GraphLink(seed.id, key.label, key.entity_id, amount)
    return await apply_loans(database, candidates, lent, memory_filter, _contribution, _mark_graph)


async def _keys(database: Database, namespace: str, names: set[str]) -> dict[str, _Key]:
    """Each mentioned name's key: the entity it names (so aliases count as one), else the name."""
    entities = await mentions.entities_named(database, namespace, names)
    keys = {}
    for name in names:
        entity = entities.get(name)
        keys[name] = (
            _Key(name, None, frozenset([name]))
            if entity is None
            else _Key(entity.name, entity.id, entity.names)
        )
    return keys


async def _specificity(database: Database, namespace: str, keys: set[_Key]) -> dict[_Key, float]:
    """log(N / df) / log(N) for the keys that may lend: mentioned elsewhere, and not everywhere."""
    counts = await mentions.mention_counts(database, namespace, {name for key in keys for name in key.names})
    total = await mentions.memory_count(database, namespace)
    common = max(MIN_COMMON, COMMON_SHARE * total)
    found = {}
    for key in keys:
        # An upper bound when a memory mentions two names of one entity; exact enough for a weight.
        df = sum(counts.get(name, 0) for name in key.names)
        if 1 < df <= common and total > df:
            found[key] = math.log(total / df) / math.log(total)
    return found


def _contribution(link: GraphLink | None) -> float:
    return 0.0 if link is None else link.contribution


def _mark_graph(candidate: FusedCandidate, link: GraphLink) -> None:
    candidate.graph = link
