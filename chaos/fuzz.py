"""Property-based fuzzing of every tool through a real MCP client: `python -m chaos.fuzz --examples 5000`
(then malformed JSON-RPC on stdio, chaos.stdio_fuzz).

Calls are drawn from the input schemas the server lists (chaos.schema_strategies), half of them valid
and half with one field broken, against a server on a seeded store. The properties: the server
never crashes; every error is a tool error with its own message (never the bare "Error executing
tool X" of an unexpected exception), shows no stack trace, SQL or file path, and a refusal of a
broken call names the field that was broken.

Namespace confusion: another namespace (FOREIGN_NAMESPACE) holds something of every kind, each text
marked with FOREIGN_MARKER, and generated calls are often given its ids and names. No answer to a call
that does not name that namespace may show the marker, and after the run it holds what it held.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from mcp import Client
from mcp_types import CallToolResult

from athena_mcp.embeddings.base import Embedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from chaos.process import error_text
from chaos.schema_strategies import NOTHING_FOREIGN, Case, Foreign, Schema, draw, named_fields, tool_calls
from chaos.stdio_fuzz import run_stdio_fuzz

# What must never reach a client: a stack trace, the driver's names, SQL.
LEAK_MARKERS = ("Traceback", 'File "', "sqlite", "OperationalError", "IntegrityError", "SELECT ", "INSERT ")
_BARE = re.compile(r"(Error executing tool \S+)(: Error executing tool \S+)*")
FOREIGN_NAMESPACE = "elsewhere"
FOREIGN_MARKER = "quokka"  # in none of the strategies' texts: only the foreign namespace's data holds it
FOREIGN_NAMES = ("Quentin", "Quill")  # entities only the foreign namespace has


@dataclass
class Finding:
    kind: str
    case: Case
    message: str

    def __str__(self) -> str:
        arguments = json.dumps(self.case.arguments, default=repr)
        broken = f"{self.case.mutation or 'valid'}({self.case.field})"
        return f"{self.kind}: {self.case.tool} {broken} {arguments[:300]} -> {self.message[:300]}"


@dataclass
class FuzzReport:
    cases: Counter[str] = field(default_factory=Counter)
    broken_cases: Counter[str] = field(default_factory=Counter)
    succeeded: int = 0
    refused: int = 0
    # Calls the schema calls invalid that the server accepted (pydantic's lax coercions, e.g. "7" -> 7).
    lenient: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for finding in self.findings if finding.kind == kind)

    def lines(self) -> list[str]:
        out = [f"{'tool':<22} cases  broken"]
        out += [f"{tool:<22} {n:>5}  {self.broken_cases[tool]:>6}" for tool, n in sorted(self.cases.items())]
        out += [
            f"total cases: {sum(self.cases.values())} over {len(self.cases)} tools; "
            f"succeeded {self.succeeded}, refused {self.refused}",
            f"crashes: {self.count('crash')}",
            f"internal errors: {self.count('internal-error')}",
            f"leaks (trace, SQL, path): {self.count('leak')}",
            f"rejections without the field (or the limit crossed) named: {self.count('unnamed')}",
            f"answers showing another namespace's data: {self.count('cross-namespace')}",
            f"another namespace changed: {self.count('cross-namespace-change')}",
            f"accepted though the schema says invalid: {sum(self.lenient.values())} {dict(self.lenient)}",
        ]
        return out + [str(finding) for finding in self.findings[:20]]


def draw_cases(
    schemas: dict[str, Schema], per_tool: int, run_seed: int, foreign: Foreign = NOTHING_FOREIGN
) -> list[Case]:
    """`per_tool` generated calls of every tool (fewer where the schema has fewer distinct calls)."""
    drawn: list[Case] = []
    for tool, schema in sorted(schemas.items()):
        drawn += draw(tool_calls(tool, schema, foreign), per_tool, run_seed)
    return drawn


def names_foreign_namespace(case: Case) -> bool:
    """Whether the call itself asks for the foreign namespace (it may then see its data)."""
    return FOREIGN_NAMESPACE in json.dumps(case.arguments, default=repr)


class Judge:
    """Checks one call's outcome against the properties; records what breaks them."""

    def __init__(self, schemas: dict[str, Schema], db: Path, report: FuzzReport) -> None:
        self.validators = {tool: Draft202012Validator(schema) for tool, schema in schemas.items()}
        self.fields = {tool: named_fields(schema) for tool, schema in schemas.items()}
        self.locations = (str(db), str(db.parent), db.name)
        self.report = report

    def outcome(self, case: Case, result: CallToolResult) -> None:
        report = self.report
        answer = f"{error_text(result)} {json.dumps(result.structured_content, default=repr)}"
        if FOREIGN_MARKER in answer.lower() and not names_foreign_namespace(case):
            report.findings.append(Finding("cross-namespace", case, answer))
        schema_valid = self.validators[case.tool].is_valid(case.arguments)
        if not result.is_error:
            report.succeeded += 1
            if not schema_valid:
                report.lenient[f"{case.tool}.{case.field}:{case.mutation}"] += 1
            return
        report.refused += 1
        message = error_text(result)
        if _BARE.fullmatch(message.strip()):
            report.findings.append(Finding("internal-error", case, message))
            return
        echoed = json.dumps(case.arguments, default=repr)
        leaks = [m for m in (*LEAK_MARKERS, *self.locations) if m in message and m not in echoed]
        if leaks:
            report.findings.append(Finding("leak", case, message))
        if not self._names_a_field(case, schema_valid, message):
            report.findings.append(Finding("unnamed", case, message))

    def _names_a_field(self, case: Case, schema_valid: bool, message: str) -> bool:
        # Pydantic lists every field it refuses, so a broken field it refused is among them; a
        # refusal past validation (say an unknown id) means the break was coerced (True as 1).
        refused_by_validation = "validation error" in message
        if case.field is not None and not schema_valid and refused_by_validation:
            named = re.search(rf"\b{re.escape(case.field)}\b", message) is not None
            return named and (case.limit is None or _number(case.limit) in message)
        return any(re.search(rf"\b{re.escape(name)}\b", message) for name in self.fields[case.tool])


