"""Relative-score fusion, keyed by id (a memory's or a procedure's; never by list position).

Each signal's raw scores (BM25, cosine similarity) over its candidate list are rescaled to [0, 1]
(best candidate 1, the list's last 0; a lone candidate 1), then

    fused(m) = sum over signals s that returned m of  weight_s * rescaled_s(m)

and the reported score is fused(m) / sum of the weights of the signals that ran, in [0, 1].
Unlike reciprocal rank fusion this keeps how far ahead a candidate is, so a weak signal's
near-ties cannot outvote a strong signal's clear winner. Weights were chosen on the LoCoMo dev
split (perf/eval_retrieval.py): lexical 0.6, dense 0.4 gave recall@10 0.689 against 0.595 for
RRF (K=60, equal weights), 0.633 for lexical alone and 0.506 for dense alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Signal = Literal["lexical", "dense"]


@dataclass(frozen=True)
class GraphLink:
    via: int  # the better-ranked memory that mentions the same entity or name
    name: str  # the entity's name, or the mentioned name when it is no entity
    entity_id: int | None
    contribution: float


@dataclass
class FusedCandidate:
    id: int  # a memory (recall) or a procedure (find_procedures)
    fused: float = 0.0
    # signal name -> (rank, raw score, contribution)
    signals: dict[Signal, tuple[int, float, float]] = field(default_factory=dict)
    # (neighbouring memory id, contribution) when an adjacent event lent this one context
    context: tuple[int, float] | None = None
    # how graph expansion brought this one in or lifted it, when it did
    graph: GraphLink | None = None


def fuse(
    ranked: Mapping[Signal, Sequence[tuple[int, float]]],
    weights: Mapping[Signal, float],
    floor: float | None = None,
) -> tuple[list[FusedCandidate], float]:
    """Fuse each signal's best-first (memory id, score) list; returns candidates best first and the
    maximum achievable fused value for normalising. With a `floor`, each signal rescales from it
    instead of from its own last candidate, so that the last one keeps a share of its score."""
    candidates: dict[int, FusedCandidate] = {}
    for signal, hits in ranked.items():
        if not hits:
            continue
        weight = weights.get(signal, 1.0)
        best, worst = hits[0][1], hits[-1][1] if floor is None else floor
        spread = best - worst
        for rank, (item_id, score) in enumerate(hits, start=1):
            contribution = weight * ((score - worst) / spread if spread > 0 else 1.0)
            candidate = candidates.setdefault(item_id, FusedCandidate(item_id))
            candidate.fused += contribution
            candidate.signals[signal] = (rank, score, contribution)
    best_possible = sum(weights.get(signal, 1.0) for signal in ranked) or 1.0
    ordered = sorted(candidates.values(), key=lambda c: (-c.fused, -c.id))  # ties: newer first
    return ordered, best_possible
