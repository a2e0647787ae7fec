"""Procedure learning measured on agent-like sessions whose workflows are known.

Five workflows a coding agent repeats (release a package, deploy, rotate a credential, fix a red CI
build, add a migration) are recorded several times each, every time worded differently (each step
and goal has paraphrases, picked by a seeded generator), with chatter between the steps, some runs
failing, and half of them recorded in one `record_events` batch whose events share one time, an
unrelated fact first. One-off sessions (work done once) are mixed in. Then the product's worker
consolidates, as `consolidate` would, and:

- recall: the share of workflows that became a learned procedure (one whose evidence sessions are
  mostly of that workflow);
- precision: the share of learned procedures that are a workflow (not one-off sessions, not two
  workflows mixed);
- goal naming: the share of learned procedures whose goal is one of its workflow's stated goals;
- foreign evidence: of the sessions counted as evidence for a learned workflow, the share that are
  not of it (near misses: one-off work on the same topic, such as publishing the docs site beside
  releasing the package).

    python -m perf.eval_procedures [--repeats 3] [--one-offs 12] [--seeds 1,2,3,4,5] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store.memories import NewMemory

NAMESPACE = "agent"


@dataclass(frozen=True)
class Workflow:
    name: str
    goals: tuple[str, ...]  # ways the agent states the intent
    steps: tuple[tuple[str, ...], ...]  # each step's paraphrases


WORKFLOWS = (
    Workflow(
        "release",
        ("Goal: publish the new version of the package to PyPI", "We need to ship the next release to PyPI"),
        (
            ("git checkout main", "switch to the main branch"),
            ("run the test suite with pytest", "pytest -q"),
            ("bump the version in pyproject.toml", "update the version number in pyproject.toml"),
            ("build the wheel and sdist", "python -m build"),
            ("upload the distributions with twine", "twine upload dist/*"),
        ),
    ),
    Workflow(
        "deploy",
        (
            "Goal: deploy the web app to production on Fly.io",
            "Let's deploy the latest web app build to Fly.io",
        ),
        (
            ("build the Docker image", "docker build -t app ."),
            ("run the database migrations on staging", "apply pending migrations to the staging database"),
            ("fly deploy --strategy rolling", "deploy to Fly.io with a rolling strategy"),
            ("check the health endpoint returns 200", "curl the /health endpoint and expect 200"),
        ),
    ),
    Workflow(
        "rotate",
        ("Goal: rotate the staging database password", "We need to rotate the database credentials"),
        (
            ("generate a new password in Doppler", "create a fresh secret in Doppler"),
            ("update the database user's password", "ALTER USER app WITH PASSWORD the new secret"),
            (
                "restart the app servers to pick up the secret",
                "restart the application so it reads the new secret",
            ),
            ("verify the app can connect to the database", "check the app's database connection works"),
        ),
    ),
    Workflow(
        "fix-ci",
        ("Goal: make the failing CI build green again", "I want to fix the red CI pipeline"),
        (
            ("open the failing GitHub Actions log", "read the CI job's log on GitHub Actions"),
            ("reproduce the failure locally with the same Python version", "run the failing test locally"),
            ("fix the test or the code", "patch the code that broke the test"),
            ("push the fix and wait for CI", "git push and watch the pipeline"),
        ),
    ),
    Workflow(
        "migration",
        ("Goal: add a column to the users table", "We need a new database migration for the users table"),
        (
            ("write an Alembic migration", "alembic revision --autogenerate"),
            ("run the migration against a local database", "alembic upgrade head locally"),
            ("update the SQLAlchemy model", "add the field to the ORM model"),
            ("run the tests", "pytest"),
        ),
    ),
)
ONE_OFF_STEPS = (
    "rename the config loader module",
    "read the asyncio documentation on task groups",
    "profile the slow search endpoint with py-spy",
    "delete stale feature branches",
    "answer the question about licence headers",
    "resize the screenshots in the docs",
    "convert the changelog to Markdown",
    "benchmark JSON parsers",
    "draft the quarterly roadmap",
    "clean up the Makefile targets",
    "translate the error messages to German",
    "review the pull request about caching",
    "upgrade Node in the docs build",
    "sketch the architecture diagram",
    "tune the PostgreSQL autovacuum settings",
    "collect the crash reports from Sentry",
)
# Work done once that shares a topic with a workflow but not its steps: a procedure must not take
# them as its evidence.
NEAR_MISSES = (
    (
        "Goal: publish the docs site",
        ("build the docs with mkdocs", "netlify deploy --prod", "open the docs URL"),
    ),
    (
        "Goal: write the release notes",
        (
            "list the pull requests merged since the last tag",
            "write the changelog entry",
            "post the announcement",
        ),
    ),
    (
        "Goal: rotate my SSH key",
        ("generate a new ed25519 key pair", "add the public key to GitHub", "remove the old key from GitHub"),
    ),
    (
        "Goal: check why CI is slow",
        (
            "open the GitHub Actions timing report",
            "cache the pip downloads in the workflow",
            "push and compare",
        ),
    ),
)
CHATTER = (
    "The user said the meeting moved to Thursday",
    "Noticed the office Wi-Fi is slow today",
    "The staging database password rotates every Monday",
    "Lunch order arrived",
)


@dataclass(frozen=True)
class RecordedSession:
    session_id: str
    workflow: str | None  # None: a one-off
    goal: str | None


def workflow_session(
    rng: random.Random, workflow: Workflow, session_id: str, outcome: str, start: float, batched: bool
) -> tuple[list[NewMemory], RecordedSession]:
    goal = rng.choice(workflow.goals)
    events = []
    if batched:  # an unrelated fact first, as when a batch starts with what the agent noticed
        events.append(("observation", rng.choice(CHATTER), None))
    events.append(("message", goal, None))
    for step in workflow.steps:
        events.append(("action", rng.choice(step), None))
        if rng.random() < 0.3:
            events.append(("observation", rng.choice(CHATTER), None))
    events.append(("observation", f"{workflow.name} finished: {outcome}", outcome))
    memories = [
        NewMemory(
            "episodic",
            NAMESPACE,
            kind,
            text,
            session_id=session_id,
            outcome=result,
            occurred_at=start if batched else start + n,
        )
        for n, (kind, text, result) in enumerate(events)
    ]
    return memories, RecordedSession(session_id, workflow.name, goal)


def one_off_session(
    rng: random.Random, session_id: str, start: float, near_miss: int | None
) -> tuple[list[NewMemory], RecordedSession]:
    if near_miss is None:
        steps = rng.sample(ONE_OFF_STEPS, 3)
        goal = f"Goal: {steps[0]}"
    else:
        goal, steps = NEAR_MISSES[near_miss][0], list(NEAR_MISSES[near_miss][1])
    texts = [("message", goal, None)] + [("action", step, None) for step in steps]
    texts.append(("observation", "done", "success"))
    memories = [
        NewMemory(
            "episodic", NAMESPACE, kind, text, session_id=session_id, outcome=result, occurred_at=start + n
        )
        for n, (kind, text, result) in enumerate(texts)
    ]
    return memories, RecordedSession(session_id, None, None)


def recorded_sessions(
    repeats: int, one_offs: int, seed: int
) -> list[tuple[list[NewMemory], RecordedSession]]:
    """Each workflow `repeats` times (the last run of each failing), the near misses once each and
    `one_offs` one-off sessions, shuffled; half the workflow runs recorded as one batch with a single
    time."""
    rng = random.Random(seed)
    plan: list[tuple[Workflow | None, str, int | None]] = []
    for workflow in WORKFLOWS:
        plan += [
            (workflow, "failure" if n == repeats - 1 and repeats > 2 else "success", None)
            for n in range(repeats)
        ]
    plan += [(None, "success", n) for n in range(len(NEAR_MISSES))]
    plan += [(None, "success", None)] * one_offs
    rng.shuffle(plan)
    sessions = []
    start = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    for n, (workflow, outcome, near_miss) in enumerate(plan):
        session_id = f"s{n:03d}"
        moment = start + n * 3_600
        if workflow is None:
            sessions.append(one_off_session(rng, session_id, moment, near_miss))
        else:
            sessions.append(workflow_session(rng, workflow, session_id, outcome, moment, batched=n % 2 == 0))
    return sessions


async def learned_procedures(services: Services) -> list[dict[str, Any]]:
    rows = await services.database.fetchall(
        "SELECT p.id, p.goal, p.steps, r.session_id FROM procedures p "
        "JOIN procedure_runs r ON r.procedure_id = p.id "
        "WHERE p.namespace = ? AND p.origin = 'learned' AND p.status = 'active'",
        [NAMESPACE],
    )
    found: dict[int, dict[str, Any]] = {}
    for procedure_id, goal, steps, session_id in rows:
        entry = found.setdefault(procedure_id, {"goal": goal, "steps": json.loads(steps), "sessions": []})
        entry["sessions"].append(session_id)
    return list(found.values())


def score(procedures: list[dict[str, Any]], sessions: list[RecordedSession]) -> dict[str, Any]:
    by_id = {s.session_id: s for s in sessions}
    goals = {w.name: set(w.goals) for w in WORKFLOWS}
    matched: dict[str, list[dict[str, Any]]] = {}
    judged = []
    for procedure in procedures:
        kinds = Counter(by_id[s].workflow for s in procedure["sessions"] if s in by_id)
        workflow, count = kinds.most_common(1)[0] if kinds else (None, 0)
        is_workflow = workflow is not None and count * 2 > sum(kinds.values())
        goal_right = is_workflow and procedure["goal"] in goals[str(workflow)]
        judged.append({**procedure, "workflow": workflow if is_workflow else None, "goal_right": goal_right})
        if is_workflow:
            matched.setdefault(str(workflow), []).append(procedure)
    return {
        "workflows": len(WORKFLOWS),
        "learned": len(procedures),
        "recall": len(matched) / len(WORKFLOWS),
        "precision": statistics.fmean(p["workflow"] is not None for p in judged) if judged else None,
        "goal_named_right": statistics.fmean(p["goal_right"] for p in judged) if judged else None,
        # Of the sessions counted as evidence for procedures that are workflows, those of another
        # workflow or one-offs.
        "foreign_evidence": statistics.fmean(
            by_id[s].workflow != p["workflow"] for p in judged if p["workflow"] for s in p["sessions"]
        )
        if any(p["workflow"] for p in judged)
        else None,
        "procedures": judged,
    }


async def run(repeats: int, one_offs: int, seed: int, embedder: Embedder) -> dict[str, Any]:
    sessions = recorded_sessions(repeats, one_offs, seed)
    with tempfile.TemporaryDirectory(prefix="athena-procedures-") as workdir:
        settings = Settings(db=Path(workdir) / "eval.db", toolsets=("all",), consolidation_interval=0)
        async with open_services(settings, embedder, background=False) as services:
            if not await services.embeddings.wait_ready():
                raise RuntimeError(f"the embedding model did not load: {services.embeddings.failure}")
            for memories, _ in sessions:
                result = await services.episodic.record(memories)
                if result.vectors != "stored":
                    raise RuntimeError("the embedder failed during ingestion")
            await services.consolidation.run_once(trigger="request", namespace=NAMESPACE, settle_seconds=0)
            report = score(await learned_procedures(services), [recorded for _, recorded in sessions])
    report |= {
        "repeats": repeats,
        "one_offs": one_offs,
        "seed": seed,
        "finished_at": datetime.now(UTC).isoformat(),
    }
    return report


def print_report(report: dict[str, Any]) -> None:
    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.0f} %"

    print(
        f"{report['workflows']} workflows x {report['repeats']} runs, {report['one_offs']} one-off sessions "
        f"(seed {report['seed']}): {report['learned']} procedures learned"
    )
    print(
        f"recall {share(report['recall'])}, precision {share(report['precision'])}, "
        f"goal named right {share(report['goal_named_right'])}, "
        f"foreign evidence {share(report['foreign_evidence'])}"
    )
    for procedure in report["procedures"]:
        print(
            f"- {procedure['workflow'] or 'NOT A WORKFLOW'}: goal {procedure['goal']!r}, "
            f"{len(procedure['sessions'])} sessions"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.eval_procedures", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each workflow (the last fails when > 2)"
    )
    parser.add_argument("--one-offs", type=int, default=12, help="sessions of work done once")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated generator seeds, one run each")
    parser.add_argument("--out", type=Path, default=Path("perf/results/eval_procedures.json"))
    args = parser.parse_args(argv)
    embedder = make_embedder(Settings())
    reports = []
    for seed in (int(s) for s in args.seeds.split(",")):
        reports.append(asyncio.run(run(args.repeats, args.one_offs, seed, embedder)))
        print_report(reports[-1])
    if len(reports) > 1:
        for name in ("recall", "precision", "goal_named_right", "foreign_evidence"):
            values = [r[name] for r in reports if r[name] is not None]
            print(f"mean {name} over {len(reports)} seeds: {statistics.fmean(values):.3f}" if values else "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reports, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
