"""I/O and driver faults at the storage seam: errors raised on random statements of a running server.

The plan fails statements at random points of the run (the Nth INSERT, UPDATE, COMMIT, ...), with
the driver's own errors (I/O error, corruption, busy, full). Each failed call must be a clear tool
error, roll back whole, and the next call must work; acknowledged writes must all be there.
A few ROLLBACKs fail too (a ROLLBACK happens only after a failure, so they are counted among the
first failures): the transaction stays open, and the server must end it before its next write.
"""

from __future__ import annotations

import random
import time

from chaos.fault_workload import WriteFactory, attempt, verify_writes
from chaos.integrity import check_file
from chaos.process import ServerOptions, ToolFailed, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig

# Statements to fail, with how many of each one write makes (roughly), to spread faults over the run.
STATEMENTS = {"INSERT": 4, "UPDATE": 1, "COMMIT": 1, "BEGIN IMMEDIATE": 1, "DELETE": 1, "SELECT": 8}
ERRORS = ("io", "io", "io", "corrupt", "busy", "full")
# Statements the start-up check makes before the first call; faults start after them.
STARTUP_SELECTS = 60
CALL_TIMEOUT = 30.0


def fault_plan(rng: random.Random, writes: int, faults: int) -> dict[str, object]:
    rules = []
    for _ in range(faults):
        match = rng.choice(list(STATEMENTS))
        floor = STARTUP_SELECTS if match == "SELECT" else 0
        rules.append(
            {
                "match": match,
                "error": rng.choice(ERRORS),
                "skip": floor + rng.randrange(STATEMENTS[match] * writes),
                "times": 1,
            }
        )
    for _ in range(max(1, faults // 10)):
        rules.append({"match": "ROLLBACK", "error": "io", "skip": rng.randrange(faults // 2 + 1), "times": 1})
    return {"storage": rules}


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("io_faults")
    rng = config.rng()
    writes_wanted = config.cycles or (40 if config.quick else 400)
    plan = fault_plan(rng, writes_wanted, max(4, writes_wanted // 4))
    db = config.workdir / "athena.db"
    options = ServerOptions(db=db, workdir=config.workdir, plan=plan, env={"ATHENA_BACKLOG_INTERVAL": "0.2"})
    factory = WriteFactory(rng, "io")
    writes = []
    recovery: list[float] = []
    failing_since: float | None = None
    reads_failed = reads = 0
    async with launch(options) as server:
        for n in range(writes_wanted):
            write = await attempt(server, factory.next(), report, CALL_TIMEOUT)
            factory.settled(write)
            writes.append(write)
            now = time.perf_counter()
            if write.outcome == "acked" and failing_since is not None:
                recovery.append(now - failing_since)
                failing_since = None
            elif write.outcome != "acked" and failing_since is None:
                failing_since = now
            if n % 10 == 9:  # reads go on between the writes, and may meet faults too
                reads += 1
                try:
                    await server.call("recall", {"query": "deploy key rotation", "limit": 5})
                except ToolFailed:
                    reads_failed += 1
        # Background work runs statements too, so some faults may not have fired yet: lift them,
        # and then a last write on the same server must work.
        await server.set_plan({})
        last = await attempt(server, factory.next(), report, CALL_TIMEOUT)
        writes.append(last)
        if last.outcome != "acked":
            report.problem(f"the write after the faults failed: {last.error[:200]}")
    report.integrity_failures += check_file(db)
    whole = verify_writes(db, writes, report)
    failed = sum(1 for w in writes if w.outcome == "failed")
    report.notes.append(
        f"{len(plan['storage'])} faults planned; {failed} writes failed with an error, "  # type: ignore[arg-type]
        f"{whole['failed']} of them stored anyway; {reads_failed}/{reads} reads failed"
    )
    failed_rollbacks = (config.workdir / f"{options.name}.log").read_text().count("rollback failed")
    report.notes.append(f"{failed_rollbacks} ROLLBACKs failed, leaving a transaction open (server log)")
    if recovery:
        report.notes.append(
            f"after a failed write the next acknowledged one came {max(recovery):.3f} s later at most "
            f"(median {sorted(recovery)[len(recovery) // 2]:.3f} s)"
        )
        report.recovery_seconds += recovery
    if report.errors.get("bare") or report.errors.get("other"):
        report.problem(f"unclear errors reached the client: {dict(report.errors)}")
    return report
