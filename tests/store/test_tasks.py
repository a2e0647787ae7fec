"""The SQL behind tasks, goals and triggers stays on its indexes: every listing and every worker query
walks an index in the order it returns, never a whole table and never a sort of the namespace.

Checked on the query plans of the statements the real calls send (through the statement seam), so
the guarantee holds at any size without timing anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from athena_mcp.memory.cursors import encode_cursor
from athena_mcp.memory.prospective import TaskDraft, TaskQuery, TriggerDraft
from athena_mcp.models import to_seconds
from tests.conftest import services_for

T0 = to_seconds(datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC))
# The tables the prospective SQL reads, and the aliases it gives them.
SCANNED_NAMES = {"tasks", "goals", "task_dependencies", "triggers", "trigger_firings", "memories"}
SCANNED_NAMES |= {"t", "g", "d", "p", "r", "f", "m"}


async def test_listings_and_trigger_passes_use_indexes_and_never_sort_or_scan(settings, minilm):
    async with services_for(settings, minilm) as services:
        p = services.prospective
        goal = (await p.create_goal("default", "g", None, None, T0)).id
        first = await p.create_task(TaskDraft("default", "a", goal_id=goal, due_at=T0 + 60), T0)
        await p.create_task(TaskDraft("default", "b", depends_on=(first.id,)), T0)
        await p.create_trigger(TriggerDraft("default", "at", task_id=first.id, at=T0 + 60), T0)
        await p.create_trigger(TriggerDraft("default", "event", reminder="r", event_type="error"), T0)

        statements: list[str] = []
        services.database.statement_hook = statements.append
        await p.list_tasks(TaskQuery("default"), None, 20, T0)
        await p.list_tasks(TaskQuery("default"), encode_cursor(first.id), 20, T0)
        await p.list_tasks(TaskQuery("default", overdue=True), None, 20, T0)
        await p.list_tasks(TaskQuery("default", statuses=("blocked",), due_before=T0), None, 20, T0)
        await p.list_tasks(TaskQuery("default", goal_id=goal), None, 20, T0)
        await p.list_goals("default", None, 20)
        await p.list_triggers("default", ("active",), first.id, None, 20)
        await services.triggers.run_once(T0 + 60)
        await p.due("default", T0 + 60, 0, 20)
        services.database.statement_hook = None

        problems = {}
        for sql in dict.fromkeys(statements):
            if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT")):
                continue
            plan = [
                row[3]
                for row in await services.database.fetchall(
                    f"EXPLAIN QUERY PLAN {sql}", [None] * sql.count("?")
                )
            ]
            bad = [
                step
                for step in plan
                if "TEMP B-TREE FOR ORDER BY" in step
                or (
                    (scanned := re.match(r"SCAN (\w+)", step)) is not None
                    and scanned[1] in SCANNED_NAMES
                    # The partial index of active event triggers: each pass checks all of them.
                    and "triggers_watching" not in step
                )
            ]
            # A lookup by a list of ids goes in by those ids, not through a namespace's rows.
            if "id IN (SELECT value FROM json_each" in sql and not any(
                "PRIMARY KEY" in step for step in plan
            ):
                bad.append("ids not looked up by key")
            if bad:
                problems[sql] = plan
        assert problems == {}
        assert any("FROM tasks t" in sql for sql in statements)
