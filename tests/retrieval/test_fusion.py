"""Relative-score fusion by memory id, checked against hand-computed values."""

from __future__ import annotations

import pytest

from athena_mcp.retrieval.fusion import fuse


def test_fusion_adds_each_signals_rescaled_score_by_id():
    candidates, best = fuse(
        {"lexical": [(10, 8.0), (20, 4.0), (40, 0.0)], "dense": [(20, 0.9), (30, 0.7), (10, 0.4)]},
        {"lexical": 0.6, "dense": 0.4},
    )
    fused = {c.id: c.fused for c in candidates}
    assert fused[10] == pytest.approx(0.6 * 1.0 + 0.4 * 0.0)
    assert fused[20] == pytest.approx(0.6 * 0.5 + 0.4 * 1.0)
    assert fused[30] == pytest.approx(0.4 * 0.6)
    assert fused[40] == pytest.approx(0.0)
    assert [c.id for c in candidates] == [20, 10, 30, 40]
    assert best == pytest.approx(1.0)
    assert candidates[0].signals == {
        "lexical": (2, 4.0, pytest.approx(0.3)),
        "dense": (1, 0.9, pytest.approx(0.4)),
    }


def test_a_clear_winner_of_the_strong_signal_beats_near_ties_of_the_weak_one():
    # Dense barely prefers 2 over 1; lexical strongly prefers 1. Rank fusion would tie them.
    candidates, _ = fuse(
        {"lexical": [(1, 9.0), (2, 1.0), (3, 0.5)], "dense": [(2, 0.81), (1, 0.80), (3, 0.2)]},
        {"lexical": 0.6, "dense": 0.4},
    )
    assert candidates[0].id == 1


def test_a_lone_candidate_and_a_single_signal_score_one():
    candidates, best = fuse({"lexical": [(5, 2.0)]}, {"lexical": 0.6, "dense": 0.4})
    assert candidates[0].fused / best == 1.0
