"""Crash: kill -9 the server at a random moment during mixed writes, restart it, verify, repeat.

Each cycle starts a server on the same file, checks the previous cycle's operations through it
(acknowledged ones present exactly, unanswered ones all or nothing), sends mixed writes from two
concurrent callers of one client, and kills the server with SIGKILL after a random delay. The file is
checked (integrity_check, FTS5 integrity-check, mirrors) after every kill, and a last server checks
every acknowledged operation and the whole graph against the model.
"""

from __future__ import annotations

import asyncio
import contextlib

from chaos.integrity import check_file
from chaos.process import ChaosServer, ServerOptions, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig
from chaos.workload import Workload

FULL_CYCLES = 100
QUICK_CYCLES = 3
WRITERS = 2
# The server is killed this long after it answered its first call: from at once to well into the writes.
KILL_AFTER = (0.0, 1.5)
# Once killed, a caller's pending call must fail within this; longer is a hang, and it is cut.
DRAIN_SECONDS = 15.0


async def write_until_killed(server: ChaosServer, workload: Workload, report: ScenarioReport) -> None:
    while True:
        await workload.send(server, workload.next_op(), report)


async def one_cycle(server: ChaosServer, workload: Workload, report: ScenarioReport, delay: float) -> None:
    writers = [asyncio.create_task(write_until_killed(server, workload, report)) for _ in range(WRITERS)]
    await asyncio.sleep(delay)
    server.kill()
    _, pending = await asyncio.wait(writers, timeout=DRAIN_SECONDS)
    for task in pending:
        report.errors["call hung after the kill"] += 1
        task.cancel()
    for task in writers:
        with contextlib.suppress(BaseException):
            await task


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("crash")
    cycles = config.cycles or (QUICK_CYCLES if config.quick else FULL_CYCLES)
    rng = config.rng()
    workload = Workload(rng, "c")
    options = ServerOptions(db=config.workdir / "crash.db", workdir=config.workdir)
    in_flight = 0
    checked = 0
    for cycle in range(cycles):
        async with launch(options) as server:
            report.recovery_seconds.append(server.recovery_seconds)
            await workload.verify(server, report, workload.ops[checked:])
            checked = len(workload.ops)
            await one_cycle(server, workload, report, rng.uniform(*KILL_AFTER))
        in_flight += sum(op.status == "in flight" for op in workload.ops[checked:])
        report.integrity_failures += [f"cycle {cycle}: {failure}" for failure in check_file(options.db)]
    async with launch(options) as server:
        report.recovery_seconds.append(server.recovery_seconds)
        await workload.verify(server, report, workload.ops[checked:])
        await workload.verify_all(server, report)
    report.integrity_failures += [f"final: {failure}" for failure in check_file(options.db)]
    stored = sum(op.status == "acknowledged" for op in workload.ops) - report.acknowledged
    report.notes.append(
        f"{cycles} kill -9 cycles; {in_flight} operations unanswered at a kill, {stored} of them found "
        f"stored whole, the rest absent; {len(workload.entities)} entities and {len(workload.relations)} "
        "relations checked against the model at the end"
    )
    return report