def _number(limit: float) -> str:
    # Pydantic writes a bound of 1.0 as "1" and one of 0.5 as "0.5".
    return str(int(limit)) if float(limit).is_integer() else str(limit)


async def seed_store(client: Client) -> None:
    """Something in every toolset for valid calls to find, named with the strategies' vocabulary."""
    calls: list[tuple[str, dict[str, Any]]] = [
        ("remember", {"content": "Alice works at Acme on the deploy team", "tags": ["team"]}),
        ("remember", {"content": "Releases go out on Thursdays", "kind": "fact"}),
        ("record_event", {"content": "Deployed release 1.4", "session_id": "s1", "event_type": "action"}),
        ("record_event", {"content": "The deploy failed", "session_id": "s1", "outcome": "failure"}),
        (
            "create_entities",
            {
                "entities": [
                    {"name": "Alice", "entityType": "person", "observations": ["leads the deploy team"]},
                    {"name": "Bob", "entityType": "person", "observations": ["reviews releases"]},
                    {"name": "Acme", "entityType": "company", "observations": ["makes rockets"]},
                ]
            },
        ),
        (
            "create_relations",
            {
                "relations": [
                    {"from": "Alice", "to": "Acme", "relationType": "works_at"},
                    {"from": "Bob", "to": "Alice", "relationType": "team"},
                ]
            },
        ),
        ("save_procedure", {"name": "deploy", "goal": "Ship a release", "steps": ["build", "ship"]}),
        ("create_goal", {"title": "release"}),
        ("create_task", {"title": "deploy", "goal_id": 1}),
        ("create_trigger", {"kind": "after", "after_seconds": 1, "reminder": "check the deploy"}),
        ("create_trigger", {"kind": "event", "event_type": "action", "reminder": "an action"}),
    ]
    for tool, arguments in calls:
        result = await client.call_tool(tool, arguments)
        if result.is_error:
            raise RuntimeError(f"seeding {tool} failed: {error_text(result)}")


async def seed_foreign(client: Client) -> Foreign:
    """Something of every kind in FOREIGN_NAMESPACE, marked; returns its ids and names."""
    ns = {"namespace": FOREIGN_NAMESPACE}
    mark = FOREIGN_MARKER

    async def seed(tool: str, **arguments: Any) -> Any:
        result = await client.call_tool(tool, {**arguments, **ns})
        if result.is_error:
            raise RuntimeError(f"seeding {tool} in {FOREIGN_NAMESPACE} failed: {error_text(result)}")
        return result.structured_content

    fact = await seed("remember", content=f"The {mark} vault opens at dawn")
    forgotten = await seed("remember", content=f"The {mark} vault code is 4711")
    await seed("forget", id=forgotten["id"])
    events = await seed(
        "record_events",
        events=[{"content": f"Fed the {mark} at {hour}", "session_id": f"{mark}-1"} for hour in (7, 8, 9)],
    )
    procedure = await seed("save_procedure", name="Feed", goal=f"Feed the {mark}", steps=[f"open {mark} pen"])
    retired = await seed("save_procedure", name="Old feed", goal=f"Feed {mark} hay", steps=["hay"])
    await seed("retire_procedure", id=retired["id"])
    goal = await seed("create_goal", title=f"Keep the {mark} fed")
    task = await seed("create_task", title=f"Buy {mark} food", goal_id=goal["id"])
    trigger = await seed("create_trigger", kind="event", text_contains="escaped", reminder=f"find the {mark}")
    await seed("record_event", content=f"The {mark} escaped")
    fired = [item["firing_id"] for item in (await seed("due"))["fired"]]
    people = [
        {"name": name, "entityType": f"keeper {mark}", "observations": [f"{name} feeds the {mark}"]}
        for name in (*FOREIGN_NAMES, "Alice")
    ]
    await seed("create_entities", entities=people)
    await seed(
        "create_relations",
        relations=[{"from": name, "to": "Alice", "relationType": f"helps_{mark}"} for name in FOREIGN_NAMES],
    )
    merged = await seed("merge_entities", entityName="Alice", into="Quill")
    await seed("detect_communities")
    communities = [c["id"] for c in (await seed("list_communities"))["communities"]]
    ids = {
        fact["id"],
        forgotten["id"],
        *events["ids"],
        procedure["id"],
        retired["id"],
        goal["id"],
        task["id"],
        trigger["id"],
        *fired,
        merged["merge_id"],
        *communities,
    }
    return Foreign(tuple(sorted(ids)), FOREIGN_NAMES)


