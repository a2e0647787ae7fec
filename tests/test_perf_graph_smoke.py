"""The quick graph benchmark runs end to end through the MCP tools and reports every figure; numbers are
not judged."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from perf import bench_graph


async def test_quick_graph_benchmark_reports_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "graph.json"
    config = dataclasses.replace(bench_graph.QUICK, out=out)
    async with asyncio.timeout(120):
        await bench_graph.run(config)

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["meta"]["entities"] == config.entities and report["build"]["seconds"] > 0
    queries = report["queries"]
    assert set(bench_graph.TARGETS_MS) <= set(queries)
    for label, figures in [*queries.items(), *report["services"].items()]:
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], (label, figures)
    # The calls found what they were drawn from: neighbours exist, paths and hits are found, misses miss.
    assert queries["find_neighbours depth 1"]["mean_entities"] > 1
    assert queries["find_path, same group"]["mean_entities"] > 0
    assert queries["search_nodes, name"]["mean_entities"] >= 1
    assert queries["search_nodes, miss"]["mean_entities"] == 0
    communities = report["communities"]
    assert communities["communities"] >= 1 and 0 < communities["full_leiden_s"] <= communities["full_s"]
    assert communities["incremental_s"] > 0 and communities["loop_stall_max_ms"] >= 0
    printed = capsys.readouterr().out
    assert "find_neighbours depth 1" in printed and "communities (Leiden)" in printed
