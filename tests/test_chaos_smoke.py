"""The chaos harness's own smoke run: crash, contention and disk full, short, against real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.__main__ import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPORT_KEYS = {
    "scenario",
    "ok",
    "tried",
    "acknowledged",
    "lost",
    "half_written",
    "integrity_failures",
    "errors",
    "recovery_seconds",
    "notes",
    "problems",
    "seconds",
}


def test_quick_crash_contention_and_disk_full_lose_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "chaos.json"
    code = main(["crash", "contention", "disk_full", "--quick", "--out", str(out)])
    report = json.loads(out.read_text())
    scenarios = {s["scenario"]: s for s in report["scenarios"]}
    assert set(scenarios) == {"crash", "contention", "disk_full"}
    for scenario in scenarios.values():
        assert set(scenario) == REPORT_KEYS
        assert scenario["lost"] == 0 and scenario["half_written"] == 0, scenario["problems"]
        assert scenario["integrity_failures"] == [] and scenario["ok"], scenario
        assert scenario["acknowledged"] > 0 and scenario["recovery_seconds"]["count"] > 0
    assert scenarios["contention"]["errors"] == {}
    assert set(scenarios["disk_full"]["errors"]) == {"disk full"}
    assert code == 0
    assert "crash" in capsys.readouterr().out
