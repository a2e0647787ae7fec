"""The quick hook benchmark runs end to end and reports every figure; its numbers are never judged here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf import bench_hooks, corpus

pytestmark = pytest.mark.timeout(300)


@pytest.mark.skipif(
    not corpus.DEFAULT_EVAL_DIR.is_dir(), reason="no shared evaluation data beside the checkout"
)
def test_quick_hook_benchmark_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "hooks.json"
    bench_hooks.main(["--memories", "200", "--runs", "3", "--out", str(out)])
    report = json.loads(out.read_text())
    for mode in ("server", "alone"):
        for event in ("SessionStart", "UserPromptSubmit", "PostToolUse"):
            figures = report[mode][event]
            assert figures["runs"] >= 3 and 0 < figures["median_s"] <= figures["p95_s"] <= figures["max_s"]
    # A store with this week's sessions and facts is briefed at every start, in both modes.
    assert report["server"]["SessionStart"]["added_context"] == report["server"]["SessionStart"]["runs"]
    assert report["alone"]["SessionStart"]["added_context"] == report["alone"]["SessionStart"]["runs"]
    assert set(report["targets_met_with_server"]) == {"SessionStart", "UserPromptSubmit", "PostToolUse"}
