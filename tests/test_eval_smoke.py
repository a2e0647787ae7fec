"""The retrieval evaluation: metrics against hand-computed values, data repair, and a short real run."""

from __future__ import annotations

import math

import pytest

from perf import eval_data, eval_retrieval, metrics

RANKED = ["d3", "d1", "d7", "d2", "d9"]


def test_recall_counts_the_share_of_evidence_in_the_top_k():
    assert metrics.recall_at(RANKED, {"d1", "d2"}, 1) == 0
    assert metrics.recall_at(RANKED, {"d1", "d2"}, 2) == 0.5
    assert metrics.recall_at(RANKED, {"d1", "d2"}, 4) == 1


def test_any_and_all_hits():
    assert metrics.any_hit_at(RANKED, {"d7", "d8"}, 3) == 1 and metrics.any_hit_at(RANKED, {"d7"}, 2) == 0
    assert (
        metrics.all_hit_at(RANKED, {"d3", "d7"}, 3) == 1 and metrics.all_hit_at(RANKED, {"d3", "d8"}, 5) == 0
    )


def test_reciprocal_rank_and_ndcg():
    assert metrics.reciprocal_rank(RANKED, {"d7", "d9"}) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank(RANKED, {"x"}) == 0
    # Relevant at ranks 2 and 4 of 5; ideal: ranks 1 and 2.
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at(RANKED, {"d1", "d2"}, 5) == pytest.approx(expected)
    assert metrics.ndcg_at(RANKED, {"d3"}, 1) == 1


def test_malformed_locomo_evidence_is_repaired():
    found = list(eval_data.evidence_ids(["D8:6; D9:17", "D9:1 D4:4", "D:11:26", "D30:05", "D"]))
    assert found == ["D8:6", "D9:17", "D9:1", "D4:4", "D11:26", "D30:5"]


@pytest.mark.skipif(not eval_retrieval.DATA["locomo"].is_file(), reason="no shared evaluation data")
async def test_a_short_locomo_run_reports_every_mode_and_category(minilm, capsys):
    report = await eval_retrieval.run("locomo", eval_retrieval.DATA["locomo"], 12, minilm)
    assert set(report["runs"]) == {"locomo", "locomo-facts", "locomo-sessions"}
    for small in ("locomo-facts", "locomo-sessions"):
        assert report["runs"][small]["questions"] == 12
        assert report["runs"][small]["modes"]["hybrid"]["overall"]["recall@5"] > 0
    run = report["runs"]["locomo"]
    assert run["questions"] == 12
    assert set(run["modes"]) == {"bm25", "lexical", "dense", "hybrid", "hybrid by relative", "hybrid+graph"}
    assert set(run["calibration"]) == {"relative", "calibrated"}
    for calibration in run["calibration"].values():
        assert [figures["hits_per_question"] for figures in calibration.values()] == sorted(
            (figures["hits_per_question"] for figures in calibration.values()), reverse=True
        )
        assert all(f["precision"] is None or 0 <= f["precision"] <= 1 for f in calibration.values())
    for summary in run["modes"].values():
        overall = summary["overall"]
        assert (
            0
            <= overall["recall@1"]
            <= overall["recall@5"]
            <= overall["recall@10"]
            <= overall["recall@25"]
            <= 1
        )
        assert sum(c["questions"] for c in summary["by_category"].values()) == 12
    # Lexical, dense and hybrid really are different searches.
    assert len({json_key(summary["overall"]) for summary in run["modes"].values()}) > 1
    printed = capsys.readouterr().out
    assert "hybrid (all)" in printed and "hybrid -> hybrid+graph" in printed and "bm25 -> hybrid" in printed
    assert "calibrated: precision, hits/question" in printed and "hybrid by relative -> hybrid" in printed


@pytest.mark.skipif(not eval_retrieval.DATA["locomo"].is_file(), reason="no shared evaluation data")
def test_small_stores_keep_each_questions_evidence():
    facts = next(eval_data.locomo_facts(eval_retrieval.DATA["locomo"]))
    by_key = {document.key: document.content for document in facts.documents}
    assert len(by_key) == len(set(by_key.values()))  # identical statements are one fact
    first = facts.questions[0]  # "When did Caroline go to the LGBTQ support group?"
    assert any("support group" in by_key[key] for key in first.relevant)
    for session in eval_data.locomo_sessions(eval_retrieval.DATA["locomo"]):
        keys = {document.key for document in session.documents}
        assert len(keys) < 60 and all(question.relevant <= keys for question in session.questions)


def json_key(scores: dict[str, float]) -> str:
    return ",".join(f"{name}={value}" for name, value in sorted(scores.items()))
