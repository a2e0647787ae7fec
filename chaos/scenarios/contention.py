"""Contention: several server processes on one database file, each with a client writing and reading at
once. Every write must be acknowledged (no "database is locked" or any other error reaching a client)
and present afterwards, read back through each server and a fresh one."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from chaos.integrity import check_file
from chaos.process import ChaosServer, ServerOptions, ToolFailed, launch
from chaos.report import ScenarioReport, error_kind
from chaos.scenarios.base import RunConfig
from chaos.workload import NAMESPACE, Workload

SERVERS = 4
FULL_ROUNDS = 60
QUICK_ROUNDS = 6


async def read_while_writing(
    server: ChaosServer, rng: random.Random, report: ScenarioReport, stop: asyncio.Event
) -> None:
    """Reads of every kind alongside the writes: they must never fail either."""
    reads: list[tuple[str, dict[str, Any]]] = [
        ("recall", {"query": "fact alpha", "namespace": NAMESPACE}),
        ("timeline", {"namespace": NAMESPACE, "limit": 20}),
        ("search_nodes", {"query": "obs", "namespace": NAMESPACE}),
        ("list_memories", {"namespace": NAMESPACE}),
    ]
    while not stop.is_set():
        tool, arguments = rng.choice(reads)
        report.tried += 1
        try:
            await server.call(tool, arguments)
        except ToolFailed as exc:
            report.errors[f"{error_kind(exc.text)} ({tool})"] += 1
            report.problem(f"read {tool} failed: {exc.text}")
        else:
            report.acknowledged += 1


async def client_side(server: ChaosServer, workload: Workload, rounds: int, report: ScenarioReport) -> None:
    stop = asyncio.Event()
    reader = asyncio.create_task(read_while_writing(server, random.Random(workload.prefix), report, stop))
    try:
        for _ in range(rounds):
            # Two writes at once per client, so each server also serialises its own callers.
            await asyncio.gather(*(workload.send(server, workload.next_op(), report) for _ in range(2)))
    finally:
        stop.set()
        await reader


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("contention")
    rounds = config.cycles or (QUICK_ROUNDS if config.quick else FULL_ROUNDS)
    db = config.workdir / "shared.db"
    rng = config.rng()
    # Each client has its own workload (its own tokens and entities), checked by every server.
    workloads = [Workload(random.Random(rng.random()), f"p{n}") for n in range(SERVERS)]
    async with contextlib.AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                launch(ServerOptions(db=db, workdir=config.workdir, name=f"server{n}"))
            )
            for n in range(SERVERS)
        ]
        report.recovery_seconds += [server.recovery_seconds for server in servers]
        await asyncio.gather(
            *(client_side(s, w, rounds, report) for s, w in zip(servers, workloads, strict=True))
        )
        # Every server sees what every other one wrote.
        for n, server in enumerate(servers):
            other = workloads[(n + 1) % SERVERS]
            await other.verify(server, report, [op for op in other.ops if op.status == "acknowledged"])
    failed = sum(op.status == "failed" for w in workloads for op in w.ops)
    if failed:
        report.problem(f"{failed} writes failed under contention")
    async with launch(ServerOptions(db=db, workdir=config.workdir, name="checker")) as server:
        report.recovery_seconds.append(server.recovery_seconds)
        for workload in workloads:
            await workload.verify_all(server, report)
    report.integrity_failures += check_file(db)
    writes = sum(len(w.ops) for w in workloads)
    report.notes.append(
        f"{SERVERS} server processes on one file, {rounds} rounds of 2 concurrent writes each plus a "
        f"concurrent reader per client; {writes} writes, {report.tried - writes} reads"
    )
    return report
