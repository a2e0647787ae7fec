"""Reciprocal rank fusion, keyed by memory id (never by list position).

fused(m) = sum over signals s that returned m of  weight_s / (K + rank_s(m)),  rank 1-based, K = 60.

The reported score divides by the best achievable value (ranked first by every signal that ran),
so it lies in (0, 1] and is comparable across queries with the same signals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

RRF_K = 60
Signal = Literal["lexical", "dense"]


@dataclass
class FusedCandidate:
    memory_id: int
    fused: float = 0.0
    # signal name -> (rank, raw score, contribution)
    signals: dict[Signal, tuple[int, float, float]] = field(default_factory=dict)


def fuse(
    ranked: Mapping[Signal, Sequence[tuple[int, float]]], weights: Mapping[Signal, float], k: int = RRF_K
) -> tuple[list[FusedCandidate], float]:
    """Fuse each signal's best-first (memory id, score) list; returns candidates best first and the
    maximum achievable fused value for normalising."""
    candidates: dict[int, FusedCandidate] = {}
    for signal, hits in ranked.items():
        weight = weights.get(signal, 1.0)
        for rank, (memory_id, score) in enumerate(hits, start=1):
            contribution = weight / (k + rank)
            candidate = candidates.setdefault(memory_id, FusedCandidate(memory_id))
            candidate.fused += contribution
            candidate.signals[signal] = (rank, score, contribution)
    best_possible = sum(weights.get(signal, 1.0) / (k + 1) for signal in ranked) or 1.0
    ordered = sorted(candidates.values(), key=lambda c: (-c.fused, -c.memory_id))  # ties: newer first
    return ordered, best_possible