async def foreign_state(client: Client) -> dict[str, Any]:
    """What the foreign namespace holds, as it reads it; compared before and after the run."""
    reads: list[tuple[str, dict[str, Any]]] = [
        ("list_memories", {"status": "all", "limit": 100}),
        ("list_procedures", {"status": "all", "limit": 100}),
        ("list_tasks", {"status": ["todo", "in_progress", "blocked", "done", "cancelled"]}),
        ("list_goals", {}),
        ("list_triggers", {"status": ["active", "done", "cancelled"]}),
        ("read_graph", {"limit": 500}),
        ("list_communities", {}),
        ("consolidation_status", {}),
    ]
    state = {}
    for tool, arguments in reads:
        result = await client.call_tool(tool, {**arguments, "namespace": FOREIGN_NAMESPACE})
        state[tool] = error_text(result) if result.is_error else result.structured_content
    due = await client.call_tool("due", {"namespace": FOREIGN_NAMESPACE})
    state["due"] = error_text(due) if due.is_error else (due.structured_content or {}).get("fired")
    return state


@contextlib.asynccontextmanager
async def fuzz_client(db: Path, embedder: Embedder | None) -> AsyncIterator[Client]:
    # Consolidation only on request: a background run would change the foreign namespace on its own.
    server = build_server(
        Settings(
            db=db, log_level="ERROR", backlog_interval=0.05, toolsets=("all",), consolidation_interval=0
        ),
        embedder,
    )
    async with Client(server) as client:
        yield client


async def run_fuzz(db: Path, embedder: Embedder | None, examples: int, run_seed: int = 0) -> FuzzReport:
    """About `examples` calls spread evenly over every listed tool, against a fresh server on `db`."""
    report = FuzzReport()
    async with fuzz_client(db, embedder) as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        await seed_store(client)
        foreign = await seed_foreign(client)
        before = await foreign_state(client)
        judge = Judge(schemas, db, report)
        cases = draw_cases(schemas, max(1, examples // len(schemas)), run_seed, foreign)
        for case in cases:
            report.cases[case.tool] += 1
            report.broken_cases[case.tool] += case.mutation is not None
            try:
                async with asyncio.timeout(60):
                    result = await client.call_tool(case.tool, case.arguments)
            except Exception as exc:  # any failure of the call itself is a crash of the session
                report.findings.append(Finding("crash", case, f"{type(exc).__name__}: {exc}"))
                break
            judge.outcome(case, result)
        # Still serving after everything: a plain read works.
        alive = await client.call_tool("list_memories", {})
        if alive.is_error:
            report.findings.append(Finding("crash", Case("list_memories", {}), error_text(alive)))
        elif not any(names_foreign_namespace(case) for case in cases):
            after = await foreign_state(client)
            for tool, held in before.items():
                if after[tool] != held:
                    change = (
                        f"{json.dumps(held, default=repr)[:400]} -> {json.dumps(after[tool], default=repr)}"
                    )
                    report.findings.append(Finding("cross-namespace-change", Case(tool, {}), change))
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=5000, help="calls in all, spread over every tool")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (the same seed, the same calls)")
    parser.add_argument(
        "--stdio-lines", type=int, default=1000, help="malformed JSON-RPC lines sent to a stdio server"
    )
    args = parser.parse_args(argv)
    from athena_mcp.embeddings.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.load()
    with tempfile.TemporaryDirectory() as directory:
        report = asyncio.run(run_fuzz(Path(directory) / "fuzz.db", embedder, args.examples, args.seed))
        print("\n".join(report.lines()), flush=True)
        stdio = asyncio.run(run_stdio_fuzz(Path(directory) / "stdio.db", args.stdio_lines, args.seed))
        print("\n".join(stdio.lines_out()))
    sys.exit(1 if report.findings or stdio.failed else 0)


if __name__ == "__main__":
    main()
