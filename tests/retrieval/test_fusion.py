"""Reciprocal rank fusion by memory id, checked against hand-computed values."""

from __future__ import annotations

import pytest

from athena_mcp.retrieval.fusion import RRF_K, fuse


def test_fusion_adds_each_signals_reciprocal_rank_by_id():
    candidates, best = fuse(
        {"lexical": [(10, 7.5), (20, 3.0)], "dense": [(20, 0.9), (30, 0.8), (10, 0.1)]},
        {"lexical": 1.0, "dense": 1.0},
    )
    fused = {c.memory_id: c.fused for c in candidates}
    assert fused[10] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[20] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[30] == pytest.approx(1 / 62)
    assert [c.memory_id for c in candidates] == [20, 10, 30]
    assert best == pytest.approx(2 / (RRF_K + 1))
    assert candidates[0].signals == {
        "lexical": (2, 3.0, pytest.approx(1 / 62)),
        "dense": (1, 0.9, pytest.approx(1 / 61)),
    }


def test_weights_scale_a_signals_contribution():
    candidates, best = fuse({"lexical": [(1, 1.0)], "dense": [(2, 1.0)]}, {"lexical": 2.0, "dense": 1.0})
    assert [c.memory_id for c in candidates] == [1, 2]
    assert best == pytest.approx(3 / 61)


def test_a_single_signal_ranks_first_with_score_one():
    candidates, best = fuse({"lexical": [(5, 2.0), (6, 1.0)]}, {"lexical": 1.0})
    assert candidates[0].fused / best == 1.0
