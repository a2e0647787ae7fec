"""`python -m chaos [SCENARIO ...] [--quick] [--cycles N] [--seed N] [--out FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from chaos.report import ScenarioReport, table, write_json
from chaos.scenarios import SCENARIOS
from chaos.scenarios.base import RunConfig


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Run chaos scenarios against real Athena server processes and verify nothing "
        "acknowledged was lost. Exits 1 if anything was lost, half-written or failed a check.",
    )
    root.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"scenarios to run (default all): {', '.join(SCENARIOS)}",
    )
    root.add_argument("--quick", action="store_true", help="a short smoke run of each scenario")
    root.add_argument("--cycles", type=int, help="crash cycles / rounds per scenario (overrides the default)")
    root.add_argument("--seed", type=int, default=6, help="random seed (default 6)")
    root.add_argument("--out", type=Path, default=Path("chaos/results/chaos.json"), help="JSON report file")
    return root


async def run(names: list[str], quick: bool, cycles: int | None, seed: int) -> list[ScenarioReport]:
    reports = []
    with tempfile.TemporaryDirectory(prefix="athena-chaos-") as tmp:
        for name in names:
            workdir = Path(tmp) / name
            workdir.mkdir()
            started = time.perf_counter()
            print(f"chaos: {name} ...", file=sys.stderr, flush=True)
            report = await SCENARIOS[name](RunConfig(workdir, quick=quick, cycles=cycles, seed=seed))
            report.seconds = time.perf_counter() - started
            reports.append(report)
    return reports


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = args.scenarios or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser().error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    reports = asyncio.run(run(names, args.quick, args.cycles, args.seed))
    print(table(reports))
    write_json(args.out, reports, {"quick": args.quick, "cycles": args.cycles, "seed": args.seed})
    print(f"report written to {args.out}", file=sys.stderr)
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
