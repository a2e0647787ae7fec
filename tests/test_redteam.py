"""The red-team script (python -m chaos.redteam) finds no way through, in the default run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(300)
def test_no_attack_of_the_red_team_gets_through(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    finished = subprocess.run(
        [sys.executable, "-m", "chaos.redteam", "--report", str(report_file)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert report_file.exists(), finished.stderr[-3000:]
    report = json.loads(report_file.read_text())
    breaches = [attack for attack in report["attacks"] if not attack["held"]]
    assert breaches == [] and finished.returncode == 0, json.dumps(breaches, indent=1)
    names = " ".join(attack["name"] for attack in report["attacks"])
    for family in ("injection:", "secrets:", "cross-namespace:", "token scope:"):
        assert family in names
    assert len(report["attacks"]) >= 30
