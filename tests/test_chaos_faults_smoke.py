"""Smoke runs of the fault scenarios (`python -m chaos io_faults embedder slow_storage memory_pressure
--quick`):
real server processes, real MCP clients; nothing acknowledged lost, every error clear."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from chaos.scenarios import embedder_faults, memory_pressure, slow_storage, storage_faults
from chaos.scenarios.base import RunConfig


@pytest.mark.parametrize(
    "scenario",
    [
        storage_faults,
        embedder_faults,
        slow_storage,
        pytest.param(
            memory_pressure,
            marks=pytest.mark.skipif(sys.platform != "linux", reason="caps RLIMIT_AS, reads /proc"),
        ),
    ],
    ids=lambda m: m.__name__,
)
async def test_a_fault_scenario_loses_nothing_and_reports_only_clear_errors(
    scenario: ModuleType, tmp_path: Path
) -> None:
    report = await scenario.run(RunConfig(tmp_path, quick=True))
    assert report.ok, report.to_json()
    assert report.tried > 0 and report.lost == 0 and report.half_written == 0
    assert "bare" not in report.errors and "other" not in report.errors
