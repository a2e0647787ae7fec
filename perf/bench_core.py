"""Core benchmark of Athena MCP with the real default model (all-MiniLM-L6-v2) on real conversation text.

For a store of each size, built from LoCoMo and LongMemEval turns (perf/corpus.py), it measures:
- `recall` latency p50/p95/p99 through an in-process MCP client, hybrid mode: distinct LoCoMo
  questions, so every call pays for its query embedding, then the same questions again, answered
  from the query-embedding cache;
- the same through the hybrid searcher alone (`services.search`), so the protocol's share is visible;
- `remember` latency, one fact per MCP call (embedding, near-duplicate check, write);
- the throughput of building the store through `record_events` batches, and the database size per
  memory after a WAL checkpoint.
Then ingestion throughput per `record_events` batch size on a fresh store, and the process's peak RSS.
Every latency and throughput figure is the median over --repeats runs, each run in a fresh session.

Run from the repository root (stores go to a temporary folder, results to --out):
    python -m perf.bench_core [--sizes 1000,10000] [--queries 200] [--quick] [--out perf/results/core.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from mcp import Client

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.server import build_server
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store.driver import sqlite_module
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.vectors import EmbeddingIdentity
from athena_mcp.tools.fields import MAX_BATCH_EVENTS
from perf import corpus
from perf.report import Report, format_table, median_of_runs, summarise

NAMESPACE = "bench"
DEFAULT_OUT = Path("perf/results/core.json")
WARMUP_FACTS = 2


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = (1000, 10000)
    queries: int = 200
    repeats: int = 3
    remember_calls: int = 100
    batch_sizes: tuple[int, ...] = (64, 256)
    ingest_sample: int = 1024
    eval_dir: Path = corpus.DEFAULT_EVAL_DIR
    out: Path = DEFAULT_OUT


QUICK = BenchConfig(sizes=(200,), queries=30, repeats=1, remember_calls=10, ingest_sample=64)


class BenchError(RuntimeError):
    """A measurement would be meaningless (a call failed, recall fell back to lexical-only, data ran out)."""


class TimedEmbedder:
    """An embedder that adds up the seconds spent inside the wrapped model, to split ingestion time."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.seconds = 0.0

    @property
    def identity(self) -> EmbeddingIdentity:
        return self._inner.identity

    @property
    def loaded(self) -> bool:
        return self._inner.loaded

    def load(self) -> None:
        self._inner.load()

    def embed(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self._inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - start


# --- calls ---------------------------------------------------------------------------------------


async def call_tool(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    if result.is_error or result.structured_content is None:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise BenchError(f"{name} failed: {text}")
    return result.structured_content


def require_hybrid(mode: str) -> None:
    if mode != "hybrid":
        raise BenchError(f"recall ran in {mode} mode; the figures would not include the dense signal")


async def time_each(call: Callable[[str], Awaitable[None]], items: Sequence[str]) -> list[float]:
    """Seconds taken by each call, one item at a time."""
    samples = []
    for item in items:
        start = time.perf_counter()
        await call(item)
        samples.append(time.perf_counter() - start)
    return samples


# --- measurements --------------------------------------------------------------------------------


async def ingest(
    settings: Settings, embedder: TimedEmbedder, events: list[corpus.Event], batch: int
) -> Report:
    """Record `events` through the record_events tool, `batch` per call."""
    model_before = embedder.seconds
    async with Client(build_server(settings, embedder)) as client:
        start = time.perf_counter()
        for offset in range(0, len(events), batch):
            await call_tool(
                client, "record_events", {"events": events[offset : offset + batch], "namespace": NAMESPACE}
            )
        seconds = time.perf_counter() - start
    model_seconds = embedder.seconds - model_before
    return {
        "memories": len(events),
        "batch_size": batch,
        "seconds": seconds,
        "memories_per_s": len(events) / seconds,
        "model_share": model_seconds / seconds,
    }


async def recall_via_mcp(
    settings: Settings, embedder: Embedder, queries: list[str], warmups: list[str]
) -> tuple[list[float], list[float]]:
    """Per-call seconds for distinct queries, then for the same queries again (cached embeddings)."""
    async with Client(build_server(settings, embedder)) as client:

        async def ask(query: str) -> None:
            found = await call_tool(client, "recall", {"query": query, "namespace": NAMESPACE})
            require_hybrid(found["mode"])

        await time_each(ask, warmups)
        return await time_each(ask, queries), await time_each(ask, queries)


async def recall_via_service(
    settings: Settings, embedder: Embedder, queries: list[str], warmups: list[str]
) -> tuple[list[float], list[float]]:
    """As `recall_via_mcp`, calling the searcher the recall tool calls, with the filter it builds."""
    async with open_services(settings, embedder, background=False) as services:
        await services.embeddings.wait_ready()

        async def ask(query: str) -> None:
            found = await services.search.search(SearchRequest(query, MemoryFilter(namespaces=(NAMESPACE,))))
            require_hybrid(found.mode)

        await time_each(ask, warmups)
        return await time_each(ask, queries), await time_each(ask, queries)


async def remember_via_mcp(settings: Settings, embedder: Embedder, facts: list[str]) -> list[float]:
    """Per-call seconds of `remember` for each fact after the first WARMUP_FACTS; every fact must be new."""
    async with Client(build_server(settings, embedder)) as client:

        async def store(fact: str) -> None:
            stored = await call_tool(client, "remember", {"content": fact, "namespace": NAMESPACE})
            if stored["status"] != "stored" or stored["vector"] != "stored":
                raise BenchError(f"remember answered {stored['status']}/{stored['vector']} for {fact!r}")

        await time_each(store, facts[:WARMUP_FACTS])
        return await time_each(store, facts[WARMUP_FACTS:])


def database_bytes(path: Path) -> int:
    """Size of the database file and its WAL after checkpointing the WAL into the file."""
    with contextlib.closing(sqlite_module().connect(str(path))) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


# --- the benchmark -------------------------------------------------------------------------------


def take_events(config: BenchConfig, count: int) -> list[corpus.Event]:
    events = list(itertools.islice(corpus.events(config.eval_dir), count))
    if len(events) < count:
        raise BenchError(f"the evaluation data holds only {len(events)} turns; choose sizes up to that")
    return events


async def bench_size(config: BenchConfig, embedder: TimedEmbedder, size: int, workdir: Path) -> Report:
    settings = Settings(db=workdir / f"store-{size}.db")
    build = await ingest(settings, embedder, take_events(config, size), max(config.batch_sizes))
    size_bytes = database_bytes(settings.db)
    queries = corpus.questions(config.eval_dir)[: config.queries]
    warmups = corpus.warmup_questions(config.eval_dir)
    runs: dict[str, list[dict[str, float]]] = {
        "recall_mcp": [],
        "recall_mcp_cached": [],
        "recall_service": [],
        "recall_service_cached": [],
        "remember_mcp": [],
    }
    for _ in range(config.repeats):
        distinct, cached = await recall_via_mcp(settings, embedder, queries, warmups)
        runs["recall_mcp"].append(summarise(distinct))
        runs["recall_mcp_cached"].append(summarise(cached))
        distinct, cached = await recall_via_service(settings, embedder, queries, warmups)
        runs["recall_service"].append(summarise(distinct))
        runs["recall_service_cached"].append(summarise(cached))
    facts = corpus.facts(config.eval_dir)
    per_run = WARMUP_FACTS + config.remember_calls
    for run in range(config.repeats):
        runs["remember_mcp"].append(
            summarise(await remember_via_mcp(settings, embedder, facts[run * per_run : (run + 1) * per_run]))
        )
    return {
        "size": size,
        "build": build,
        "database": {"bytes": size_bytes, "bytes_per_memory": size_bytes / size},
        **{name: median_of_runs(figures) for name, figures in runs.items()},
    }


async def bench_ingest(config: BenchConfig, embedder: TimedEmbedder, workdir: Path) -> Report:
    """Memories per second through record_events at each batch size, each run on a fresh store."""
    events = take_events(config, config.ingest_sample)
    results: Report = {}
    for batch in config.batch_sizes:
        runs = [
            await ingest(Settings(db=workdir / f"ingest-{batch}-{run}.db"), embedder, events, batch)
            for run in range(config.repeats)
        ]
        results[str(batch)] = median_of_runs(
            [{"memories_per_s": r["memories_per_s"], "model_share": r["model_share"]} for r in runs]
        )
    return results


def check(config: BenchConfig) -> None:
    if not config.sizes or min(config.sizes) < 1 or config.repeats < 1 or config.remember_calls < 1:
        raise BenchError("--sizes, --repeats and --remember-calls must be positive")
    if not config.batch_sizes or not all(1 <= batch <= MAX_BATCH_EVENTS for batch in config.batch_sizes):
        raise BenchError(f"--batch-sizes must be 1-{MAX_BATCH_EVENTS}, the record_events limit")
    available_queries = len(corpus.questions(config.eval_dir))
    if not 0 < config.queries <= available_queries:
        raise BenchError(f"--queries must be 1-{available_queries} (distinct LoCoMo questions)")
    needed_facts = config.repeats * (WARMUP_FACTS + config.remember_calls)
    if needed_facts > len(corpus.facts(config.eval_dir)):
        raise BenchError(
            f"{needed_facts} distinct facts needed for remember; lower --repeats or the call count"
        )


async def run(config: BenchConfig, embedder: Embedder) -> Report:
    """Run every measurement, print the table, write the JSON report to `config.out` and return it."""
    check(config)
    timed = TimedEmbedder(embedder)
    await asyncio.to_thread(timed.load)
    with tempfile.TemporaryDirectory(prefix="athena-bench-") as workdir:
        sizes = [await bench_size(config, timed, size, Path(workdir)) for size in config.sizes]
        ingestion = await bench_ingest(config, timed, Path(workdir))
    report: Report = {
        "meta": meta(config, embedder),
        "sizes": sizes,
        "ingest": ingestion,
        "peak_rss_mb": peak_rss_mb(),
    }
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    return report


def meta(config: BenchConfig, embedder: Embedder) -> Report:
    return {
        "model": embedder.identity.model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite_module().sqlite_version,
        "queries": config.queries,
        "repeats": config.repeats,
        "remember_calls": config.remember_calls,
        "source": source_version(),
        "finished_at": datetime.now(UTC).isoformat(),
    }


def source_version() -> str | None:
    """The checkout's commit, with -dirty when files differ from it, so results can be compared."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return described.stdout.strip()


# --- command line --------------------------------------------------------------------------------


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None


def parse_args(argv: Sequence[str] | None) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m perf.bench_core", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int_list, help="comma-separated store sizes (default 1000,10000)")
    parser.add_argument("--queries", type=int, help="distinct recall queries per run (default 200)")
    parser.add_argument("--repeats", type=int, help="runs per measurement; medians are reported (default 3)")
    parser.add_argument("--remember-calls", type=int, help="timed remember calls per run (default 100)")
    parser.add_argument(
        "--batch-sizes", type=int_list, help="comma-separated record_events batch sizes (default 64,256)"
    )
    parser.add_argument("--ingest-sample", type=int, help="events ingested per batch-size run (default 1024)")
    parser.add_argument("--eval-dir", type=Path, help=f"evaluation data (default {corpus.DEFAULT_EVAL_DIR})")
    parser.add_argument("--out", type=Path, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="a smoke run well under a minute")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else BenchConfig()
    given = {name: value for name, value in vars(args).items() if name != "quick" and value is not None}
    return dataclasses.replace(base, **given)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        asyncio.run(run(config, MiniLMEmbedder()))
    except BenchError as exc:
        sys.exit(f"bench_core: {exc}")


if __name__ == "__main__":
    main()
