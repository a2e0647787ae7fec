"""What every scenario receives, and the shape it has."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from chaos.report import ScenarioReport


@dataclass(frozen=True)
class RunConfig:
    workdir: Path  # a fresh folder of the scenario's own: databases, logs, fault plans
    quick: bool = False  # the smoke run: a few cycles, seconds not minutes
    cycles: int | None = None  # overrides the scenario's own count of cycles or rounds
    seed: int = 6

    def rng(self) -> random.Random:
        return random.Random(self.seed)


Scenario = Callable[[RunConfig], Awaitable[ScenarioReport]]
