"""The terminal viewer: show, search and timeline read a store for a person (tables fitted to the
terminal) or a script (--json), and refuse what they cannot show with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from athena_mcp.cli import parser
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.errors import AthenaError
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.settings import Settings
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.viewer import data
from athena_mcp.viewer.commands import run_view
from tests.conftest import call, open_client, services_for
from tests.exchange.store_builder import build_rich_store
from tests.stdio_server import run_athena

pytestmark = [pytest.mark.timeout(180), pytest.mark.xdist_group("viewer-store")]  # one store for the module


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Path:
    import asyncio

    db = tmp_path_factory.mktemp("viewer") / "store.db"
    asyncio.run(build_rich_store(db, minilm))
    return db


async def view(store: Path, *argv: str, columns: int = 100, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    return await run_view(Settings(db=store), parser().parse_args(list(argv)))


async def test_show_memory_has_its_history_lineage_and_use(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fact = await view(store, "show", "memory", "1", monkeypatch=monkeypatch)
    assert fact.splitlines()[0] == "memory 1 · semantic fact · namespace default · active · version 2"
    assert "The release train leaves on Wednesdays" in fact
    assert "rated helpful 1" in fact
    assert "earlier versions" in fact and "The release train leaves on Thursdays" in fact and "moved" in fact

    as_json = json.loads(await view(store, "show", "memory", "1", "--json", monkeypatch=monkeypatch))
    assert as_json["history"][0]["content"] == "The release train leaves on Thursdays"
    assert as_json["usage"]["helpful"] == 1

    event = json.loads(await view(store, "show", "memory", "4", "--json", monkeypatch=monkeypatch))
    assert {"type": "procedure", "id": 1} in event["products"]
    digest_id = next(p["id"] for p in event["products"] if p["type"] == "memory")
    digest = await view(store, "show", "memory", str(digest_id), monkeypatch=monkeypatch)
    assert "came from events 4, 5, 6" in digest


async def test_show_procedure_session_and_the_lists(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    learned = await view(store, "show", "procedure", "1", monkeypatch=monkeypatch)
    assert "  1. git checkout main" in learned and "success rate 100%" in learned
    assert "seen in sessions s2, s1" in learned

    session = await view(store, "show", "session", "s1", monkeypatch=monkeypatch)
    assert session.splitlines()[0] == "session s1 · namespace default · 3 events shown"
    assert "digest (memory" in session and "run pytest" in session

    sessions = await view(store, "show", "sessions", monkeypatch=monkeypatch)
    assert sessions.splitlines()[0].split() == [
        "last",
        "event",
        "namespace",
        "session",
        "events",
        "first",
        "event",
        "digest",
    ]
    assert {line.split()[3] for line in sessions.splitlines()[1:]} == {"s1", "s2"}

    listed = await view(store, "show", "procedures", monkeypatch=monkeypatch)
    assert "Deploy: ship a release" in listed
    assert [
        p["name"]
        for p in json.loads(await view(store, "show", "procedures", "--json", monkeypatch=monkeypatch))[
            "items"
        ]
    ] == [
        "git checkout main … publish the docs",
        "Deploy",
    ]


async def test_tables_fit_the_terminal(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for columns in (60, 100, 160):
        text = await view(store, "timeline", "--limit", "20", columns=columns, monkeypatch=monkeypatch)
        assert max(len(line) for line in text.splitlines()) <= columns


async def test_search_shows_scores_and_why(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = await view(
        store,
        "search",
        "when does the release train leave",
        "--explain",
        columns=160,
        monkeypatch=monkeypatch,
    )
    header, first = text.splitlines()[:2]
    assert header.split() == ["score", "id", "sys", "kind", "when", "lexical", "dense", "content"]
    assert first.split()[1] == "1" and "bm25 #1" in first and "Wednesdays" in first
    assert "hybrid search" in text.splitlines()[-1]
    infra = json.loads(
        await view(store, "search", "cluster", "--namespace", "infra", "--json", monkeypatch=monkeypatch)
    )
    assert [hit["namespace"] for hit in infra["results"]] == ["infra"]


async def test_timeline_reads_the_latest_or_from_a_time(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latest = json.loads(await view(store, "timeline", "--limit", "2", "--json", monkeypatch=monkeypatch))
    assert [event["content"] for event in latest] == ["publish the docs", "build failed"]
    sessions = json.loads(await view(store, "timeline", "--session", "s2", "--json", monkeypatch=monkeypatch))
    assert [event["content"] for event in sessions] == ["git checkout main", "run pytest", "publish the docs"]
    early = await view(store, "timeline", "--since", "2026-01-01", "--limit", "1", monkeypatch=monkeypatch)
    assert len(early.splitlines()) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("show", "memory", "999"), "there is no memory 999"),
        (("show", "memory", "one"), "needs the memory's id"),
        (("show", "procedure", "42"), "there is no procedure 42"),
        (("show", "session"), "`show sessions` lists them"),
        (("show", "session", "nope"), "no events of session 'nope'"),
        (("timeline", "--since", "2026-02-01", "--until", "2026-01-01"), "--until must be later"),
    ],
)
async def test_what_cannot_be_shown_is_refused_plainly(
    store: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(AthenaError, match=message):
        await view(store, *argv, monkeypatch=monkeypatch)


@pytest.mark.slow
def test_the_commands_print_tables_and_one_line_errors(store: Path) -> None:
    shown = run_athena("--db", str(store), "show", "memory", "1")
    assert shown.returncode == 0 and "The release train leaves on Wednesdays" in shown.stdout, shown.stderr
    missing = run_athena("--db", str(store), "show", "procedure", "42")
    assert missing.returncode == 1 and missing.stderr.strip().endswith(f"there is no procedure 42 in {store}")


async def test_stored_control_characters_never_reach_the_terminal(
    tmp_path: Path, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "a.db"
    async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
        stored = await call(
            client, "remember", content="page said \x1b]52;c;b3duZWQ=\x07 and \x1b[2J cleared"
        )
    for argv in (("show", "memory", str(stored["id"])), ("timeline",), ("search", "page said")):
        shown = await view(db, *argv, monkeypatch=monkeypatch)
        assert "\x1b" not in shown and "\x07" not in shown, argv


async def test_a_search_in_the_viewer_is_not_the_agent_using_a_memory(
    settings: Settings, minilm: MiniLMEmbedder
) -> None:
    async with open_client(settings, minilm) as client:
        await call(client, "remember", content="The release train leaves on Wednesdays")
    async with services_for(settings, minilm) as services:
        found = await data.search(services, "release train", ("default",), 5, False)
        assert found.result.results and services.usage.drain() == {}
        agent = SearchRequest(query="release train", memory_filter=MemoryFilter(namespaces=("default",)))
        await services.search.search(agent)
        assert services.usage.drain(), "an agent's search counts as use"


async def test_a_database_that_is_not_there_is_named_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere.db"
    with pytest.raises(AthenaError, match=f"there is no database at {missing}"):
        await run_view(Settings(db=missing), parser().parse_args(["show", "sessions"]))
    assert not missing.exists()
