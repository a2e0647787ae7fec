"""The embedder fails, then hangs, then recovers, under a running server.

While it is down every write must still be acknowledged (its vector pending), recall must answer
lexical-only and say so, and no call may outlast the embedding timeout by much; once it is back
the pending vectors must be computed by the background worker.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from chaos.fault_workload import Write, WriteFactory, attempt, verify_writes
from chaos.integrity import check_file, read_only
from chaos.process import ChaosServer, ServerOptions, ToolFailed, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig

EMBEDDING_TIMEOUT = 2.0
# A call may take the embedding timeout plus this much (storage, the client's own round trip).
SLACK = 3.0
# Longest wait for the backlog to be embedded once the embedder is back (its back-off included).
DRAIN_LIMIT = 180.0


async def lexical_recall(server: ChaosServer, report: ScenarioReport, query: str, phase: str) -> None:
    """A recall while vectors are unavailable: it must answer, lexical-only, and say so."""
    try:
        result = await server.call("recall", {"query": query, "limit": 5})
    except ToolFailed:
        report.errors[f"recall failed ({phase})"] += 1
        return
    if result["mode"] != "lexical" or not result.get("notice"):
        report.problem(f"recall during {phase} did not say it was lexical-only: {result['mode']}")


async def degraded_phase(
    server: ChaosServer, factory: WriteFactory, report: ScenarioReport, rounds: int, phase: str
) -> tuple[list[Write], float]:
    """Writes and recalls while the embedder misbehaves; returns the writes and the slowest call."""
    writes: list[Write] = []
    slowest = 0.0
    for n in range(rounds):
        started = time.perf_counter()
        # Two writes and a recall at once: a stuck embedder must not queue one behind another.
        batch = [factory.next(), factory.next()]
        await asyncio.gather(
            *(attempt(server, w, report, DRAIN_LIMIT) for w in batch),
            lexical_recall(server, report, f"deploy key rotation {phase} {n}", phase),
        )
        slowest = max(slowest, time.perf_counter() - started)
        for write in batch:
            factory.settled(write)
        writes += batch
    return writes, slowest


def backlog(db: Path) -> int:
    with read_only(db) as connection:
        return int(connection.execute("SELECT count(*) FROM vector_backlog").fetchone()[0])


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("embedder")
    rounds = config.cycles or (3 if config.quick else 25)
    db = config.workdir / "athena.db"
    options = ServerOptions(
        db=db,
        workdir=config.workdir,
        plan={},
        env={"ATHENA_EMBEDDING_TIMEOUT": str(EMBEDDING_TIMEOUT), "ATHENA_BACKLOG_INTERVAL": "0.2"},
    )
    factory = WriteFactory(config.rng(), "emb")
    writes: list[Write] = []
    async with launch(options) as server:
        for mode in ("fail", "hang"):
            await server.set_plan({"embedder": {"mode": mode, "seconds": 600}})
            done, slowest = await degraded_phase(server, factory, report, rounds, mode)
            writes += done
            report.notes.append(
                f"embedder {mode}: slowest of {len(done)} writes and {rounds} recalls (3 at a time) "
                f"{slowest:.2f} s (embedding timeout {EMBEDDING_TIMEOUT:.0f} s)"
            )
            if slowest > EMBEDDING_TIMEOUT + SLACK:
                report.problem(f"embedder {mode}: a call took {slowest:.2f} s")
        pending = await server.call("remember", {"content": writes[0].rows[0][1]}) if writes else {}
        await server.set_plan({})
        lifted = time.perf_counter()
        async with asyncio.timeout(DRAIN_LIMIT):
            while backlog(db):  # noqa: ASYNC110 (the server's worker, seen through the file)
                await asyncio.sleep(0.5)
        report.recovery_seconds.append(time.perf_counter() - lifted)
        remembered = [w for w in writes if w.tool == "remember" and w.outcome == "acked"]
        for write in remembered:
            again = await server.call("remember", {"content": write.arguments["content"]})
            if again.get("vector") != "stored":
                report.problem(f"no vector after recovery for {write.rows[0][1]}")
        report.notes.append(
            f"vectors pending while down (remember said {pending.get('vector')!r}); all "
            f"{len(remembered)} remembered facts had vectors again "
            f"{report.recovery_seconds[-1]:.1f} s after the embedder came back"
        )
        result = await server.call("recall", {"query": "deploy key rotation", "limit": 5})
        if result["mode"] != "hybrid":
            report.problem(f"recall after recovery still {result['mode']}: {result.get('notice')}")
    report.integrity_failures += check_file(db)
    verify_writes(db, writes, report)
    return report
