"""The scenarios by name, in the order `python -m chaos` runs them."""

from __future__ import annotations

from chaos.scenarios import crash
from chaos.scenarios.base import Scenario

SCENARIOS: dict[str, Scenario] = {
    "crash": crash.run,
}
