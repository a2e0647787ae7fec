"""The prospective toolset through an in-process MCP client: every tool, its refusals, the due
resource and the notification a listening client gets when a trigger fires."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from mcp import MCPError
from mcp.client.subscriptions import ResourceUpdated

from athena_mcp.memory.prospective import TaskDraft
from athena_mcp.tools.prospective import due_uri
from tests.conftest import call, call_error, open_client, services_for
from tests.tools.test_bad_input import assert_refused

pytestmark = pytest.mark.timeout(120)


async def test_tasks_and_goals_go_through_create_update_and_list(settings, minilm):
    async with open_client(settings, minilm) as client:
        goal = await call(client, "create_goal", title="Release 2.0", due="2099-06-01T00:00:00Z")
        design = await call(
            client, "create_task", title="Design the API", goal_id=goal["id"], priority="high"
        )
        build = await call(
            client,
            "create_task",
            title="Build it",
            notes="behind a flag",
            goal_id=goal["id"],
            depends_on=[design["id"]],
            due="2099-05-01T09:00:00+02:00",
        )
        assert build["due"] == "2099-05-01T07:00:00Z" and build["blocked_by"] == [design["id"]]
        assert (design["status"], design["priority"], design["overdue"]) == ("todo", "high", False)

        started = await call(client, "update_task", id=design["id"], status="in_progress")
        assert started["status"] == "in_progress" and started["closed_at"] is None
        done = await call(client, "update_task", id=design["id"], status="done", title="Design the v2 API")
        assert (done["status"], done["title"]) == ("done", "Design the v2 API") and done["closed_at"]

        open_tasks = await call(client, "list_tasks")
        assert [t["id"] for t in open_tasks["tasks"]] == [build["id"]]
        assert open_tasks["tasks"][0]["blocked_by"] == []
        everything = await call(client, "list_tasks", status=["todo", "done"], goal_id=goal["id"])
        assert [t["id"] for t in everything["tasks"]] == [build["id"], design["id"]]  # undated last
        [listed] = (await call(client, "list_goals"))["goals"]
        assert (listed["tasks"], listed["done"], listed["progress"], listed["complete"]) == (2, 1, 0.5, False)

        cleared = await call(client, "update_task", id=build["id"], clear=["due", "goal_id"], depends_on=[])
        assert (cleared["due"], cleared["goal_id"], cleared["depends_on"]) == (None, None, [])


async def test_triggers_are_created_listed_and_cancelled(settings, minilm):
    async with open_client(settings, minilm) as client:
        task = await call(client, "create_task", title="Renew the certificate")
        cron = await call(client, "create_trigger", kind="cron", cron="0 9 * * mon", task_id=task["id"])
        later = await call(
            client, "create_trigger", kind="at", at="2099-01-01T00:00:00Z", reminder="Happy new year"
        )
        assert cron["next_fire_at"] is not None and cron["next_fire_at"].endswith("T09:00:00Z")
        assert later["at"] == later["next_fire_at"] == "2099-01-01T00:00:00Z"
        listed = await call(client, "list_triggers", task_id=task["id"])
        assert [t["id"] for t in listed["triggers"]] == [cron["id"]]

        cancelled = await call(client, "cancel_trigger", id=cron["id"])
        again = await call(client, "cancel_trigger", id=cron["id"])
        assert (cancelled["changed"], again["changed"], again["status"]) == (True, False, "cancelled")
        assert [t["id"] for t in (await call(client, "list_triggers"))["triggers"]] == [later["id"]]
        assert [t["id"] for t in (await call(client, "list_triggers", status=["cancelled"]))["triggers"]] == [
            cron["id"]
        ]


async def test_an_event_trigger_fires_from_record_event_and_leaves_due_when_dismissed(settings, minilm):
    async with open_client(settings, minilm) as client:
        trigger = await call(
            client,
            "create_trigger",
            kind="event",
            event_type="error",
            text_contains="OOM",
            reminder="Raise the worker's memory limit",
        )
        await call(client, "record_event", content="worker restarted", event_type="observation")
        [event] = (await call(client, "record_event", content="worker killed: oom", event_type="error"))[
            "ids"
        ]
        due = await call(client, "due")
        [item] = due["fired"]
        assert (item["trigger_id"], item["reminder"], item["event"]["id"]) == (
            trigger["id"],
            trigger["reminder"],
            event,
        )

        dismissed = await call(client, "dismiss", firing_ids=[item["firing_id"]])
        assert dismissed == {"dismissed": [item["firing_id"]], "already_dismissed": []}
        assert (await call(client, "due"))["fired"] == []
        again = await call(client, "dismiss", firing_ids=[item["firing_id"]])
        assert again == {"dismissed": [], "already_dismissed": [item["firing_id"]]}


async def test_overdue_tasks_show_in_due_and_in_list_tasks(settings, minilm):
    created = time.time() - 7200
    async with services_for(settings, minilm) as services:
        late = await services.prospective.create_task(
            TaskDraft("default", "File taxes", due_at=created + 60), created
        )
        soon = await services.prospective.create_task(
            TaskDraft("default", "Book flights", due_at=time.time() + 1800), created
        )
    async with open_client(settings, minilm) as client:
        overdue = await call(client, "list_tasks", overdue=True)
        assert [(t["id"], t["overdue"]) for t in overdue["tasks"]] == [(late.id, True)]
        assert [t["id"] for t in (await call(client, "due"))["tasks"]] == [late.id]
        ahead = await call(client, "due", lookahead_minutes=60)
        assert [t["id"] for t in ahead["tasks"]] == [late.id, soon.id]


async def test_a_task_or_goal_due_in_the_past_is_recorded_as_overdue(settings, minilm):
    async with open_client(settings, minilm) as client:
        goal = await call(client, "create_goal", title="Close the books", due="2001-01-01T00:00:00Z")
        late = await call(
            client, "create_task", title="File the expenses", due="2001-01-01T00:00:00Z", goal_id=goal["id"]
        )
        assert goal["due"] == late["due"] == "2001-01-01T00:00:00Z" and late["overdue"]
        later = await call(client, "create_task", title="Renew the passport", due="2099-01-01T00:00:00Z")
        moved = await call(client, "update_task", id=later["id"], due="2001-06-01T00:00:00Z")
        assert moved["overdue"]
        assert [t["id"] for t in (await call(client, "due"))["tasks"]] == [late["id"], later["id"]]


async def test_a_trigger_without_a_kind_takes_the_one_its_fields_imply(settings, minilm):
    async with open_client(settings, minilm) as client:
        implied = [
            await call(client, "create_trigger", reminder="r", **fields)
            for fields in (
                {"at": "2099-01-01T00:00:00Z"},
                {"after_seconds": 60},
                {"cron": "0 9 * * mon"},
                {"event_type": "error"},
                {"text_contains": "paged", "repeat": True},
            )
        ]
        assert [t["kind"] for t in implied] == ["at", "after", "cron", "event", "event"]
        assert implied[0]["next_fire_at"] == "2099-01-01T00:00:00Z" and implied[4]["repeat"]
        explicit = await call(client, "create_trigger", kind="at", at="2099-01-01T00:00:00Z", reminder="r")
        assert explicit["kind"] == "at"

        nothing = await call_error(client, "create_trigger", reminder="r")
        assert_refused(nothing, settings, "at, after_seconds, cron, event_type or text_contains")
        mixed = await call_error(client, "create_trigger", reminder="r", cron="0 9 * * *", text_contains="x")
        assert_refused(mixed, settings, "cron, text_contains", "different kinds")
        only_repeat = await call_error(client, "create_trigger", reminder="r", repeat=True)
        assert_refused(only_repeat, settings, "event_type or text_contains")
        named = await call_error(client, "create_trigger", kind="at", cron="0 9 * * *", reminder="r")
        assert_refused(named, settings, "cron: only for cron triggers")
        assert len((await call(client, "list_triggers"))["triggers"]) == 6


async def test_a_listening_client_hears_when_a_trigger_fires_and_reads_the_due_resource(settings, minilm):
    uri = due_uri("ops")
    async with open_client(settings, minilm) as client:
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == [
            "athena://briefing/{namespace}",
            "athena://prospective/{namespace}/due",
        ]
        await call(
            client, "create_trigger", kind="event", text_contains="paged", reminder="ack", namespace="ops"
        )
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            await call(client, "record_event", content="on-call was paged", namespace="ops")
            await call(client, "due", namespace="ops")  # fires it now, without waiting for the worker
            async with asyncio.timeout(20):
                event = await anext(subscription)
        assert event == ResourceUpdated(uri=uri)
        content = (await client.read_resource(uri)).contents[0]
        body: dict[str, Any] = json.loads(getattr(content, "text", ""))
        assert [item["reminder"] for item in body["fired"]] == ["ack"]
        other = (await client.read_resource(due_uri("default"))).contents[0]
        assert json.loads(getattr(other, "text", ""))["fired"] == []


async def test_the_due_resource_refuses_a_namespace_that_cannot_exist(settings, minilm):
    async with open_client(settings, minilm) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource("athena://prospective/bad%20name/due")
    assert "namespace" in str(refused.value) and str(settings.db) not in str(refused.value)


async def test_a_dependency_cycle_is_refused_naming_the_chain(settings, minilm):
    async with open_client(settings, minilm) as client:
        a = (await call(client, "create_task", title="a"))["id"]
        b = (await call(client, "create_task", title="b", depends_on=[a]))["id"]
        message = await call_error(client, "update_task", id=a, depends_on=[b])
        assert_refused(message, settings, "depends_on", f"{b} → {a}", "cycle")
        assert (await call(client, "list_tasks"))["tasks"][0]["depends_on"] == []


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        ("update_task", {"id": 999, "title": "x"}, ("id: no task 999", "'default'")),
        ("create_task", {"title": "x", "goal_id": 999}, ("goal_id: no goal 999",)),
        ("create_task", {"title": "x", "depends_on": [998, 999]}, ("depends_on: no task 998, 999",)),
        ("list_tasks", {"goal_id": 999}, ("goal_id: no goal 999",)),
        ("create_trigger", {"kind": "after", "after_seconds": 5, "task_id": 999}, ("task_id: no task 999",)),
        ("cancel_trigger", {"id": 999}, ("id: no trigger 999",)),
        ("dismiss", {"firing_ids": [999]}, ("firing_ids: no fired item 999",)),
    ],
)
async def test_an_unknown_id_is_refused_naming_the_argument(settings, minilm, tool, arguments, fragments):
    async with open_client(settings, minilm) as client:
        assert_refused(await call_error(client, tool, **arguments), settings, *fragments)


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        (
            "create_trigger",
            {"kind": "at", "at": "2001-01-01T00:00:00Z", "reminder": "r"},
            ("at", "after_seconds"),
        ),
        ("create_trigger", {"kind": "cron", "cron": "0 0 30 2 *", "reminder": "r"}, ("cron", "never fires")),
        ("create_trigger", {"kind": "cron", "cron": "0 25 * * *", "reminder": "r"}, ("cron", "hour", "0-23")),
        ("create_trigger", {"kind": "cron", "cron": "every day", "reminder": "r"}, ("cron", "5 fields")),
        ("create_task", {"title": "x", "due": "2025-02-30T00:00:00Z"}, ("due",)),
    ],
)
async def test_an_impossible_date_is_refused_naming_the_argument(
    settings, minilm, tool, arguments, fragments
):
    async with open_client(settings, minilm) as client:
        assert_refused(await call_error(client, tool, **arguments), settings, *fragments)


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    [
        ("create_task", {"title": "t" * 201}, ("title", "200")),
        ("create_task", {"title": "  "}, ("title",)),
        ("create_task", {"title": "x", "notes": "n" * 20_001}, ("notes", "20000")),
        ("create_task", {"title": "x", "depends_on": list(range(1, 52))}, ("depends_on", "50")),
        ("create_task", {"title": "x", "status": "someday"}, ("status",)),
        ("create_task", {"title": "x", "priority": "p0"}, ("priority",)),
        ("create_task", {"title": "x", "namespace": "bad name"}, ("namespace",)),
        ("update_task", {"id": 1}, ("at least one of",)),
        ("update_task", {"id": 1, "clear": ["title"]}, ("clear",)),
        ("list_tasks", {"status": []}, ("status", "at least 1")),
        ("list_tasks", {"limit": 101}, ("limit", "100")),
        ("list_tasks", {"cursor": "nope"}, ("cursor", "list_tasks")),
        ("create_trigger", {"kind": "soon", "reminder": "r"}, ("kind",)),
        ("create_trigger", {"kind": "after", "after_seconds": 0, "reminder": "r"}, ("after_seconds", "1")),
        ("create_trigger", {"kind": "after", "reminder": "r"}, ("after_seconds: required",)),
        ("create_trigger", {"kind": "after", "after_seconds": 5}, ("task_id or reminder",)),
        ("create_trigger", {"kind": "at", "cron": "* * * * *", "reminder": "r"}, ("cron: only for cron",)),
        ("create_trigger", {"kind": "cron", "cron": "*" * 101, "reminder": "r"}, ("cron", "100")),
        ("create_trigger", {"kind": "event", "reminder": "r"}, ("event_type or text_contains",)),
        ("create_trigger", {"kind": "event", "event_type": "Bad Type", "reminder": "r"}, ("event_type",)),
        ("create_trigger", {"kind": "event", "text_contains": "t" * 2_001, "reminder": "r"}, ("2000",)),
        ("due", {"lookahead_minutes": 10_081}, ("lookahead_minutes", "10080")),
        ("dismiss", {"firing_ids": []}, ("firing_ids", "at least 1")),
        ("dismiss", {"firing_ids": list(range(1, 102))}, ("firing_ids", "100")),
        ("cancel_trigger", {"id": 0}, ("id", "equal to 1")),
    ],
)
async def test_bad_arguments_are_refused_naming_the_field_and_the_limit(
    settings, minilm, tool, arguments, fragments
):
    async with open_client(settings, minilm) as client:
        assert_refused(await call_error(client, tool, **arguments), settings, *fragments)
