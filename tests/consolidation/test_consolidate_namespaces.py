"""Consolidation keeps namespaces apart: a run asked for in one namespace takes in, shows the client's
model and changes only that namespace's events and products, and its status shows nothing of another."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import CreateMessageRequestParams, CreateMessageResult, TextContent

from athena_mcp.consolidation.planner import product_key
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from athena_mcp.store import procedures
from tests.conftest import call, open_client, services_for
from tests.consolidation.test_consolidate import RELEASE_STEPS, RELEASE_STEPS_REWORDED, release_session

pytestmark = pytest.mark.timeout(120)

MARKERS = {"a": "zanzibar", "b": "ulaanbaatar"}


@pytest.fixture
def settings(tmp_path) -> Settings:
    # No background consolidation: the test decides when a run happens.
    return Settings(
        toolsets=("all",), db=tmp_path / "athena.db", backlog_interval=0.05, consolidation_interval=0
    )


def marked(events: list[dict[str, Any]], word: str) -> list[dict[str, Any]]:
    return [{**event, "content": f"{event['content']} {word}"} for event in events]


async def fill(client: Client, namespace: str) -> list[int]:
    """Two release sessions (an uncertain procedure), a text recurring in both (an uncertain fact) and
    two names mentioned together, each marked with the namespace's word; returns the event ids."""
    mark = MARKERS[namespace]
    ids = []
    for session, steps, day in (("r1", RELEASE_STEPS, 1), ("r2", RELEASE_STEPS_REWORDED, 2)):
        events = marked(release_session(session, steps, "success", day), mark)
        events.insert(1, {**events[0], "content": f"The release team from {mark.title()} Ops met Dave Jones"})
        recorded = await call(client, "record_events", events=events, namespace=namespace)
        ids += recorded["ids"]
    return ids


async def test_a_review_asked_in_one_namespace_shows_and_changes_nothing_of_another(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    asked: list[str] = []
    events: dict[str, list[int]] = {}

    async def mallory(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        text = params.messages[0].content.text  # type: ignore[union-attr]
        asked.append(text)
        # Every key asked about, and a's procedure's key worked out from its events, all confirmed
        # under a name of the client's choosing.
        keys = [*re.findall(r"^\[(\w+)\]", text, re.MULTILINE), product_key("procedure", events["a"])]
        answer = json.dumps({key: {"valid": True, "summary": "Mallory's release"} for key in keys})
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=answer), model="m")

    async with Client(build_server(settings, minilm), sampling_callback=mallory) as client:
        events = {namespace: await fill(client, namespace) for namespace in MARKERS}
        # In the default namespace, which holds nothing: nothing to take in, nothing to ask.
        nothing = await call(client, "consolidate", settle_seconds=0)
        in_b = await call(client, "consolidate", settle_seconds=0, namespace="b")
        status = {
            "default": await call(client, "consolidation_status"),
            "b": await call(client, "consolidation_status", namespace="b"),
            "a": await call(client, "consolidation_status", namespace="a"),
        }
        learned_in_a = await call(client, "list_procedures", origin="learned", namespace="a")
    async with open_client(settings, minilm) as client:
        in_a = await call(client, "consolidate", settle_seconds=0, namespace="a")
        [procedure_a] = (await call(client, "list_procedures", origin="learned", namespace="a"))["items"]
        [procedure_b] = (await call(client, "list_procedures", origin="learned", namespace="b"))["items"]

    assert nothing["events"] == 0 and in_b["events"] == len(events["b"])
    assert len(asked) == 1 and MARKERS["b"] in asked[0]
    assert MARKERS["a"] not in asked[0] and "Zanzibar" not in asked[0]
    # b's own proposal took the review; a's was never part of that run.
    assert procedure_b["goal"] == "Mallory's release" and procedure_b["validation"] == "validated"
    assert learned_in_a["items"] == [] and status["a"]["backlog"] == len(events["a"])
    assert in_a["events"] == len(events["a"]) and in_a["procedures_proposed"] == 1
    assert procedure_a["validation"] == "unvalidated" and MARKERS["a"] in procedure_a["goal"]
    # Each namespace's status holds its own work only: runs, backlog and names seen together.
    for namespace in ("default", "b"):
        assert MARKERS["a"] not in json.dumps(status[namespace]).lower(), status[namespace]
    assert status["default"]["runs"][0]["produced"] == {} and status["default"]["graph_candidates"] == []
    assert status["b"]["runs"][0]["produced"]["events"] == len(events["b"])
    assert {pair["source"] for pair in status["b"]["graph_candidates"]} >= {"Dave Jones"}
    assert status["a"]["graph_candidates"] == [] and len(status["a"]["runs"]) == 0


async def test_a_background_run_consolidates_each_namespace_apart_and_reports_to_each_its_own(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        events = {namespace: await fill(client, namespace) for namespace in MARKERS}
    async with services_for(settings, minilm) as services:
        report = await services.consolidation.run_once(settle_seconds=0)
        learned = {
            namespace: await services.database.fetchall(
                "SELECT id FROM procedures WHERE origin = 'learned' AND namespace = ?", (namespace,)
            )
            for namespace in MARKERS
        }
        evidence = {
            namespace: (await procedures.evidence(services.database, rows[0][0], 100))[1]
            for namespace, rows in learned.items()
        }
    async with open_client(settings, minilm) as client:
        status = {
            namespace: await call(client, "consolidation_status", namespace=namespace)
            for namespace in MARKERS
        }
        default = await call(client, "consolidation_status")
    assert report.events == len(events["a"]) + len(events["b"]) and report.procedures_proposed == 2
    for namespace, other in (("a", "b"), ("b", "a")):
        # One procedure each, learned from its own sessions only.
        assert len(learned[namespace]) == 1 and set(evidence[namespace]) == set(events[namespace])
        [run] = status[namespace]["runs"]
        assert run["trigger"] == "schedule" and run["produced"]["events"] == len(events[namespace])
        assert MARKERS[other] not in json.dumps(status[namespace]).lower()
    # The run over every namespace is listed for a namespace it produced nothing in, with nothing.
    assert [run["produced"] for run in default["runs"]] == [{}]
