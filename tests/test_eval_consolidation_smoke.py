"""The consolidation benchmark: gold read from the data as its authors wrote it, and a short real run."""

from __future__ import annotations

import json

import pytest

from perf import eval_consolidation, eval_procedures
from perf.eval_retrieval import DATA

needs_data = pytest.mark.skipif(not DATA["locomo"].is_file(), reason="no shared evaluation data")


@needs_data
def test_gold_observations_keep_the_turns_they_cite_and_summaries_their_session():
    sample = json.loads(DATA["locomo"].read_text("utf-8"))[0]
    gold = eval_consolidation.gold_of(sample)
    assert len(gold.observations) == len(set(gold.observations)) == len(gold.cited) > 100
    assert all(cited and all(turn.startswith("D") for turn in cited) for cited in gold.cited)
    assert "session_1" in gold.summaries and len(gold.summaries["session_1"]) > 100


@needs_data
async def test_a_short_run_reports_coverage_noise_digests_and_retrieval(minilm, capsys):
    report = await eval_consolidation.run(DATA["locomo"], 1, minilm)
    [conversation] = report["conversations"]
    assert conversation["run_status"] == "done" and conversation["events"] > 300
    assert conversation["digests"] > 0  # a digest per session, at least
    summary = report["overall"]
    for share in (
        "coverage_by_meaning_facts",
        "coverage_by_meaning_products",
        "coverage_by_provenance_products",
        "noise_products",
        "graph_candidates_named_in_gold",
    ):
        assert 0 <= summary[share] <= 1, share
    # Every digest comes from its session's events, so products together cover every observation's
    # session by provenance only if digests keep their sources.
    assert summary["coverage_by_provenance_products"] >= summary["coverage_by_provenance_facts"]
    retrieval = summary["retrieval"]
    assert set(retrieval) == {"events", "events+products", "questions"}
    for mode in ("events", "events+products"):
        assert 0 < retrieval[mode]["recall@5"] <= retrieval[mode]["recall@10"] <= 1
    assert 0 <= retrieval["questions"]["harmed"] + retrieval["questions"]["helped"] <= 1
    printed = capsys.readouterr().out
    assert (
        "coverage by meaning" in printed and "noise" in printed and "recall over events+products" in printed
    )


async def test_the_procedure_check_learns_workflows_names_their_goals_and_ignores_near_misses(minilm):
    report = await eval_procedures.run(repeats=3, one_offs=6, seed=3, embedder=minilm)
    assert report["learned"] >= 3 and report["precision"] == 1.0
    assert report["goal_named_right"] == 1.0  # batches start with an unrelated event of the same time
    assert report["foreign_evidence"] == 0.0
    sessions = eval_procedures.recorded_sessions(3, 6, seed=3)
    batched = [
        memories
        for memories, recorded in sessions
        if recorded.workflow and len({m.occurred_at for m in memories}) == 1
    ]
    assert batched and all(memories[0].content in eval_procedures.CHATTER for memories in batched)
