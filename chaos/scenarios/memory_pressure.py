"""Memory pressure: a large store, served under a capped address space (RLIMIT_AS, as `ulimit -v`).

A server fills a store, then another serves it with its address space capped while it runs
(prlimit(2): every allocation from then on counts against the cap), first with some room left (a
small request fits, the largest does not), then with none. Every call must be answered, by a result
or by a clear out-of-memory error that kept nothing; the server must stay up; once the cap is lifted
the largest request must go through. Finally `athena-mcp` started under a cap too small to load in
must exit once, non-zero, with one line saying it ran out of memory: a clear error, not a crash loop.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from chaos.fault_workload import Write, attempt
from chaos.integrity import check_file, read_only
from chaos.process import CALL_TIMEOUT, ChaosServer, ServerOptions, launch
from chaos.report import ScenarioReport
from chaos.scenarios.base import RunConfig

MIB = 1 << 20
BATCH = 500  # the largest record_events batch the tool accepts
STORE_BATCHES, QUICK_STORE_BATCHES = 8, 2  # batches of small events: the store at rest
BIG_CHARS = 20_000  # the longest content a tool accepts: a batch of them is a 10 MB request
SMALL_CHARS = 300
ROUNDS, QUICK_ROUNDS = 6, 2  # rounds of requests under each cap
# Room left under the tight cap: a small request needs about 32 MB, a 10 MB one about 72 MB.
TIGHT_ROOM = 48 * MIB
# Below what `athena-mcp` needs to load its libraries (about 270 MB of address space).
TOO_SMALL = 200 * MIB
LARGE_READS: tuple[tuple[str, dict[str, object]], ...] = (
    ("recall", {"query": "migration copied rows between shards", "limit": 100}),
    ("list_memories", {"limit": 100}),
    ("timeline", {"limit": 100}),
)


def address_space(pid: int, field: str = "VmSize") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


def cap(pid: int, soft: int | None) -> None:
    """Cap the address space of process `pid` at `soft` bytes, or lift the cap (None)."""
    import resource  # here, not at the top: chaos imports every scenario, and Windows has no resource

    # Only the soft limit, so that it can be lifted again without privileges.
    limit = resource.RLIM_INFINITY if soft is None else soft
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def batch(label: str, chars: int) -> Write:
    filler = "the migration copied rows between the shards and checked them " * (chars // 60 + 1)
    events = [
        {"content": f"Event {label}.{n}: {filler}"[:chars], "session_id": label, "event_type": "action"}
        for n in range(BATCH)
    ]
    return Write("record_events", {"events": events}, [("session", label)])


async def answered(server: ChaosServer, report: ScenarioReport, call: Write) -> Write:
    """A call that must be answered, by a result or a clear error."""
    await attempt(server, call, report, CALL_TIMEOUT / 2)
    if call.outcome == "unanswered":
        report.problem(f"{call.tool} went unanswered under the cap")
    return call


async def round_of_calls(
    server: ChaosServer, report: ScenarioReport, label: str, writes: list[Write]
) -> None:
    """The largest write, a small write, and the largest reads, each answered or clearly refused."""
    for write in (batch(f"{label}big", BIG_CHARS), batch(f"{label}small", SMALL_CHARS)):
        writes.append(await answered(server, report, write))
    for tool, arguments in LARGE_READS:
        await answered(server, report, Write(tool, arguments, []))


def check_batches(db: Path, writes: list[Write], report: ScenarioReport) -> None:
    """Each batch whole if acknowledged, absent if refused; never in part."""
    with read_only(db) as connection:
        stored = dict(connection.execute("SELECT session_id, count(*) FROM memories GROUP BY session_id"))
    for write in writes:
        label = write.rows[0][1]
        count = stored.get(label, 0)
        if 0 < count < BATCH:
            report.half_written += 1
        elif write.outcome == "acked" and count != BATCH:
            report.lost += 1
        elif write.outcome == "failed" and count:
            report.problem(f"batch {label} was refused, yet {count} of its events are stored")
        else:
            continue
        report.problem(f"batch {label} ({write.outcome}): {count} of {BATCH} events stored")


async def start_too_small(config: RunConfig, report: ScenarioReport) -> None:
    """`athena-mcp` under a cap it cannot load in: one line on stderr, a non-zero exit, once."""
    import resource

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "athena_mcp",
        "--db",
        str(config.workdir / "small.db"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "ATHENA_TOOLSETS": "all"},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (TOO_SMALL, TOO_SMALL)),
    )
    async with asyncio.timeout(CALL_TIMEOUT):
        _, stderr = await process.communicate()
    lines = stderr.decode(errors="replace").strip().splitlines()
    report.notes.append(f"athena-mcp under a {TOO_SMALL // MIB} MB cap: exit {process.returncode}, {lines}")
    if process.returncode == 0 or len(lines) != 1 or "out of memory" not in lines[0]:
        report.problem(f"athena-mcp that cannot load did not exit with one line naming memory: {lines[-5:]}")


async def run(config: RunConfig) -> ScenarioReport:
    report = ScenarioReport("memory_pressure")
    rounds = config.cycles or (QUICK_ROUNDS if config.quick else ROUNDS)
    db = config.workdir / "large.db"
    options = ServerOptions(db=db, workdir=config.workdir)
    writes: list[Write] = []
    async with launch(options) as server:
        for n in range(QUICK_STORE_BATCHES if config.quick else STORE_BATCHES):
            writes.append(await attempt(server, batch(f"store{n}", SMALL_CHARS), report, CALL_TIMEOUT))
        size, resident = address_space(server.pid), address_space(server.pid, "VmHWM")
        writes.append(await attempt(server, batch("uncapped", BIG_CHARS), report, CALL_TIMEOUT))
        size, resident = address_space(server.pid) - size, address_space(server.pid, "VmHWM") - resident
        report.notes.append(
            f"a 10 MB record_events call, uncapped, grew the address space {size // MIB} MB and the "
            f"resident peak {resident // MIB} MB"
        )
    async with launch(options) as server:
        report.recovery_seconds.append(server.recovery_seconds)
        # Threads that exist at rest are started before the cap: the embedder's, the workers'.
        await server.call("recall", {"query": "warm up", "limit": 1})
        at_rest = address_space(server.pid)
        cap(server.pid, at_rest + TIGHT_ROOM)
        for n in range(rounds):
            await round_of_calls(server, report, f"tight{n}.", writes)
        tight = report.errors["out of memory"]
        cap(server.pid, address_space(server.pid))
        for n in range(rounds):
            await round_of_calls(server, report, f"none{n}.", writes)
        none = report.errors["out of memory"] - tight
        cap(server.pid, None)
        lifted = time.perf_counter()
        resumed = await attempt(server, batch("lifted", BIG_CHARS), report, CALL_TIMEOUT)
        writes.append(resumed)
        report.recovery_seconds.append(time.perf_counter() - lifted)
        if resumed.outcome != "acked":
            report.problem(f"the largest batch failed after the cap was lifted: {resumed.error}")
    report.integrity_failures += check_file(db)
    check_batches(db, writes, report)
    report.notes.append(
        f"{at_rest // MIB} MB at rest; capped {TIGHT_ROOM // MIB} MB above it: {tight} of {rounds * 5} "
        f"calls refused for memory; capped at it: {none} of {rounds * 5}"
    )
    if not tight or not none:
        report.problem("a cap refused nothing: the scenario tested nothing")
    if unclear := set(report.errors) - {"out of memory"}:
        report.problem(f"errors other than a clear out-of-memory one: {dict(report.errors)} ({unclear})")
    await start_too_small(config, report)
    return report
