"""Tool calls counted and timed for Prometheus, per server: every call the gate sees, by tool and
outcome. Each server has its own registry (tests build many servers in one process)."""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import CollectorRegistry, Counter, Histogram

# Seconds: recall answers in tens of milliseconds, consolidation in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNKNOWN = "unknown"  # a name no tool has: a client may send any, and labels must stay few


class CallMetrics:
    def __init__(self, tools: Collection[str]) -> None:
        self.registry = CollectorRegistry()
        self._tools = frozenset(tools)
        self.calls = Counter(
            "athena_tool_calls",
            "Tool calls by tool and outcome (ok or error)",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "athena_tool_call_seconds",
            "Seconds a tool call took, by tool",
            ["tool"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def label(self, tool: str | None) -> str:
        """The tool's name if the server has it, else UNKNOWN: a client may send any text."""
        return tool if tool in self._tools else UNKNOWN

    def observe(self, tool: str | None, ok: bool, seconds: float) -> None:
        name = self.label(tool)
        self.calls.labels(tool=name, outcome="ok" if ok else "error").inc()
        self.seconds.labels(tool=name).observe(seconds)
