"""Benchmark of issue 5's graph targets at 10k entities / 50k relations: neighbour query p95 <= 5 ms,
search_nodes p95 <= 20 ms, Leiden <= 2 s; and the other graph reads.

`python -m perf.bench_graph` (`--quick` for a smoke run of a few seconds). The graph is synthetic but
shaped like a real one (perf/graph_data.py: typed entities in groups, observations, heavy-tailed
degrees) and is built through GraphMemory; every query is then timed through an in-process MCP
client, a fresh server per run, the model never loaded (no graph tool uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp import Client

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.graph_models import NewEntity, NewRelation, RelationKey
from athena_mcp.server import build_server
from athena_mcp.services import open_services
from athena_mcp.settings import Settings
from athena_mcp.tools.graph import SEARCH_PAGE
from perf import graph_data
from perf.bench_core import BenchError, call_tool, source_version, time_each
from perf.report import Report, median_of_runs, summarise

DEFAULT_OUT = Path("perf/results/graph.json")
BATCH = 500
WARMUPS = 5
# The targets, p95 in ms, printed beside the figures.
TARGETS_MS = {"find_neighbours depth 1": 5.0, "search_nodes (all kinds)": 20.0}
LEIDEN_TARGET_S = 2.0
SEARCH_KINDS = ("1-2 chars", "name", "observation", "miss")
CHANGED_RELATIONS = 500  # new relations before the incremental community detection
TICK = 0.005

Call = tuple[str, dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Config:
    entities: int = 10_000
    relations: int = 50_000
    queries: int = 200
    repeats: int = 3
    seed: int = 5
    out: Path = DEFAULT_OUT


QUICK = Config(entities=500, relations=2_500, queries=20, repeats=1)


async def build(settings: Settings, data: graph_data.GraphData) -> Report:
    """Write the graph through GraphMemory in batches; returns how long it took."""
    start = time.perf_counter()
    async with open_services(settings, MiniLMEmbedder(), background=False, check_vectors=False) as services:
        for offset in range(0, len(data.entities), BATCH):
            batch = data.entities[offset : offset + BATCH]
            await services.graph.create_entities(
                "default", [NewEntity(e.name, e.entity_type, e.observations) for e in batch]
            )
        for offset in range(0, len(data.relations), BATCH):
            await services.graph.create_relations(
                "default", [NewRelation(RelationKey(*r)) for r in data.relations[offset : offset + BATCH]]
            )
        await services.database.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"seconds": time.perf_counter() - start}


def workload(data: graph_data.GraphData, config: Config, as_of: str) -> dict[str, list[Call]]:
    """The calls timed, by label: entity names and queries drawn from the graph itself."""
    rng = random.Random(config.seed + 1)
    n = config.queries
    names = [e.name for e in rng.choices(data.entities, k=n * 2)]
    groups: dict[int, list[str]] = {}
    for entity in data.entities:
        groups.setdefault(entity.group, []).append(entity.name)
    near = [rng.sample(groups[rng.choice(list(groups))], 2) for _ in range(n // 2)]
    observations = [o for e in rng.choices(data.entities, k=n) for o in e.observations[:1]]
    searches = {
        "1-2 chars": [rng.choice(names)[: rng.randint(1, 2)].lower() for _ in range(n)],
        "name": names[n:],
        "observation": [_fragment(rng, text) for text in observations],
        "miss": ["".join(rng.choices("qxzjv", k=rng.randint(3, 12))) for _ in range(n)],
    }
    calls: dict[str, list[Call]] = {
        "find_neighbours depth 1": [("find_neighbours", {"name": name}) for name in names[:n]],
        "find_neighbours depth 1, as_of": [
            ("find_neighbours", {"name": name, "as_of": as_of}) for name in names[:n]
        ],
        "find_neighbours depth 2, limit 500": [
            ("find_neighbours", {"name": name, "depth": 2, "limit": 500}) for name in names[:n]
        ],
        "find_path, same group": [("find_path", {"source": a, "target": b}) for a, b in near],
        "find_path, any two": [
            ("find_path", {"source": a, "target": b})
            for a, b in zip(names[: n // 2], names[n:], strict=False)
        ],
        "explore_graph depth 1": [("explore_graph", {"query": q}) for q in searches["observation"]],
        "open_nodes, 1-5 names": [
            ("open_nodes", {"names": names[i : i + rng.randint(1, 5)]}) for i in range(n)
        ],
    }
    for kind in SEARCH_KINDS:
        calls[f"search_nodes, {kind}"] = [("search_nodes", {"query": q}) for q in searches[kind]]
    # The mix the target is about: every kind of query, interleaved.
    calls["search_nodes (all kinds)"] = [
        ("search_nodes", {"query": searches[SEARCH_KINDS[i % 4]][i]}) for i in range(n)
    ]
    calls["search_nodes (all kinds), limit 100"] = [
        ("search_nodes", {**arguments, "limit": 100}) for _, arguments in calls["search_nodes (all kinds)"]
    ]
    return calls


def _fragment(rng: random.Random, text: str) -> str:
    """A word or two of an observation, as someone searching for it might type."""
    words = text.split()
    start = rng.randrange(len(words))
    return " ".join(words[start : start + rng.randint(1, 2)])


async def time_calls(client: Client, calls: list[Call]) -> tuple[list[float], float]:
    """Seconds per call, one at a time, and the mean number of entities (or steps) answered."""
    samples, sizes = [], []
    for tool, arguments in calls:
        start = time.perf_counter()
        answer = await call_tool(client, tool, arguments)
        samples.append(time.perf_counter() - start)
        sizes.append(len(answer.get("entities", answer.get("steps", []))))
    return samples, statistics.mean(sizes)


async def time_services(settings: Settings, calls: dict[str, list[Call]]) -> dict[str, dict[str, float]]:
    """The two targeted queries through the services behind the tools: the difference from the MCP
    figures is the protocol, mostly the client validating each answer against the output schema."""
    async with open_services(settings, MiniLMEmbedder(), background=False) as services:
        traversal = services.graph_traversal
        neighbours = [args["name"] for _, args in calls["find_neighbours depth 1"]]
        searches = [args["query"] for _, args in calls["search_nodes (all kinds)"]]
        figures = {}
        for label, items, call in (
            (
                "find_neighbours depth 1",
                neighbours,
                lambda n: traversal.find_neighbours("default", n, 1, (), "both", None, 50),
            ),
            (
                "search_nodes (all kinds)",
                searches,
                lambda q: services.graph.search_nodes("default", q, None, SEARCH_PAGE),
            ),
        ):
            await time_each(call, items[:WARMUPS])
            figures[f"{label}, service"] = summarise(await time_each(call, items))
    return figures


async def time_communities(settings: Settings, data: graph_data.GraphData, seed: int) -> dict[str, float]:
    """Leiden on the whole graph from scratch, then again after CHANGED_RELATIONS new relations
    (seeded with the previous communities), each through the communities service end to end; and
    the longest the server's event loop was kept from running meanwhile (a 5 ms ticker's lateness)."""
    async with open_services(settings, MiniLMEmbedder(), background=False, check_vectors=False) as services:
        async with services.database.transaction() as tx:  # start from no stored communities
            await tx.execute("DELETE FROM graph_community_runs")
        stall = LoopStall()
        ticker = asyncio.create_task(stall.watch())
        start = time.perf_counter()
        first = await services.communities.detect("default")
        full = time.perf_counter() - start
        rng = random.Random(seed)
        names = [e.name for e in data.entities]
        new = {(rng.choice(names), rng.choice(names), "bench_link") for _ in range(CHANGED_RELATIONS)}
        await services.graph.create_relations(
            "default", [NewRelation(RelationKey(*r)) for r in new if r[0] != r[1]]
        )
        start = time.perf_counter()
        again = await services.communities.detect("default")
        incremental = time.perf_counter() - start
        ticker.cancel()
    return {
        "full_s": full,
        "full_leiden_s": first.seconds,
        "incremental_s": incremental,
        "communities": first.communities,
        "modularity": first.modularity or 0.0,
        "incremental_modularity": again.modularity or 0.0,
        "loop_stall_max_ms": stall.worst * 1000,
    }


class LoopStall:
    """How late a ticker that should run every TICK seconds ran at worst."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.perf_counter() - start - TICK)


