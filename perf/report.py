"""Latency summaries and the printed table of the core benchmark."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

Report = dict[str, Any]


def summarise(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def median_of_runs(runs: list[dict[str, float]]) -> Report:
    """Each figure's median over the runs, with the runs themselves to show the spread."""
    merged: Report = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    merged["runs"] = runs
    return merged


def _percentiles(figures: Report) -> str:
    return f"{figures['p50_ms']:.1f}/{figures['p95_ms']:.1f}/{figures['p99_ms']:.1f}"


def _recall(found: Report) -> str:
    lexical, hybrid = found["lexical_recall@10"], found["hybrid_recall@10"]
    return "n/a" if lexical is None else f"{lexical:.3f}/{hybrid:.3f}"


ROWS: list[tuple[str, Callable[[Report], str]]] = [
    ("recall, MCP client          p50/p95/p99 ms", lambda s: _percentiles(s["recall_mcp"])),
    ("recall, MCP, cached query   p50/p95/p99 ms", lambda s: _percentiles(s["recall_mcp_cached"])),
    ("recall, service API         p50/p95/p99 ms", lambda s: _percentiles(s["recall_service"])),
    ("recall, service, cached     p50/p95/p99 ms", lambda s: _percentiles(s["recall_service_cached"])),
    ("lexical top-10, FTS5        p50/p95/p99 ms", lambda s: _percentiles(s["lexical_fts5"])),
    ("lexical top-10, rank-bm25   p50/p95/p99 ms", lambda s: _percentiles(s["lexical_rank_bm25"])),
    ("rank-bm25 / FTS5            p50 ratio", lambda s: f"{s['rank_bm25_over_fts5']:.1f}x"),
    ("LoCoMo evidence recall@10   lexical/hybrid", lambda s: _recall(s["evidence_recall"])),
    ("remember, MCP client        p50/p95/p99 ms", lambda s: _percentiles(s["remember_mcp"])),
    ("record_event, MCP client    p50/p95/p99 ms", lambda s: _percentiles(s["record_event_mcp"])),
    ("build, cached vectors       memories/s", lambda s: f"{s['build']['memories_per_s']:.0f}"),
    ("database after checkpoint   bytes/memory", lambda s: f"{s['database']['bytes_per_memory']:.0f}"),
]


def format_table(report: Report) -> str:
    meta = report["meta"]
    header = (
        f"Athena MCP core benchmark ({meta['source']}): {meta['model']}, {meta['cpus']} CPUs, "
        f"{meta['queries']} distinct queries, {meta['remember_calls']} remember and record_event calls, "
        f"medians of {meta['repeats']} run(s)"
    )
    columns = [f"{s['size']} memories" for s in report["sizes"]]
    cells = [[render(s) for s in report["sizes"]] for _, render in ROWS]
    width = max(len(text) for text in [*columns, *itertools.chain(*cells)]) + 2
    label_width = max(len(label) for label, _ in ROWS)
    lines = [header, " " * label_width + "".join(c.rjust(width) for c in columns)]
    lines += [
        label.ljust(label_width) + "".join(c.rjust(width) for c in row)
        for (label, _), row in zip(ROWS, cells, strict=True)
    ]
    ingest = ", ".join(
        f"batch {batch}: {figures['memories_per_s']:.0f} memories/s (model {figures['model_share']:.0%})"
        for batch, figures in report["ingest"].items()
    )
    lines.append(f"ingest via record_events on a fresh store: {ingest}")
    server_rss = report["server_peak_rss_mb"]
    lines.append(
        f"peak RSS: server process {'n/a' if server_rss is None else f'{server_rss:.0f} MB'} "
        f"(largest store), benchmark process {report['bench_peak_rss_mb']:.0f} MB"
    )
    return "\n".join(lines)
