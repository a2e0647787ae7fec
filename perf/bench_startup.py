"""From a cold start to the first hybrid answer, and the memory a server holds, per local embedder.

    python -m perf.bench_startup [--memories 10000] [--starts 5] [--embedders minilm,minilm-torch]

For each embedder, in one run: a store of `--memories` real events (perf/corpus.py; vectors cached
by perf/embedding_cache.py, per embedder), then `--starts` times a fresh `python -m athena_mcp`
over stdio, asked to `recall` as soon as it has answered `initialize`. Prints the median seconds
from starting the process to that first answer and how many first answers were hybrid (the model's
vector included, not lexical-only), then the server's peak RSS after 200 recalls and a batch of
256 events. The starts share a model cache made new for the run: one start before them prepares
the model in it (timed on its own), and the RSS is measured both with the prepared model and with
the model built in memory (`--model-cache off`). `minilm-torch` needs the torch extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client, StdioServerParameters

from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.settings import Settings
from perf import corpus
from perf.bench_core import NAMESPACE, BenchError, call_tool, child_pids, ingest, take_events, vm_hwm_mb
from perf.bench_core import BenchConfig as CoreConfig
from perf.embedders import TimedEmbedder
from perf.embedding_cache import DEFAULT_DIR, CachedEmbedder

QUERIES = 200
BATCH = 256


def server(store: Path, embedder: str, model_cache: str) -> StdioServerParameters:
    """A server over stdio; `model_cache` "off" builds the local model in memory at every start."""
    return StdioServerParameters(
        command=sys.executable,
        args=[
            *("-m", "athena_mcp", "--db", str(store), "--embedder", embedder),
            *("--toolsets", "all", "--log-level", "ERROR", "--model-cache", model_cache),
        ],
    )


async def first_answer(store: Path, embedder: str, model_cache: str, query: str) -> tuple[float, str]:
    """Seconds from starting a server to its answer to one recall, and the answer's mode."""
    started = time.perf_counter()
    async with Client(server(store, embedder, model_cache), read_timeout_seconds=120) as client:
        found = await call_tool(client, "recall", {"query": query, "namespace": NAMESPACE})
        return time.perf_counter() - started, str(found["mode"])


async def peak_rss(
    store: Path, embedder: str, model_cache: str, queries: list[str], batch: list[corpus.Event]
) -> float | None:
    before = child_pids()
    async with Client(server(store, embedder, model_cache), read_timeout_seconds=300) as client:
        started = child_pids() - before
        if len(started) != 1:
            return None  # no /proc to read the server's memory from, or no telling which child it is
        for query in queries:
            await call_tool(client, "recall", {"query": query, "namespace": NAMESPACE})
        await call_tool(client, "record_events", {"events": batch, "namespace": NAMESPACE})
        return vm_hwm_mb(started.pop())


async def measure(args: argparse.Namespace, embedder_name: str, workdir: Path) -> dict[str, object]:
    memories, starts, eval_dir = args.memories, args.starts, args.eval_dir
    store = workdir / f"{embedder_name}.db"
    embedder = make_embedder(Settings(embedder=embedder_name))
    cached = CachedEmbedder(embedder, args.cache_dir)
    events = take_events(CoreConfig(eval_dir=eval_dir), memories + BATCH)
    await asyncio.to_thread(cached.warm, [event["content"] for event in events[:memories]])
    settings = Settings(db=store, embedder=embedder_name, toolsets=("all",), consolidation_interval=0)
    await ingest(settings, TimedEmbedder(cached), events[:memories], BATCH)
    questions = corpus.questions(eval_dir)
    # The first start on a machine prepares the model in the (new, empty) cache; the others map it.
    model_cache = str(workdir / f"{embedder_name}-model-cache")
    preparing, _ = await first_answer(store, embedder_name, model_cache, questions[0])
    firsts = [await first_answer(store, embedder_name, model_cache, questions[n]) for n in range(starts)]
    seconds = [s for s, _ in firsts]
    queries, batch = questions[:QUERIES], events[memories:]
    return {
        "first_recall_s_median": statistics.median(seconds),
        "first_recall_s_max": max(seconds),
        "first_recalls_hybrid": sum(mode == "hybrid" for _, mode in firsts),
        "starts": starts,
        "first_recall_s_preparing_the_model": preparing,
        "peak_rss_mb": await peak_rss(store, embedder_name, model_cache, queries, batch),
        "peak_rss_mb_model_built_in_memory": await peak_rss(store, embedder_name, "off", queries, batch),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    report: dict[str, object] = {"memories": args.memories}
    with tempfile.TemporaryDirectory(prefix="athena-startup-") as workdir:
        for name in args.embedders.split(","):
            report[name] = await measure(args, name, Path(workdir))
            print(name, json.dumps(report[name]), flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.bench_startup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--embedders", default="minilm,minilm-torch")
    parser.add_argument("--eval-dir", type=Path, default=corpus.DEFAULT_EVAL_DIR)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_DIR, help="model vectors of store text")
    parser.add_argument("--out", type=Path, default=Path("perf/results/startup.json"))
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(run(args))
    except BenchError as exc:
        sys.exit(f"bench_startup: {exc}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
