"""Core benchmark of Athena MCP with the real default model (all-MiniLM-L6-v2) on real conversation text.

For a store of each size, built from real conversation text (perf/corpus.py) through `record_events`
batches with vectors the real model computed once and cached (perf/embedding_cache.py), it measures:
- `recall` latency p50/p95/p99 through an in-process MCP client, hybrid mode: distinct LoCoMo
  questions, so every call pays for its query embedding, then the same questions again, answered
  from the query-embedding cache;
- the same through the hybrid searcher alone (`services.search`), so the protocol's share is visible;
- the lexical top-10 alone: FTS5 through the store API and rank-bm25 (BM25Okapi) over the same
  texts and questions, side by side, and the ratio of their medians;
- what the search finds at that size: recall@10 of the LoCoMo questions' evidence turns among all the
  store's memories, by the searcher with its lexical signal alone (neighbour context included) and
  hybrid (questions whose evidence the store holds);
- `remember` latency, one fact per MCP call (embedding, near-duplicate check, write);
- the database size per memory after a WAL checkpoint.
Then ingestion throughput per `record_events` batch size on a fresh store with the model itself (no
cache), and the peak RSS of a real server process (`python -m athena_mcp` over stdio) that answers
the recall questions and records a batch of events on the largest store.
Every latency and throughput figure is the median over --repeats runs, each run in a fresh session.

Run from the repository root (stores go to a temporary folder, results to --out):
    python -m perf.bench_core [--sizes 1000,10000,100000] [--queries 200] [--quick]
                              [--out perf/results/core.json]
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
from typing import Any, TypeVar

import numpy as np
from mcp import Client, StdioServerParameters
from rank_bm25 import BM25Okapi

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.fields import MAX_BATCH_EVENTS
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.server import build_server
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store import fts
from athena_mcp.store.driver import sqlite_module
from athena_mcp.store.filters import MemoryFilter
from perf import corpus
from perf.embedders import TimedEmbedder
from perf.embedding_cache import DEFAULT_DIR as DEFAULT_CACHE_DIR
from perf.embedding_cache import CachedEmbedder
from perf.report import Report, format_table, median_of_runs, summarise

NAMESPACE = "bench"
DEFAULT_OUT = Path("perf/results/core.json")
WARMUP_FACTS = 2
# Seconds a fresh server is left to finish its start-up work (the in-memory copy of the vectors
# takes about 2 s at 100k memories; vec0 answers meanwhile) before anything is timed.
STARTUP_SETTLE = 3.0


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = (1000, 10000, 100000)
    queries: int = 200
    repeats: int = 3
    remember_calls: int = 100
    batch_sizes: tuple[int, ...] = (64, 256)
    ingest_sample: int = 1024
    eval_dir: Path = corpus.DEFAULT_EVAL_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    out: Path = DEFAULT_OUT
    embedder: str = "minilm"  # the local embedder measured: minilm (ONNX) or minilm-torch


QUICK = BenchConfig(sizes=(200,), queries=30, repeats=1, remember_calls=10, ingest_sample=64)
LEXICAL_K = 10
Item = TypeVar("Item")


class BenchError(RuntimeError):
    """A measurement would be meaningless (a call failed, recall fell back to lexical-only, data ran out)."""


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


async def time_each(call: Callable[[Item], Awaitable[None]], items: Sequence[Item]) -> list[float]:
    """Seconds taken by each call, one item at a time."""
    samples = []
    for item in items:
        start = time.perf_counter()
        await call(item)
        samples.append(time.perf_counter() - start)
    return samples


async def settle(call: Callable[[Item], Awaitable[None]], warmups: Sequence[Item]) -> None:
    """Let a fresh server finish its start-up work, then warm it up with calls that are not timed."""
    await asyncio.sleep(STARTUP_SETTLE)
    await time_each(call, warmups)


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

        await settle(ask, warmups)
        return await time_each(ask, queries), await time_each(ask, queries)


async def recall_via_service(
    settings: Settings, embedder: Embedder, queries: list[str], warmups: list[str]
) -> tuple[list[float], list[float]]:
    """As `recall_via_mcp`, calling the searcher the recall tool calls, with the filter it builds."""
    async with open_services(settings, embedder, background=False) as services:
        await services.embeddings.wait_ready()
        await services.vectors.load()  # as the server does in the background at start-up

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

        await settle(store, facts[:WARMUP_FACTS])
        return await time_each(store, facts[WARMUP_FACTS:])


async def record_event_via_mcp(
    settings: Settings, embedder: Embedder, events: list[corpus.Event]
) -> list[float]:
    """Per-call seconds of `record_event` for each event after the first WARMUP_FACTS."""
    async with Client(build_server(settings, embedder)) as client:

        async def record(event: corpus.Event) -> None:
            recorded = await call_tool(client, "record_event", {**event, "namespace": NAMESPACE})
            if recorded["vectors"] != "stored":
                raise BenchError(f"record_event stored no vector for {event['content'][:60]!r}")

        await settle(record, events[:WARMUP_FACTS])
        return await time_each(record, events[WARMUP_FACTS:])


def words(text: str) -> list[str]:
    """rank-bm25's tokens: lowercase word characters, as FTS5's unicode61 tokenizer splits them."""
    return fts.WORD.findall(text.lower())


async def lexical_side_by_side(
    settings: Settings, embedder: Embedder, bm25: BM25Okapi, queries: list[str]
) -> tuple[list[float], list[float]]:
    """Seconds per query for the top LEXICAL_K by BM25: FTS5 through the store, then rank-bm25.

    Both get the same query terms (stopwords dropped as the store drops them) and rank the whole
    namespace; rank-bm25 scores every document and keeps the best with a partial sort. Each side
    knows its terms' document counts before it is timed: rank-bm25 computes them when its index is
    built, the store keeps them per process (fts.TermStatistics; a term new to the process costs
    one count, about 0.2 ms a question at 100k, which the `recall` latencies above include)."""
    memory_filter = MemoryFilter(namespaces=(NAMESPACE,))
    async with open_services(settings, embedder, background=False) as services:
        statistics = fts.TermStatistics()
        for query in queries:
            await statistics.counts(services.database, fts.query_terms(query))

        async def with_fts5(query: str) -> None:
            await fts.lexical_search(services.database, query, memory_filter, LEXICAL_K, statistics)

        fts5 = await time_each(with_fts5, queries)

    async def with_rank_bm25(query: str) -> None:
        scores = bm25.get_scores(fts.query_terms(query))
        best = np.argpartition(-scores, LEXICAL_K)[:LEXICAL_K]
        best[np.argsort(-scores[best])]

    return fts5, await time_each(with_rank_bm25, queries)


async def evidence_recall(settings: Settings, embedder: Embedder, eval_dir: Path) -> Report:
    """Mean recall@10 of the LoCoMo questions' evidence turns, lexical alone and hybrid, over every
    memory of the store: the same questions as the conversation-scale evaluation, with the rest of
    the store (other conversations, LongMemEval) as distractors."""
    memory_filter = MemoryFilter(namespaces=(NAMESPACE,))
    async with open_services(settings, embedder, background=False) as services:
        await services.embeddings.wait_ready()
        await services.vectors.load()
        rows = await services.database.fetchall(
            "SELECT id, session_id, content FROM memories WHERE namespace = ?", [NAMESPACE]
        )
        turn_of = {int(row[0]): (row[1], row[2]) for row in rows}
        stored = set(turn_of.values())
        questions = [(q, evidence & stored) for q, evidence in corpus.evidence_questions(eval_dir)]
        questions = [(q, evidence) for q, evidence in questions if evidence]
        recall: Report = {"questions": len(questions)}
        for name, signals in (("lexical", ("lexical",)), ("hybrid", ("lexical", "dense"))):
            shares = []
            for question, evidence in questions:
                found = await services.search.search(
                    SearchRequest(question, memory_filter, LEXICAL_K, signals=signals)
                )
                hits = {turn_of.get(hit.id) for hit in found.results}
                shares.append(len(evidence & hits) / len(evidence))
            recall[f"{name}_recall@10"] = sum(shares) / len(shares) if shares else None
        return recall


async def server_peak_rss(config: BenchConfig, store: Path, queries: list[str]) -> float | None:
    """Peak RSS in MB of a real stdio server process on `store` after it answers `queries` and
    records one batch of long events; None where /proc is not available."""
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *("-m", "athena_mcp", "--db", str(store), "--embedder", config.embedder),
            *("--toolsets", "all", "--log-level", "ERROR"),
        ],
    )
    events = take_events(config, max(config.sizes) + max(config.batch_sizes))[-max(config.batch_sizes) :]
    before = child_pids()
    async with Client(params, read_timeout_seconds=300) as client:
        started = child_pids() - before
        if not started:
            return None  # no /proc here to read the server's memory from
        if len(started) > 1:
            raise BenchError(f"expected one new server process, found {sorted(started)}")
        [pid] = started
        await until_hybrid(client, corpus.warmup_questions(config.eval_dir)[0])
        for query in queries:
            found = await call_tool(client, "recall", {"query": query, "namespace": NAMESPACE})
            require_hybrid(found["mode"])
        await call_tool(client, "record_events", {"events": events, "namespace": NAMESPACE})
        return vm_hwm_mb(pid)


async def until_hybrid(client: Client, query: str) -> None:
    """Wait (up to five minutes) until a fresh server has loaded its model and recalls in hybrid mode."""
    for _ in range(600):
        found = await call_tool(client, "recall", {"query": query, "namespace": NAMESPACE})
        if found["mode"] == "hybrid":
            return
        await asyncio.sleep(0.5)
    raise BenchError("the server did not load its model within five minutes")


def child_pids() -> set[int]:
    """This process's children, from every thread's /proc entry (empty without /proc)."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    if not tasks.is_dir():
        return set()
    pids: set[int] = set()
    for task in tasks.iterdir():
        # Worker threads come and go: one may end between the listing and the read.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


