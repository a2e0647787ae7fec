"""What a write costs the server itself, without the model: the gate (access, content policy), the
transaction, the audit and provenance triggers, FTS. Vectors come from the chaos harness's hashing
embedder, so the figures are the database path alone; with the real model, embedding adds to them.

    python -m perf.bench_write_path [--batches 8] [--facts 100]

Prints the median time of `record_events` with 500 events and of `remember` with one fact, through
an in-process MCP client on a fresh database. Run it on two commits side by side to see what a
change to the write path costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from mcp import Client

from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from chaos.embedder import HashingEmbedder

BATCH = 500


async def measure(batches: int, facts: int) -> tuple[float, float]:
    """Median seconds of a 500-event record_events, and of a remember."""
    with tempfile.TemporaryDirectory(prefix="athena-writes-") as folder:
        settings = Settings(
            db=Path(folder) / "athena.db", toolsets=("all",), backlog_interval=60, consolidation_interval=0
        )
        async with Client(build_server(settings, HashingEmbedder())) as client:
            batch_seconds = []
            for round_ in range(batches):
                events = [
                    {
                        "content": f"Event {round_}.{n}: ran deploy step {n} on host web-{n % 7}",
                        "session_id": f"s{round_}",
                    }
                    for n in range(BATCH)
                ]
                started = time.perf_counter()
                result = await client.call_tool("record_events", {"events": events})
                batch_seconds.append(time.perf_counter() - started)
                if result.is_error:
                    raise RuntimeError(f"record_events failed: {result.content}")
            fact_seconds = []
            for n in range(facts):
                started = time.perf_counter()
                await client.call_tool(
                    "remember", {"content": f"Fact {n}: service {n} listens on port {8000 + n}"}
                )
                fact_seconds.append(time.perf_counter() - started)
    return statistics.median(batch_seconds), statistics.median(fact_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=8, help="record_events calls of 500 events")
    parser.add_argument("--facts", type=int, default=100, help="remember calls")
    args = parser.parse_args()
    batch, fact = asyncio.run(measure(args.batches, args.facts))
    print(f"record_events of {BATCH}: median {batch * 1000:.0f} ms ({BATCH / batch:.0f} events/s)")
    print(f"remember: median {fact * 1000:.1f} ms")


if __name__ == "__main__":
    main()
