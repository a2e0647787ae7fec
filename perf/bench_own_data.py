"""The data-ownership commands on a store of real size, each timed as a user runs it.

    python -m perf.bench_own_data [--memories 10000] [--quick]

Builds a store: `--memories` conversation events (perf/corpus.py, vectors from the embedding cache),
a graph of memories/10 entities and memories/2 relations (perf/graph_data.py), and memories/50
procedures and as many tasks under 20 goals. Then runs each command as a fresh `athena-mcp` process
and prints its seconds and peak resident memory: stats, doctor, backup, restore, export, import
(into a new database, vectors left to a server), the viewer (show, search, timeline). The export of
the imported store must hold the same records as the first (the import's own audit rows aside):
the bench fails if not.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.memory.prospective import TaskDraft
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.store.procedures import NewProcedure
from perf import corpus, graph_data
from perf.bench_core import NAMESPACE, BenchError, database_bytes, ingest, take_events
from perf.bench_core import BenchConfig as CoreConfig
from perf.bench_graph import build as build_graph
from perf.bench_memory_systems import procedure_texts
from perf.embedders import TimedEmbedder
from perf.embedding_cache import DEFAULT_DIR, CachedEmbedder

BATCH = 256
POLL_S = 0.02


@dataclass(frozen=True)
class Config:
    memories: int = 10_000
    eval_dir: Path = corpus.DEFAULT_EVAL_DIR
    cache_dir: Path = DEFAULT_DIR
    out: Path = Path("perf/results/own_data.json")


async def build_store(config: Config, store: Path) -> None:
    embedder = make_embedder(Settings())
    cached = CachedEmbedder(embedder, config.cache_dir)
    events = take_events(CoreConfig(eval_dir=config.eval_dir), config.memories)
    await asyncio.to_thread(cached.warm, [event["content"] for event in events])
    settings = Settings(db=store, toolsets=("all",), consolidation_interval=0)
    await ingest(settings, TimedEmbedder(cached), events, BATCH)
    await build_graph(settings, graph_data.generate(config.memories // 10, config.memories // 2))
    items = max(config.memories // 50, 5)
    async with open_services(settings, cached, background=False) as services:
        await services.embeddings.wait_ready()
        for number, (goal, steps) in enumerate(procedure_texts(config.eval_dir, items)):
            await services.procedural.save(
                NewProcedure(
                    namespace=NAMESPACE, name=f"procedure {number}", goal=goal[:1000], steps=tuple(steps)
                )
            )
        now = time.time()
        goals = [
            await services.prospective.create_goal(NAMESPACE, f"goal {n}", None, None, now) for n in range(20)
        ]
        for number in range(items):
            await services.prospective.create_task(
                TaskDraft(namespace=NAMESPACE, title=f"task {number}", goal_id=goals[number % len(goals)].id),
                now,
            )


def timed(*argv: str) -> dict[str, Any]:
    """Run one `athena-mcp` command; its seconds and peak resident memory (VmHWM, polled)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "athena_mcp", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak_kb = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(POLL_S)
    out, err = process.communicate()
    if process.returncode != 0:
        raise BenchError(f"athena-mcp {' '.join(argv)} failed ({process.returncode}): {err.strip()[-500:]}")
    return {"seconds": round(time.perf_counter() - started, 2), "peak_mb": round(peak_kb / 1024), "out": out}


def same_records(first: Path, again: Path) -> int:
    """How many records the first export holds, when the second holds the same ones (after the
    import's own audit rows are set aside); BenchError at the first that differs."""
    with first.open(encoding="utf-8") as one, again.open(encoding="utf-8") as other:
        next(one), next(other)  # the headers differ in their times
        kept = (
            line
            for line in map(json.loads, other)
            if not (line["type"] == "audit" and line["tool"] == "import")
        )
        count = 0
        for number, (a, b) in enumerate(itertools.zip_longest(map(json.loads, one), kept), 2):
            if a != b:
                raise BenchError(f"the export of the imported store differs from the first at line {number}")
            count += 1
    return count


def run(config: Config) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="own-", dir="/tmp") as folder:
        work = Path(folder)
        store = work / "store.db"
        started = time.perf_counter()
        asyncio.run(build_store(config, store))
        report: dict[str, Any] = {
            "memories": config.memories,
            "build_seconds": round(time.perf_counter() - started, 1),
            "database_mb": round(database_bytes(store) / 2**20, 1),
        }
        db = ("--db", str(store))
        commands: dict[str, dict[str, Any]] = {}
        commands["stats"] = timed(*db, "stats", "--json")
        commands["doctor"] = timed(*db, "doctor")
        commands["backup"] = timed(*db, "backup", str(work / "backup.db"))
        commands["restore"] = timed("--db", str(work / "restored.db"), "restore", str(work / "backup.db"))
        commands["export"] = timed(*db, "export", str(work / "export.jsonl"))
        commands["import"] = timed(
            "--db", str(work / "imported.db"), "import", str(work / "export.jsonl"), "--no-embed"
        )
        timed("--db", str(work / "imported.db"), "export", str(work / "again.jsonl"))
        exported = same_records(work / "export.jsonl", work / "again.jsonl")
        commands["show memory"] = timed(*db, "show", "memory", "1", "--namespace", NAMESPACE)
        commands["show sessions"] = timed(*db, "show", "sessions", "--namespace", NAMESPACE)
        commands["search"] = timed(*db, "search", "where did we go hiking", "--namespace", NAMESPACE)
        commands["timeline"] = timed(*db, "timeline", "--namespace", NAMESPACE)
        for figures in commands.values():
            figures.pop("out")
        report["commands"] = commands
        report["backup_mb"] = round((work / "backup.db").stat().st_size / 2**20, 1)
        report["export_mb"] = round((work / "export.jsonl").stat().st_size / 2**20, 1)
        report["export_records"] = exported
        report["round_trip_identical"] = True
    return report


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['memories']} memories: database {report['database_mb']} MB, "
        f"backup {report['backup_mb']} MB, "
        f"export {report['export_mb']} MB ({report['export_records']} records, round trip identical)",
        f"{'command':<16}{'seconds':>9}{'peak MB':>9}",
    ]
    lines += [
        f"{name:<16}{figures['seconds']:>9.2f}{figures['peak_mb']:>9}"
        for name, figures in report["commands"].items()
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.bench_own_data", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--memories", type=int, default=Config.memories)
    parser.add_argument("--eval-dir", type=Path, default=Config.eval_dir)
    parser.add_argument(
        "--cache-dir", type=Path, default=Config.cache_dir, help="model vectors of store text"
    )
    parser.add_argument("--out", type=Path, default=Config.out)
    parser.add_argument("--quick", action="store_true", help="300 memories: a smoke run")
    args = parser.parse_args(argv)
    config = Config(300 if args.quick else args.memories, args.eval_dir, args.cache_dir, args.out)
    try:
        report = run(config)
    except BenchError as exc:
        sys.exit(f"bench_own_data: {exc}")
    print(format_table(report))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
