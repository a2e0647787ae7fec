"""Disk full: the database cannot grow (PRAGMA max_page_count on the server's writer, through the fault
plan), then space returns, in one running server.

While full, writes must fail with an error that names the cause and leave nothing behind, reads must
keep working (everything acknowledged before is read back), and the file must stay intact; once
space returns the same server must accept writes again, without a restart.
"""

from __future__ import annotations

from chaos.integrity import check_file
from chaos.process import ChaosServer, ServerOptions, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig
from chaos.workload import Workload

BEFORE, WHILE_FULL, AFTER = 40, 120, 40
QUICK = (15, 40, 10)
# One page: SQLite keeps the limit at the file's current size, so the file cannot grow at all.
NO_GROWTH = 1


async def send(server: ChaosServer, workload: Workload, count: int, report: ScenarioReport) -> None:
    for _ in range(count):
        await workload.send(server, workload.next_op(), report)


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("disk_full")
    before, while_full, after = QUICK if config.quick else (BEFORE, WHILE_FULL, AFTER)
    options = ServerOptions(db=config.workdir / "full.db", workdir=config.workdir, plan={})
    workload = Workload(config.rng(), "d")
    async with launch(options) as server:
        report.recovery_seconds.append(server.recovery_seconds)
        await send(server, workload, before, report)
        await server.set_plan({"max_page_count": NO_GROWTH})
        full_from = len(workload.ops)
        await send(server, workload, while_full, report)
        during = workload.ops[full_from:]
        refused = [op for op in during if op.status == "failed"]
        # Reads still work while full: everything acknowledged so far, and nothing of what was refused.
        await workload.verify(server, report, workload.ops)
        if not refused:
            report.problem("no write was refused while the database could not grow")
        unclear = set(report.errors) - {"disk full"}
        if unclear:
            report.problem(f"writes failed with errors that do not name a full disk: {sorted(unclear)}")
        await server.set_plan({})
        resumed_from = len(workload.ops)
        await send(server, workload, after, report)
        resumed = workload.ops[resumed_from:]
        if any(op.status != "acknowledged" for op in resumed):
            report.problem("writes did not resume once space returned")
    report.integrity_failures += check_file(options.db)
    async with launch(options) as server:
        report.recovery_seconds.append(server.recovery_seconds)
        await workload.verify_all(server, report)
    report.notes.append(
        f"while full: {len(during)} writes, {len(refused)} refused with 'cannot grow', "
        f"{len(during) - len(refused)} fitted in free pages; after space returned: "
        f"{sum(op.status == 'acknowledged' for op in resumed)}/{len(resumed)} acknowledged"
    )
    return report
