"""What a scenario measured: operations, losses, errors by kind and recovery times; table and JSON."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ScenarioReport:
    scenario: str
    tried: int = 0  # operations sent
    acknowledged: int = 0  # answered with success
    lost: int = 0  # acknowledged but missing (or changed) afterwards: must stay 0
    half_written: int = 0  # unacknowledged operations found partly stored: must stay 0
    integrity_failures: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # client-visible errors by kind
    recovery_seconds: list[float] = field(default_factory=list)  # launch to first successful call
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the first few losses and failures, described
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.half_written or self.integrity_failures or self.problems)

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)

    def to_json(self) -> dict[str, Any]:
        recovery = sorted(self.recovery_seconds)
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "tried": self.tried,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "half_written": self.half_written,
            "integrity_failures": self.integrity_failures,
            "errors": dict(sorted(self.errors.items())),
            "recovery_seconds": {
                "count": len(recovery),
                "p50": round(statistics.median(recovery), 3) if recovery else None,
                "max": round(recovery[-1], 3) if recovery else None,
            },
            "notes": self.notes,
            "problems": self.problems,
            "seconds": round(self.seconds, 1),
        }


def table(reports: list[ScenarioReport]) -> str:
    """One row per scenario, then each scenario's errors, notes and problems."""
    head = ("scenario", "ok", "tried", "acked", "lost", "half", "integrity", "recovery p50/max s", "errors")
    rows = [head]
    for report in reports:
        data = report.to_json()
        recovery = data["recovery_seconds"]
        rows.append(
            (
                report.scenario,
                "yes" if report.ok else "NO",
                str(report.tried),
                str(report.acknowledged),
                str(report.lost),
                str(report.half_written),
                "ok" if not report.integrity_failures else "FAILED",
                "-" if recovery["p50"] is None else f"{recovery['p50']:.2f}/{recovery['max']:.2f}",
                str(sum(report.errors.values())),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    for report in reports:
        for kind, count in sorted(report.errors.items()):
            lines.append(f"  {report.scenario}: error {kind} x{count}")
        lines += [f"  {report.scenario}: {note}" for note in report.notes]
        lines += [f"  {report.scenario}: PROBLEM {problem}" for problem in report.problems]
        lines += [f"  {report.scenario}: INTEGRITY {failure}" for failure in report.integrity_failures]
    return "\n".join(lines)


def write_json(path: Path, reports: list[ScenarioReport], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    document = {
        "meta": {
            **meta,
            "commit": commit or None,
            "python": platform.python_version(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "scenarios": [report.to_json() for report in reports],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def error_kind(text: str) -> str:
    """The kind of an error a client saw, from the server's message. `bare` is a failure that gave no
    reason ("Error executing tool X", the SDK's answer to an unexpected exception); `other` is a
    clear refusal of another kind."""
    if ":" not in text.removeprefix("Error executing tool"):
        return "bare"
    lowered = text.lower()
    for marker, kind in (
        ("is busy", "busy"),
        ("cannot grow", "disk full"),
        ("storage failed", "storage fault"),
        ("out of memory", "out of memory"),
    ):
        if marker in lowered:
            return kind
    return "other"