async def run(config: Config) -> Report:
    data = graph_data.generate(config.entities, config.relations, config.seed)
    with tempfile.TemporaryDirectory(prefix="athena-bench-graph-") as workdir:
        settings = Settings(db=Path(workdir) / "graph.db", consolidation_interval=0, toolsets=("all",))
        built = await build(settings, data)
        calls = workload(data, config, datetime.now(UTC).isoformat())
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in calls}
        services: dict[str, list[dict[str, float]]] = {}
        for _ in range(config.repeats):
            async with Client(build_server(settings, MiniLMEmbedder(), background=False)) as client:
                for label, batch in calls.items():
                    for call in batch[:WARMUPS]:
                        await call_tool(client, *call)
                    samples, mean_size = await time_calls(client, batch)
                    runs[label].append({**summarise(samples), "mean_entities": mean_size})
            for label, figures in (await time_services(settings, calls)).items():
                services.setdefault(label, []).append(figures)
        communities = [
            await time_communities(settings, data, config.seed + run) for run in range(config.repeats)
        ]
    report: Report = {
        "meta": meta_for(config),
        "build": built,
        "queries": {label: median_of_runs(found) for label, found in runs.items()},
        "services": {label: median_of_runs(found) for label, found in services.items()},
        "communities": median_of_runs(communities),
    }
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    return report


