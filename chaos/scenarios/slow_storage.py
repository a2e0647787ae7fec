"""Slow storage: every INSERT stalls in the driver's thread, as on a slow or overloaded disk.

The server must stay responsive (a cheap read's latency is measured while slow writes run) and
honour a client's cancellation: a cancelled slow write stops, its transaction is rolled back
(none of it is stored) and the next write goes through without waiting for it.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from chaos.fault_workload import Write, WriteFactory, attempt, verify_writes
from chaos.integrity import check_file
from chaos.process import ChaosServer, ServerOptions, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig

INSERT_DELAY = 0.25
# The smoke run (--quick, in the default test suite) delays less: the same checks, in a third of the time.
QUICK_INSERT_DELAY = 0.1
# Events in the write that is cancelled: long enough (one delay each) that it cannot finish first.
LONG_BATCH = 40
CANCEL_AFTER = 1.0
WRITE_TIMEOUT = 120.0


async def read_latencies(server: ChaosServer, memory_id: int, until: asyncio.Event) -> list[float]:
    """Cheap reads back to back until `until` is set: each one's seconds."""
    seconds = []
    while not until.is_set():
        started = time.perf_counter()
        await server.call("get", {"id": memory_id})
        seconds.append(time.perf_counter() - started)
    return seconds


async def responsiveness(
    server: ChaosServer, factory: WriteFactory, report: ScenarioReport, writers: int, memory_id: int
) -> tuple[list[Write], list[float], float]:
    """Slow writes from several clients at once while reads run; (writes, read seconds, write span)."""
    done = asyncio.Event()
    reader = asyncio.create_task(read_latencies(server, memory_id, done))
    started = time.perf_counter()
    writes = [factory.next() for _ in range(writers)]
    await asyncio.gather(*(attempt(server, w, report, WRITE_TIMEOUT) for w in writes))
    span = time.perf_counter() - started
    done.set()
    return writes, await reader, span


async def cancelled_write(server: ChaosServer, report: ScenarioReport, label: str) -> tuple[Write, float]:
    """Start a long slow write, cancel it from the client, then time the next write."""
    contents = [f"Event {label}.{n}: a slow step that is cancelled" for n in range(LONG_BATCH)]
    write = Write(
        "record_events",
        {"events": [{"content": c, "session_id": label} for c in contents]},
        [("memories", c) for c in contents],
    )
    report.tried += 1
    call = asyncio.create_task(server.call(write.tool, write.arguments))
    await asyncio.sleep(CANCEL_AFTER)
    # The client cancels its request: the mcp client tells the server (notifications/cancelled).
    call.cancel()
    try:
        await call
    except asyncio.CancelledError:
        report.errors["cancelled by the client"] += 1
    else:
        report.problem("the slow write finished before it could be cancelled")
    started = time.perf_counter()
    follow = await attempt(
        server,
        Write(
            "remember",
            {"content": f"Fact {label}: written after a cancel"},
            [("memories", f"Fact {label}: written after a cancel")],
        ),
        report,
        WRITE_TIMEOUT,
    )
    return write, time.perf_counter() - started if follow.outcome == "acked" else float("inf")


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("slow_storage")
    rounds = config.cycles or (1 if config.quick else 5)
    delay = QUICK_INSERT_DELAY if config.quick else INSERT_DELAY
    db = config.workdir / "athena.db"
    options = ServerOptions(db=db, workdir=config.workdir, plan={})
    factory = WriteFactory(config.rng(), "slow")
    writes: list[Write] = []
    async with launch(options) as server:
        first = await server.call("remember", {"content": "The staging database lives on host db-2"})
        _, baseline, _ = await responsiveness(server, factory, report, 1, first["id"])
        await server.set_plan({"driver": [{"match": "INSERT", "delay": delay}]})
        reads: list[float] = []
        spans = []
        for round_ in range(rounds):
            done, seconds, span = await responsiveness(server, factory, report, 4, first["id"])
            writes += done
            reads += seconds
            spans.append(span)
            cancelled, next_write = await cancelled_write(server, report, f"cancel-{round_}")
            writes.append(cancelled)
            report.recovery_seconds.append(next_write)
        await server.set_plan({})
        # Longer than the cancelled writes would have taken: had they gone on, they would be stored.
        await asyncio.sleep(LONG_BATCH * delay - CANCEL_AFTER)
    report.integrity_failures += check_file(db)
    whole = verify_writes(db, writes, report)
    if whole["unanswered"]:
        report.problem(f"{whole['unanswered']} cancelled writes were stored all the same")
    reads.sort()
    report.notes.append(
        f"INSERTs delayed {delay} s each in the driver's thread; 4 writers at a time took "
        f"{max(spans):.1f} s at most while {len(reads)} reads ran: "
        f"p50 {statistics.median(reads) * 1000:.0f} ms, max {reads[-1] * 1000:.0f} ms "
        f"(without the delay: p50 {statistics.median(baseline) * 1000:.0f} ms)"
    )
    report.notes.append(
        f"{rounds} slow writes of {LONG_BATCH} events cancelled after {CANCEL_AFTER:.0f} s: none stored; "
        f"the next write finished {max(report.recovery_seconds):.2f} s after the cancel at most"
    )
    return report
