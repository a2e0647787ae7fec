"""Similarity of step sequences, and grouping by similarity: the arithmetic of procedure learning.

Two sessions repeat one workflow when most of their steps match in the same order. A step matches
another when their vectors' cosine reaches STEP_MATCH; the sessions' similarity is the length of
the longest common subsequence of matching steps over the longer session's length, so an extra or
missing step costs a little and a reordered workflow costs more.
"""

from __future__ import annotations

import numpy as np

# Cosine at which two step texts count as the same step. Chosen on `perf.eval_procedures` (five
# workflows recorded in paraphrase, near misses on the same topics, 10 seeds): at 0.75 (set by hand
# on paraphrase pairs before) 70 % of the workflows were learned, at 0.65 86 %, with every learned
# procedure a workflow and no near miss taken as evidence at either; 0.6 learned no more.
STEP_MATCH = 0.65
# Share of the longer session's steps that must match, in order, for the same workflow.
SESSION_MATCH = 0.7


def sequence_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """In [0, 1]: matching steps in order (LCS) over the longer sequence's length."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    match = (a @ b.T) >= STEP_MATCH
    previous = [0] * (len(b) + 1)
    for i in range(len(a)):
        current = [0] * (len(b) + 1)
        for j in range(len(b)):
            current[j + 1] = previous[j] + 1 if match[i, j] else max(previous[j + 1], current[j])
        previous = current
    return previous[-1] / max(len(a), len(b))


class UnionFind:
    """Groups of ids joined pairwise; `groups()` lists them."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self._parent.setdefault(item, item)
        if parent != item:
            parent = self._parent[item] = self.find(parent)
        return parent

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = {}
        for item in list(self._parent):
            members.setdefault(self.find(item), []).append(item)
        return list(members.values())


def similar_pairs(
    rows: np.ndarray, row_ids: np.ndarray, columns: np.ndarray, column_ids: np.ndarray, threshold: float
) -> list[tuple[int, int]]:
    """(row id, column id) pairs of different ids whose unit vectors' cosine reaches `threshold`,
    computed a block of rows at a time so the similarity matrix never sits in memory whole."""
    pairs: list[tuple[int, int]] = []
    if len(rows) == 0 or len(columns) == 0:
        return pairs
    block = max(1, (1 << 21) // len(columns))  # about 8 MB of float32 similarities at a time
    for start in range(0, len(rows), block):
        similarity = rows[start : start + block] @ columns.T
        for r, c in zip(*np.nonzero(similarity >= threshold), strict=True):
            row_id, column_id = int(row_ids[start + r]), int(column_ids[c])
            if row_id != column_id:
                pairs.append((row_id, column_id))
    return pairs
