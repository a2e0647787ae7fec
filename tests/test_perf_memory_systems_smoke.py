"""The quick memory-systems benchmark runs end to end and reports every figure; numbers are not judged."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from perf import bench_memory_systems, corpus


@pytest.mark.skipif(
    not corpus.DEFAULT_EVAL_DIR.is_dir(), reason="no shared evaluation data beside the checkout"
)
async def test_quick_memory_systems_benchmark_reports_every_figure(
    tmp_path: Path, minilm: MiniLMEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "memory_systems.json"
    config = dataclasses.replace(bench_memory_systems.QUICK, out=out, cache_dir=tmp_path / "cache")
    async with asyncio.timeout(300):
        await bench_memory_systems.run(config, minilm)

    report = json.loads(out.read_text(encoding="utf-8"))
    [consolidation] = report["consolidation"]
    assert consolidation["events"] == config.consolidation_sizes[0]
    assert math.isfinite(consolidation["seconds"]) and consolidation["seconds"] > 0
    assert consolidation["products"]["digests"] > 0 and consolidation["products"]["graph_candidates"] > 0
    items = report["items"]
    for name in ("find", "find_cached", "list_tasks"):
        figures = items[name]
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], (name, figures)
    assert "consolidation of" in capsys.readouterr().out
