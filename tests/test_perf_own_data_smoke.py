"""The data-ownership benchmark runs end to end on a small store: every command it times succeeds, and
the export of the imported store holds the same records; its numbers are never judged here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf import bench_own_data, corpus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.skipif(
    not corpus.DEFAULT_EVAL_DIR.is_dir(), reason="no shared evaluation data beside the checkout"
)
def test_the_quick_run_times_every_command_and_round_trips_the_store(tmp_path: Path) -> None:
    out = tmp_path / "own_data.json"
    bench_own_data.main(["--quick", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["round_trip_identical"] is True and report["export_records"] > report["memories"]
    assert set(report["commands"]) == {
        "stats",
        "doctor",
        "backup",
        "restore",
        "export",
        "import",
        "show memory",
        "show sessions",
        "search",
        "timeline",
    }
    for figures in report["commands"].values():
        assert figures["seconds"] > 0 and figures["peak_mb"] > 0
