"""The scenarios by name, in the order `python -m chaos` runs them."""

from __future__ import annotations

from chaos.scenarios import (
    contention,
    crash,
    disk_full,
    embedder_faults,
    memory_pressure,
    slow_storage,
    storage_faults,
)
from chaos.scenarios.base import Scenario

SCENARIOS: dict[str, Scenario] = {
    "crash": crash.run,
    "contention": contention.run,
    "disk_full": disk_full.run,
    "io_faults": storage_faults.run,
    "embedder": embedder_faults.run,
    "slow_storage": slow_storage.run,
    "memory_pressure": memory_pressure.run,
}
