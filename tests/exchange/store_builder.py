"""A small store with rows in every table an export holds, made through the MCP tools as an agent
would (plus the settings that let compaction and a trigger's firing happen within a test)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from athena_mcp.embeddings.base import Embedder
from athena_mcp.settings import Settings
from tests.conftest import call, open_client

OLD_SESSION = [
    "Maria Lopez and Tobias Berg paired on the billing migration",
    "Tobias Berg asked Maria Lopez about the billing schema",
    "Maria Lopez merged the billing migration",
]


async def build_rich_store(db: Path, embedder: Embedder) -> None:
    settings = Settings(db=db, toolsets=("all",), backlog_interval=0.05, compaction_age_days=0)
    async with open_client(settings, embedder) as client:
        fact = await call(
            client, "remember", content="The release train leaves on Thursdays", tags=["release"]
        )
        await call(client, "remember", content="Staging runs on the small cluster", namespace="infra")
        await call(
            client, "update", id=fact["id"], content="The release train leaves on Wednesdays", reason="moved"
        )
        gone = await call(client, "remember", content="The old VPN host is vpn1")
        await call(client, "forget", id=gone["id"], reason="decommissioned")
        await call(client, "rate_memory", id=fact["id"], helpful=True)
        workflow = [
            {"content": step, "event_type": "action", "session_id": session, "outcome": "success"}
            for session in ("s1", "s2")
            for step in ("git checkout main", "run pytest", "publish the docs")
        ]
        await call(client, "record_events", events=workflow)
        old = [
            {
                "content": text,
                "event_type": "observation",
                "session_id": "s0",
                "importance": 0.1,
                "timestamp": f"2026-08-01T10:0{n}:00Z",
            }
            for n, text in enumerate(OLD_SESSION)
        ]
        await call(client, "record_events", events=old)
        await call(client, "consolidate", settle_seconds=0)
        procedure = await call(
            client, "save_procedure", name="Deploy", goal="ship a release", steps=["build", "test", "deploy"]
        )
        await call(client, "record_execution", id=procedure["id"], outcome="success", duration=12.5)
        goal = await call(client, "create_goal", title="Ship 2.0")
        first = await call(client, "create_task", title="Write changelog", goal_id=goal["id"])
        await call(client, "create_task", title="Tag release", depends_on=[first["id"]])
        await call(client, "create_trigger", kind="after", reminder="stand-up", after_seconds=1)
        await call(client, "create_trigger", kind="event", event_type="error", reminder="look at errors")
        await call(client, "record_event", content="build failed", event_type="error")
        await call(
            client,
            "add_to_graph",
            entities=[
                {"name": "Maria", "entityType": "person", "observations": ["reviews migrations"]},
                {"name": "Athena", "entityType": "project", "observations": []},
                {"name": "M. Lopez", "entityType": "person", "observations": ["owns the schema"]},
            ],
            relations=[
                {"from": "Maria", "to": "Athena", "relationType": "works_on"},
                {"from": "M. Lopez", "to": "Athena", "relationType": "reviews"},
            ],
        )
        await call(client, "add_aliases", entityName="Maria", aliases=["Maria L."])
        await call(client, "merge_entities", entityName="M. Lopez", into="Maria")
        await call(client, "detect_communities")
        await call(client, "consolidate", settle_seconds=0)  # compacts the old session's events
        await call(client, "focus", session_id="s9", pin=[fact["id"]])
        await call(client, "recall", query="which bakery sells sourdough in Ulaanbaatar")
        await asyncio.sleep(1.5)  # the reminder fires
