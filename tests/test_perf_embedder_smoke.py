"""The embedder and start-up benchmarks run end to end; their numbers are never judged here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from perf import bench_embedder, bench_startup, corpus


def positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_the_embedder_figures_are_measured(minilm: MiniLMEmbedder) -> None:
    cold = bench_embedder.cold_start("onnx")  # a fresh interpreter: the torch one is not needed
    assert all(positive(value) for value in cold.values()), cold
    latency = bench_embedder.query_latency(minilm, ["where is the app hosted?"] * 8)
    assert 0 < latency["query_p50_ms"] <= latency["query_p95_ms"]
    assert positive(bench_embedder.throughput(minilm, bench_embedder.REFERENCE_TEXTS))
    agreement = bench_embedder.agreement(minilm, minilm, bench_embedder.REFERENCE_TEXTS)
    assert agreement["texts"] == len(bench_embedder.REFERENCE_TEXTS) and agreement["min"] > 0.9999


@pytest.mark.skipif(
    not corpus.DEFAULT_EVAL_DIR.is_dir(), reason="no shared evaluation data beside the checkout"
)
def test_the_startup_benchmark_reports_a_first_hybrid_answer_and_the_servers_memory(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    sizes = ["--memories", "100", "--starts", "1", "--embedders", "minilm"]
    bench_startup.main([*sizes, "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["minilm"]["first_recalls_hybrid"] == 1
    assert positive(report["minilm"]["first_recall_s_median"]) and positive(report["minilm"]["peak_rss_mb"])