def meta_for(config: Config) -> Report:
    return {
        "entities": config.entities,
        "relations": config.relations,
        "queries": config.queries,
        "repeats": config.repeats,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "source": source_version(),
        "finished_at": datetime.now(UTC).isoformat(),
    }


def format_table(report: Report) -> str:
    meta = report["meta"]
    lines = [
        f"Athena MCP graph benchmark ({meta['source']}): {meta['entities']} entities, "
        f"{meta['relations']} relations, {meta['queries']} calls per query kind, "
        f"medians of {meta['repeats']} run(s); built in {report['build']['seconds']:.1f} s",
        f"{'MCP call':<38}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'entities':>10}  target p95",
    ]
    for label, f in report["queries"].items():
        target = TARGETS_MS.get(label)
        verdict = (
            "" if target is None else f"  <= {target:g} ms {'met' if f['p95_ms'] <= target else 'MISSED'}"
        )
        lines.append(
            f"{label:<38}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}{f['p99_ms']:>9.2f}"
            f"{f['mean_entities']:>10.1f}{verdict}"
        )
    for label, f in report["services"].items():
        lines.append(f"{label:<38}{f['p50_ms']:>9.2f}{f['p95_ms']:>9.2f}{f['p99_ms']:>9.2f}")
    c = report["communities"]
    verdict = "met" if c["full_s"] <= LEIDEN_TARGET_S else "MISSED"
    lines += [
        f"communities (Leiden), whole graph: {c['full_s']:.2f} s end to end "
        f"({c['full_leiden_s']:.2f} s reading and computing), {c['communities']:.0f} communities, "
        f"modularity {c['modularity']:.3f}  "
        f"target <= {LEIDEN_TARGET_S:g} s {verdict}",
        f"communities after {CHANGED_RELATIONS} new relations, seeded: {c['incremental_s']:.2f} s, "
        f"modularity {c['incremental_modularity']:.3f}; "
        f"event loop stalled at most {c['loop_stall_max_ms']:.1f} ms",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m perf.bench_graph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, help="entities in the graph (default 10000)")
    parser.add_argument("--relations", type=int, help="relations in the graph (default 50000)")
    parser.add_argument("--queries", type=int, help="timed calls per query kind and run (default 200)")
    parser.add_argument("--repeats", type=int, help="runs per measurement; medians are reported (default 3)")
    parser.add_argument("--seed", type=int, help="seed of the generated graph and queries (default 5)")
    parser.add_argument("--out", type=Path, help=f"JSON results file (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds on a small graph")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    return dataclasses.replace(
        base, **{k: v for k, v in vars(args).items() if k != "quick" and v is not None}
    )


def main(argv: Sequence[str] | None = None) -> None:
    try:
        asyncio.run(run(parse_args(argv)))
    except BenchError as exc:
        sys.exit(f"bench_graph: {exc}")


if __name__ == "__main__":
    main()
