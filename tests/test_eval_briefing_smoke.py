"""The briefing evaluation runs end to end on a few dev questions and reports every figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf import eval_briefing
from perf.eval_retrieval import DATA

pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(not DATA["locomo"].is_file(), reason="no shared evaluation data beside the checkout")
def test_a_short_briefing_evaluation_reports_both_texts_at_every_budget(tmp_path: Path) -> None:
    out = tmp_path / "briefing.json"
    eval_briefing.main(["--limit", "4", "--out", str(out)])
    report = json.loads(out.read_text())
    for scale in ("locomo", "locomo-facts"):
        assert report[scale]["questions"] >= 4
        for budget in eval_briefing.BUDGETS:
            for what in ("recall", "brief"):
                figures = report[scale][f"{what}@{budget}"]
                assert 0 <= figures["evidence_recall"] <= 1 and 0 < figures["mean_tokens"] <= budget
            brief = report[scale][f"brief@{budget}"]
            assert brief["evidence_recall"] <= brief["evidence_recall_with_merged"]
