"""Retrieval metrics over a ranked list of document keys and a set of relevant keys."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence


def recall_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant documents found in the top k (LoCoMo's "recall accuracy")."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def any_hit_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 when at least one relevant document is in the top k (LongMemEval's recall_any)."""
    return float(bool(set(ranked[:k]) & set(relevant)))


def all_hit_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1 when every relevant document is in the top k (LongMemEval's recall_all)."""
    return float(set(relevant) <= set(ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    return next((1 / rank for rank, key in enumerate(ranked, start=1) if key in relevant), 0.0)


def ndcg_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG@k."""
    gain = sum(1 / math.log2(rank + 1) for rank, key in enumerate(ranked[:k], start=1) if key in relevant)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return gain / ideal