def vm_hwm_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


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


async def bench_size(
    config: BenchConfig, embedder: Embedder, cached: CachedEmbedder, size: int, workdir: Path
) -> Report:
    settings = Settings(db=workdir / f"store-{size}.db", toolsets=("all",))
    events = take_events(config, size)
    await asyncio.to_thread(cached.warm, [event["content"] for event in events])
    build = await ingest(settings, TimedEmbedder(cached), events, max(config.batch_sizes))
    size_bytes = database_bytes(settings.db)
    queries = corpus.questions(config.eval_dir)[: config.queries]
    warmups = corpus.warmup_questions(config.eval_dir)
    bm25 = BM25Okapi([words(event["content"]) for event in events])
    runs: dict[str, list[dict[str, float]]] = {
        "recall_mcp": [],
        "recall_mcp_cached": [],
        "recall_service": [],
        "recall_service_cached": [],
        "lexical_fts5": [],
        "lexical_rank_bm25": [],
        "remember_mcp": [],
        "record_event_mcp": [],
    }
    for _ in range(config.repeats):
        distinct, cached_queries = await recall_via_mcp(settings, embedder, queries, warmups)
        runs["recall_mcp"].append(summarise(distinct))
        runs["recall_mcp_cached"].append(summarise(cached_queries))
        distinct, cached_queries = await recall_via_service(settings, embedder, queries, warmups)
        runs["recall_service"].append(summarise(distinct))
        runs["recall_service_cached"].append(summarise(cached_queries))
        fts5, rank_bm25 = await lexical_side_by_side(settings, embedder, bm25, queries)
        runs["lexical_fts5"].append(summarise(fts5))
        runs["lexical_rank_bm25"].append(summarise(rank_bm25))
    found = await evidence_recall(settings, embedder, config.eval_dir)
    facts = corpus.facts(config.eval_dir)
    per_run = WARMUP_FACTS + config.remember_calls
    new_events = take_events(config, size + config.repeats * per_run)[size:]
    for run in range(config.repeats):
        runs["remember_mcp"].append(
            summarise(await remember_via_mcp(settings, embedder, facts[run * per_run : (run + 1) * per_run]))
        )
        runs["record_event_mcp"].append(
            summarise(
                await record_event_via_mcp(
                    settings, embedder, new_events[run * per_run : (run + 1) * per_run]
                )
            )
        )
    figures = {name: median_of_runs(values) for name, values in runs.items()}
    return {
        "size": size,
        "build": {key: build[key] for key in ("memories", "batch_size", "seconds", "memories_per_s")},
        "database": {"bytes": size_bytes, "bytes_per_memory": size_bytes / size},
        **figures,
        "rank_bm25_over_fts5": figures["lexical_rank_bm25"]["p50_ms"] / figures["lexical_fts5"]["p50_ms"],
        "evidence_recall": found,
    }


