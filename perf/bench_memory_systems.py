"""Benchmark of issue 4's targets: consolidation of 1k and 10k events, and procedure search and task
listing at 10k items.

`python -m perf.bench_memory_systems` (`--quick` for a smoke run). Consolidation is timed from a
server's state after start-up (the in-memory vector copy loaded), on events already embedded at
ingestion: the run itself never calls the model. Its events are real conversation sessions from the
shared evaluation data (LoCoMo, then LongMemEval) with one agent workflow session of actions and an
outcome after every four of them, from six workflows worded in varying ways, so that facts, digests,
graph candidates and learned procedures are all exercised. `find_procedures` and `list_tasks` are
timed through an in-process MCP client; find's query embedding is included (LoCoMo questions, new
ones for every run), and timed once more with the query cached.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.prospective import TaskDraft
from athena_mcp.models import to_seconds
from athena_mcp.server import build_server
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store.memories import NewMemory
from athena_mcp.store.procedures import NewProcedure
from perf import corpus
from perf.bench_core import BenchError, call_tool, settle, source_version, time_each
from perf.embedding_cache import DEFAULT_DIR as DEFAULT_CACHE_DIR
from perf.embedding_cache import CachedEmbedder
from perf.report import Report, median_of_runs, summarise

NAMESPACE = "bench"
DEFAULT_OUT = Path("perf/results/memory_systems.json")
WORKFLOW_EVERY = 4  # one workflow session after every this many conversation sessions
WORKFLOWS = (
    ("publish a release", ["run the test suite", "bump the version", "build the wheel", "upload to PyPI"]),
    ("fix a failing build", ["read the CI log", "reproduce the failure locally", "patch the code", "push"]),
    ("deploy the service", ["build the image", "push the image", "apply the manifest", "check health"]),
    (
        "rotate a secret",
        ["create a new key", "update the vault entry", "restart the workers", "revoke the old key"],
    ),
    ("add a migration", ["write the SQL file", "apply it to a copy", "run the tests", "commit it"]),
    (
        "triage an alert",
        ["open the dashboard", "find the failing host", "restart the process", "close the alert"],
    ),
)
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"overdue": True},
    {"status": ["done"]},
    {"goal_id": 1},
)


@dataclasses.dataclass(frozen=True)
class Config:
    consolidation_sizes: tuple[int, ...] = (1000, 10000)
    items: int = 10000
    queries: int = 200
    repeats: int = 3
    eval_dir: Path = corpus.DEFAULT_EVAL_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    out: Path = DEFAULT_OUT


QUICK = Config(consolidation_sizes=(300,), items=60, queries=10, repeats=1)


def agent_events(eval_dir: Path, count: int) -> list[corpus.Event]:
    """`count` events: whole conversation sessions with a workflow session after every few."""
    found: list[corpus.Event] = []
    sessions = itertools.groupby(corpus.events(eval_dir), key=lambda e: e["session_id"])
    for number, (_, turns) in enumerate(sessions):
        found += list(turns)
        if number % WORKFLOW_EVERY == WORKFLOW_EVERY - 1:
            found += workflow_session(number, datetime.fromisoformat(found[-1]["timestamp"]))
        if len(found) >= count:
            return found[:count]
    raise BenchError(f"the evaluation data holds fewer than {count} events")


def workflow_session(number: int, after: datetime) -> list[corpus.Event]:
    goal, steps = WORKFLOWS[number % len(WORKFLOWS)]
    session_id = f"workflow-{number}"
    wordings = ("{}", "{} now", "next, {}", "{} as usual")
    events = [{"content": f"Goal: {goal}", "event_type": "message", "session_id": session_id}]
    events += [
        {
            "content": wordings[(number + n) % len(wordings)].format(step),
            "event_type": "action",
            "session_id": session_id,
        }
        for n, step in enumerate(steps)
    ]
    failed = number % 5 == 0
    events.append(
        {
            "content": f"{goal}: {'failed' if failed else 'done'}",
            "event_type": "observation",
            "session_id": session_id,
            "outcome": "failure" if failed else "success",
        }
    )
    for n, event in enumerate(events):
        event["timestamp"] = (after + timedelta(minutes=1 + n)).isoformat()
    return events


def new_memory(event: corpus.Event) -> NewMemory:
    return NewMemory(
        system="episodic",
        namespace=NAMESPACE,
        kind=event["event_type"],
        content=event["content"],
        session_id=event["session_id"],
        outcome=event.get("outcome"),
        occurred_at=to_seconds(datetime.fromisoformat(event["timestamp"])),
    )


async def bench_consolidation(config: Config, cached: CachedEmbedder, size: int, workdir: Path) -> Report:
    events = agent_events(config.eval_dir, size)
    cached.warm([event["content"] for event in events])
    store = workdir / f"consolidation-{size}.db"
    settings = Settings(db=store, consolidation_interval=0, toolsets=("all",))
    async with open_services(settings, cached, background=False) as services:
        await services.embeddings.wait_ready()
        for offset in range(0, len(events), 500):
            await services.episodic.record([new_memory(e) for e in events[offset : offset + 500]])
        await services.database.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    runs = []
    products: dict[str, int] = {}
    for repeat in range(config.repeats):
        copy = workdir / f"consolidation-{size}-{repeat}.db"
        shutil.copy(store, copy)
        async with open_services(
            dataclasses.replace(settings, db=copy), cached, background=False
        ) as services:
            await services.embeddings.wait_ready()
            await services.vectors.load()
            start = time.perf_counter()
            report = await services.consolidation.run_once(settle_seconds=0)
            seconds = time.perf_counter() - start
        if report.events != size:
            raise BenchError(f"consolidation took in {report.events} of {size} events")
        runs.append({"seconds": seconds, "events_per_s": size / seconds})
        products = {
            k: v for k, v in report.model_dump().items() if isinstance(v, int) and v and k != "run_id"
        }
    return {"events": size, **median_of_runs(runs), "products": products}


def procedure_texts(eval_dir: Path, count: int) -> Iterator[tuple[str, list[str]]]:
    """(goal, steps) from consecutive LongMemEval assistant lines: real text of a realistic length."""
    lines = (e["content"] for e in corpus.events(eval_dir) if e["source"] == "longmemeval")
    for _ in range(count):
        chunk = list(itertools.islice(lines, 4))
        if len(chunk) < 4:
            raise BenchError(f"the evaluation data holds too few lines for {count} procedures")
        yield chunk[0], chunk[1:]


async def bench_items(config: Config, embedder: Embedder, cached: CachedEmbedder, workdir: Path) -> Report:
    settings = Settings(db=workdir / "items.db", consolidation_interval=0, toolsets=("all",))
    # Fresh questions for every run: the server caches query vectors, so a repeated question would
    # not pay for its embedding. The cached figure asks each run's questions a second time.
    questions = corpus.questions(config.eval_dir)[: config.queries * config.repeats]
    if len(questions) < config.queries * config.repeats:
        raise BenchError(f"the evaluation data holds fewer than {config.queries * config.repeats} questions")
    async with open_services(settings, cached, background=False) as services:
        await services.embeddings.wait_ready()
        for number, (goal, steps) in enumerate(procedure_texts(config.eval_dir, config.items)):
            await services.procedural.save(
                NewProcedure(
                    namespace=NAMESPACE, name=f"procedure {number}", goal=goal[:1000], steps=tuple(steps)
                )
            )
        now = time.time()
        goals = [
            await services.prospective.create_goal(NAMESPACE, f"goal {n}", None, None, now)
            for n in range(100)
        ]
        for number in range(config.items):
            status = ("todo", "in_progress", "blocked", "done")[number % 4]
            due = None if number % 3 == 0 else now + (number % 200 - 20) * 3600
            await services.prospective.create_task(
                TaskDraft(
                    namespace=NAMESPACE,
                    title=f"task {number}",
                    status=status,
                    due_at=None if due is not None and due < now else due,
                    goal_id=goals[number % len(goals)].id,
                ),
                now,
            )
        # Overdue tasks: due dates that passed (create_task refuses past dates, as a user would be).
        async with services.database.transaction() as tx:
            await tx.execute(
                "UPDATE tasks SET due_at = ? WHERE id % 7 = 0 AND status != 'done'", (now - 3600,)
            )
    runs: dict[str, list[dict[str, float]]] = {"find": [], "find_cached": [], "list_tasks": []}
    async with Client(build_server(settings, embedder)) as client:

        async def find(query: str) -> None:
            await call_tool(client, "find_procedures", {"query": query, "namespace": NAMESPACE})

        async def list_tasks(filters: dict[str, Any]) -> None:
            await call_tool(client, "list_tasks", {"namespace": NAMESPACE, **filters})

        await settle(find, ["warm-up question one", "warm-up question two"])
        for repeat in range(config.repeats):
            fresh = questions[repeat * config.queries : (repeat + 1) * config.queries]
            runs["find"].append(summarise(await time_each(find, fresh)))
            runs["find_cached"].append(summarise(await time_each(find, fresh)))
            calls = [FILTERS[n % len(FILTERS)] for n in range(config.queries)]
            runs["list_tasks"].append(summarise(await time_each(list_tasks, calls)))
    return {"items": config.items, **{name: median_of_runs(found) for name, found in runs.items()}}


async def run(config: Config, embedder: Embedder) -> Report:
    await asyncio.to_thread(embedder.load)
    cached = CachedEmbedder(embedder, config.cache_dir)
    with tempfile.TemporaryDirectory(prefix="athena-bench-") as workdir:
        consolidation = [
            await bench_consolidation(config, cached, size, Path(workdir))
            for size in config.consolidation_sizes
        ]
        items = await bench_items(config, embedder, cached, Path(workdir))
    cached.save()
    report: Report = {
        "meta": meta_for(config, embedder),
        "consolidation": consolidation,
        "items": items,
    }
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    return report


def meta_for(config: Config, embedder: Embedder) -> Report:
    return {
        "model": embedder.identity.model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "source": source_version(),
        "finished_at": datetime.now(UTC).isoformat(),
        "queries": config.queries,
        "repeats": config.repeats,
    }


def format_table(report: Report) -> str:
    lines = [
        f"Athena MCP memory-systems benchmark ({report['meta']['source']}), "
        f"medians of {report['meta']['repeats']} run(s)"
    ]
    for figures in report["consolidation"]:
        lines.append(
            f"consolidation of {figures['events']} events: {figures['seconds']:.2f} s "
            f"({figures['events_per_s']:.0f} events/s); produced {figures['products']}"
        )
    items = report["items"]
    for name, label in (
        ("find", "find_procedures, MCP, new query"),
        ("find_cached", "find_procedures, MCP, cached query"),
        ("list_tasks", "list_tasks, MCP"),
    ):
        f = items[name]
        lines.append(
            f"{label} at {items['items']}: "
            f"p50/p95/p99 {f['p50_ms']:.1f}/{f['p95_ms']:.1f}/{f['p99_ms']:.1f} ms"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m perf.bench_memory_systems", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", help="comma-separated event counts to consolidate (default 1000,10000)")
    parser.add_argument("--items", type=int, help="procedures and tasks in the store (default 10000)")
    parser.add_argument("--queries", type=int, help="timed calls per run (default 200)")
    parser.add_argument("--repeats", type=int, help="runs per measurement; medians are reported (default 3)")
    parser.add_argument("--eval-dir", type=Path, help=f"evaluation data (default {corpus.DEFAULT_EVAL_DIR})")
    parser.add_argument(
        "--cache-dir", type=Path, help=f"model vectors of store text (default {DEFAULT_CACHE_DIR})"
    )
    parser.add_argument("--out", type=Path, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    given = {k: v for k, v in vars(args).items() if k not in ("quick", "sizes") and v is not None}
    if args.sizes:
        given["consolidation_sizes"] = tuple(int(part) for part in args.sizes.split(","))
    return dataclasses.replace(base, **given)


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        asyncio.run(run(config, MiniLMEmbedder()))
    except BenchError as exc:
        sys.exit(f"bench_memory_systems: {exc}")


if __name__ == "__main__":
    main()
