"""The quick core benchmark runs end to end and reports every figure; its numbers are never judged here."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from perf import bench_core, corpus, plot

LATENCIES = (
    "recall_mcp",
    "recall_mcp_cached",
    "recall_service",
    "recall_service_cached",
    "lexical_fts5",
    "lexical_rank_bm25",
    "remember_mcp",
    "record_event_mcp",
)
PERCENTILES = ("p50_ms", "p95_ms", "p99_ms", "mean_ms")


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.mark.skipif(
    not corpus.DEFAULT_EVAL_DIR.is_dir(), reason="no shared evaluation data beside the checkout"
)
async def test_quick_benchmark_reports_every_figure(
    tmp_path: Path, minilm: MiniLMEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "core.json"
    async with asyncio.timeout(300):
        await bench_core.run(
            dataclasses.replace(bench_core.QUICK, out=out, cache_dir=tmp_path / "cache"), minilm
        )

    report = json.loads(out.read_text(encoding="utf-8"))
    [size] = report["sizes"]
    assert size["size"] == bench_core.QUICK.sizes[0]
    for name in LATENCIES:
        assert all(positive(size[name][p]) for p in PERCENTILES), (name, size[name])
        assert size[name]["p50_ms"] <= size[name]["p95_ms"] <= size[name]["p99_ms"]
        assert len(size[name]["runs"]) == bench_core.QUICK.repeats
    assert size["build"]["memories"] == size["size"] and positive(size["build"]["memories_per_s"])
    assert positive(size["rank_bm25_over_fts5"])
    # The first 200 LoCoMo turns answer some questions; the search finds some of that evidence.
    found = size["evidence_recall"]
    assert (
        found["questions"] > 0 and 0 < found["lexical_recall@10"] <= 1 and 0 < found["hybrid_recall@10"] <= 1
    )
    assert positive(size["database"]["bytes_per_memory"])
    assert set(report["ingest"]) == {str(batch) for batch in bench_core.QUICK.batch_sizes}
    assert all(positive(figures["memories_per_s"]) for figures in report["ingest"].values())
    assert positive(report["server_peak_rss_mb"]) and positive(report["bench_peak_rss_mb"])
    assert (tmp_path / "cache").is_dir()  # store vectors were cached there, never in the checkout
    assert report["meta"]["queries"] == bench_core.QUICK.queries
    assert "recall, MCP client" in capsys.readouterr().out

    png = tmp_path / "latency.png"
    plot.plot(report, png)
    assert png.read_bytes().startswith(b"\x89PNG")
