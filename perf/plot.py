"""Plot latency against store size from a bench_core JSON report.

python -m perf.plot [perf/results/core.json] [--out perf/latency.png]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt

from perf.bench_core import DEFAULT_OUT
from perf.report import Report

SERIES = {
    "recall_mcp": "recall through MCP (query embedding included)",
    "recall_service": "recall, service API (query embedding included)",
    "recall_mcp_cached": "recall through MCP, cached query embedding",
    "lexical_fts5": "lexical top-10, FTS5",
    "lexical_rank_bm25": "lexical top-10, rank-bm25",
}
TARGET_MS = 30  # the recall p95 target at 100k memories


def plot(report: Report, out: Path) -> None:
    sizes = [entry["size"] for entry in report["sizes"]]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for axis, percentile in zip(axes, ("p50_ms", "p95_ms"), strict=True):
        for key, label in SERIES.items():
            axis.plot(sizes, [entry[key][percentile] for entry in report["sizes"]], marker="o", label=label)
        axis.axhline(
            TARGET_MS, color="grey", linestyle="--", linewidth=1, label=f"{TARGET_MS} ms recall target"
        )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("memories in the store")
        axis.set_title(percentile.removesuffix("_ms"))
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency (ms)")
    axes[1].legend(fontsize=8, loc="upper left")
    meta = report["meta"]
    figure.suptitle(
        f"Athena MCP latency by store size ({meta['source']}, {meta['cpus']} CPUs, {meta['model']})"
    )
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m perf.plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--out", type=Path, default=Path("perf/latency.png"), help="default perf/latency.png")
    args = parser.parse_args(argv)
    plot(json.loads(args.report.read_text(encoding="utf-8")), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
