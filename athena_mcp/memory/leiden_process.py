"""Leiden in a child process.

leidenalg holds the interpreter lock for its whole run (0.5-2 s at 10k entities / 50k relations on
two cores), which would stall every other tool call of the server for that long. So each
computation runs in a fresh Python process running `main` below: the server's event loop
stays free, a cancelled caller kills the child, and a crash in the C extension stays in the child.
Starting it costs about 0.2 s, once per recompute. Input and output are pickled between
this module and its own child only.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from collections.abc import Mapping, Sequence

from athena_mcp.errors import AthenaError
from athena_mcp.memory import leiden
from athena_mcp.store.communities import SnapshotEntity, SnapshotRelation

# igraph imports matplotlib for drawing when it is installed, which took 0.45 of the child's 0.65 s
# start-up here; the child never draws.
CHILD = f"import sys; sys.modules['matplotlib'] = None; from {__name__} import main; main()"
# Far beyond the 1-2 s of 50,000 relations: only a hung child gets near it.
TIMEOUT = 600.0


async def detect(
    entities: Sequence[SnapshotEntity],
    relations: Sequence[SnapshotRelation],
    previous: Mapping[int, int] | None = None,
) -> leiden.Partition:
    """leiden.detect, computed in a child process."""
    payload = await asyncio.to_thread(pickle.dumps, (list(entities), list(relations), previous))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # not the working directory first on sys.path: this package and igraph as installed
        "-c",
        CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        output, errors = await asyncio.wait_for(process.communicate(payload), TIMEOUT)
    except TimeoutError:
        raise _failed(f"no answer within {TIMEOUT:g} s") from None
    finally:
        if process.returncode is None:  # cancelled or timed out: the child must not outlive the call
            process.kill()
            await process.wait()
    if process.returncode != 0:
        reason = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise _failed(f"exit code {process.returncode}: {reason[0]}")
    try:
        partition = pickle.loads(output)
    except Exception:
        partition = None
    if not isinstance(partition, leiden.Partition):
        raise _failed("its answer could not be read")
    return partition


def _failed(reason: str) -> AthenaError:
    return AthenaError(
        f"Community detection failed in its worker process ({reason}). The stored communities are "
        "unchanged; try detect_communities again."
    )


def main() -> None:
    entities, relations, previous = pickle.load(sys.stdin.buffer)
    pickle.dump(leiden.detect(entities, relations, previous), sys.stdout.buffer)
