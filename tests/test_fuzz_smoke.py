"""A short run of the schema-driven fuzzer (chaos.fuzz) over every tool through the MCP client."""

from __future__ import annotations

from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from chaos.fuzz import run_fuzz
from tests.tools.test_tool_contract import ALL_TOOLS

pytestmark = pytest.mark.timeout(240)


async def test_generated_calls_of_every_tool_never_crash_leak_or_refuse_without_naming_the_field(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    report = await run_fuzz(tmp_path / "fuzz.db", minilm, examples=400, run_seed=6)
    assert [str(finding) for finding in report.findings] == []
    assert set(report.cases) == ALL_TOOLS
    assert all(count >= 5 for count in report.cases.values()), report.cases
    # Both halves were exercised: calls that went through and broken calls that were refused.
    assert report.succeeded > 50 and report.refused > 100
    assert sum(report.broken_cases.values()) > 100