async def bench_ingest(config: BenchConfig, embedder: TimedEmbedder, workdir: Path) -> Report:
    """Memories per second through record_events at each batch size, each run on a fresh store."""
    events = take_events(config, config.ingest_sample)
    results: Report = {}
    for batch in config.batch_sizes:
        runs = [
            await ingest(
                Settings(db=workdir / f"ingest-{batch}-{run}.db", toolsets=("all",)), embedder, events, batch
            )
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
    cached = CachedEmbedder(embedder, config.cache_dir)
    with tempfile.TemporaryDirectory(prefix="athena-bench-") as workdir:
        sizes = [await bench_size(config, embedder, cached, size, Path(workdir)) for size in config.sizes]
        ingestion = await bench_ingest(config, timed, Path(workdir))
        largest = Path(workdir) / f"store-{max(config.sizes)}.db"
        server_rss = await server_peak_rss(
            config, largest, corpus.questions(config.eval_dir)[: config.queries]
        )
    report: Report = {
        "meta": meta(config, embedder),
        "sizes": sizes,
        "ingest": ingestion,
        "server_peak_rss_mb": server_rss,
        "bench_peak_rss_mb": peak_rss_mb(),
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
    parser.add_argument(
        "--sizes", type=int_list, help="comma-separated store sizes (default 1000,10000,100000)"
    )
    parser.add_argument("--queries", type=int, help="distinct recall queries per run (default 200)")
    parser.add_argument("--repeats", type=int, help="runs per measurement; medians are reported (default 3)")
    parser.add_argument(
        "--remember-calls", type=int, help="timed remember and record_event calls per run (default 100)"
    )
    parser.add_argument(
        "--batch-sizes", type=int_list, help="comma-separated record_events batch sizes (default 64,256)"
    )
    parser.add_argument("--ingest-sample", type=int, help="events ingested per batch-size run (default 1024)")
    parser.add_argument("--eval-dir", type=Path, help=f"evaluation data (default {corpus.DEFAULT_EVAL_DIR})")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help=f"where model vectors of store text are kept (default {DEFAULT_CACHE_DIR})",
    )
    parser.add_argument("--out", type=Path, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument(
        "--embedder", choices=("minilm", "minilm-torch"), help="the local embedder (default minilm, ONNX)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run well under a minute")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else BenchConfig()
    given = {name: value for name, value in vars(args).items() if name != "quick" and value is not None}
    return dataclasses.replace(base, **given)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        asyncio.run(run(config, make_embedder(Settings(embedder=config.embedder))))
    except BenchError as exc:
        sys.exit(f"bench_core: {exc}")


if __name__ == "__main__":
    main()
