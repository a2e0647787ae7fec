"""Export and import: every table round-trips, a second import adds nothing, a bad line refuses the
whole file, selections hold only what they select, and the schema file describes every line."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from athena_mcp.caller import Caller, acting_as, reset_caller
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.errors import InvalidInput
from athena_mcp.exchange.export import current_schema, prepared, write_export
from athena_mcp.exchange.load import ImportSummary, import_lines
from athena_mcp.store.database import Database
from athena_mcp.store.exchange import RECORD_TYPES, Selection
from athena_mcp.store.migrations import migrate
from tests.exchange.store_builder import OLD_SESSION, build_rich_store
from tests.stdio_server import run_athena

pytestmark = [pytest.mark.timeout(180), pytest.mark.xdist_group("exchange-store")]  # one store for the module
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "athena_mcp" / "exchange" / "export.schema.json"


@pytest.fixture(scope="module")
def rich_store(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Path:
    db = tmp_path_factory.mktemp("rich") / "rich.db"
    asyncio.run(build_rich_store(db, minilm))
    return db


async def exported(db: Path, selection: Selection | None = None) -> list[dict[str, Any]]:
    await prepared(db, busy_timeout=5.0)
    out = io.StringIO()
    write_export(db, out, selection or Selection())
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def imported(db: Path, lines: list[str]) -> ImportSummary:
    token = acting_as(Caller(transport="cli", tool="import", origin="imported"))
    try:
        async with Database.open(db, busy_timeout=5.0) as database:
            await migrate(database)
            return await import_lines(database, [line.encode() for line in lines])
    finally:
        reset_caller(token)


def as_lines(records: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(record) for record in records]


async def test_every_record_type_survives_export_and_import_into_an_empty_store(
    rich_store: Path, tmp_path: Path
) -> None:
    first = await exported(rich_store)
    held = Counter(record["type"] for record in first[1:])
    assert {record_type.name for record_type in RECORD_TYPES} <= set(held), "the store lacks a record type"

    summary = await imported(tmp_path / "copy.db", as_lines(first))
    assert summary.added == held and not summary.present and not summary.cleared
    second = await exported(tmp_path / "copy.db")
    # Exactly the same records, with the import's own audit trail after them.
    assert [r for r in second[1:] if not (r["type"] == "audit" and r["tool"] == "import")] == first[1:]
    trail = [r for r in second[1:] if r["type"] == "audit" and r["tool"] == "import"]
    assert trail and all(r["actor"] == "cli" and r["change"] == "create" for r in trail)
    assert min(r["id"] for r in trail) > max(r["id"] for r in first[1:] if r["type"] == "audit")
    # Not exported, the text of the events before each event in its session is rebuilt as it was.
    texts = await preceding_texts(rich_store)
    assert any(texts.values()) and await preceding_texts(tmp_path / "copy.db") == texts


async def preceding_texts(db: Path) -> dict[int, str | None]:
    async with Database.open(db, busy_timeout=5.0) as database:
        return {int(row[0]): row[1] for row in await database.fetchall("SELECT id, preceding FROM memories")}


async def test_importing_the_same_file_twice_adds_nothing(rich_store: Path, tmp_path: Path) -> None:
    lines = as_lines(await exported(rich_store))
    target = tmp_path / "copy.db"
    await imported(target, lines)
    before = await exported(target)
    again = await imported(target, lines)
    assert not again.added and sum(again.present.values()) == len(lines) - 1
    assert (await exported(target))[1:] == before[1:]
    # And into the store it came from.
    home = tmp_path / "home.db"
    shutil.copyfile(rich_store, home)
    assert not (await imported(home, lines)).added


def _bad(records: list[dict[str, Any]], kind: str) -> tuple[list[str], int, str]:
    """The export with one line spoiled; the spoiled line's number and what the refusal must name."""
    lines = as_lines(records)
    number = next(n for n, r in enumerate(records) if r["type"] == "memory" and r["system"] == "semantic") + 1
    record = dict(records[number - 1])
    if kind == "not json":
        lines[number - 1] = lines[number - 1][:-5]
        return lines, number, "not JSON"
    if kind == "unknown type":
        record["type"] = "memoryy"
        expected = "unknown record type 'memoryy'"
    elif kind == "wrong type":
        record["importance"] = "high"
        expected = "memory field 'importance' must be a number"
    elif kind == "missing field":
        del record["content"]
        expected = "memory field 'content' is missing"
    elif kind == "unknown field":
        record["colour"] = "red"
        expected = "memory has no field 'colour'"
    elif kind == "constraint":
        record["importance"] = 7
        expected = "CHECK constraint failed"
    elif kind == "huge number":
        record["occurred_at"] = 10**30
        expected = "memory field 'occurred_at' must be a number"
    elif kind == "lone surrogate":
        record["content"] = "half \ud800 a character"
        expected = "memory field 'content' holds a lone surrogate"
    else:  # out of order: a memory after the last record
        lines.append(json.dumps(record | {"id": 10_000}))
        return lines, len(lines), "a memory record after"
    lines[number - 1] = json.dumps(record)
    return lines, number, expected


@pytest.mark.parametrize(
    "kind",
    [
        "not json",
        "unknown type",
        "wrong type",
        "missing field",
        "unknown field",
        "constraint",
        "huge number",
        "lone surrogate",
        "order",
    ],
)
async def test_a_bad_line_refuses_the_whole_file_naming_its_line(
    rich_store: Path, tmp_path: Path, kind: str
) -> None:
    lines, number, expected = _bad(await exported(rich_store), kind)
    target = tmp_path / "target.db"
    with pytest.raises(InvalidInput) as refused:
        await imported(target, lines)
    assert f"line {number}:" in str(refused.value) and expected in str(refused.value)
    assert (await exported(target))[1:] == [], "a refused import wrote something"


async def test_a_different_record_at_the_same_id_refuses_the_import(rich_store: Path, tmp_path: Path) -> None:
    records = await exported(rich_store)
    target = tmp_path / "target.db"
    await imported(target, as_lines(records))
    first_fact = next(n for n, r in enumerate(records) if r["type"] == "memory" and r["system"] == "semantic")
    records[first_fact] = records[first_fact] | {"content": "The release train leaves on Mondays"}
    with pytest.raises(
        InvalidInput, match=f"line {first_fact + 1}: this store already holds a different memory"
    ):
        await imported(target, as_lines(records))


async def test_a_namespace_export_holds_that_namespace_only_and_imports_on_its_own(
    rich_store: Path, tmp_path: Path
) -> None:
    records = await exported(rich_store, Selection(namespaces=("infra",)))
    assert records[0]["selection"]["namespaces"] == ["infra"]
    assert {r.get("namespace", "infra") for r in records[1:]} == {"infra"}
    assert [r["content"] for r in records if r["type"] == "memory"] == ["Staging runs on the small cluster"]
    summary = await imported(tmp_path / "infra.db", as_lines(records))
    assert summary.added["memory"] == 1


async def test_a_store_exported_a_namespace_at_a_time_imports_back_whole(
    rich_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "whole.db"
    parts = [as_lines(await exported(rich_store, Selection(namespaces=(n,)))) for n in ("default", "infra")]
    for part in parts:  # the first import's own audit rows take ids the second file's rows had
        await imported(target, part)
    for part in parts:
        assert not (await imported(target, part)).added
    whole = await exported(rich_store)
    final = await exported(target)
    assert [r for r in final[1:] if r["type"] != "audit"] == [r for r in whole[1:] if r["type"] != "audit"]
    trail = {(r["at"], r["subject"], r["subject_id"], r["change"]) for r in final if r["type"] == "audit"}
    assert {
        (r["at"], r["subject"], r["subject_id"], r["change"]) for r in whole if r["type"] == "audit"
    } <= trail


async def test_systems_and_times_select_and_references_outside_the_file_are_cleared(
    rich_store: Path, tmp_path: Path
) -> None:
    facts_only = await exported(rich_store, Selection(systems=frozenset({"semantic"})))
    kinds = {r["type"] for r in facts_only[1:]}
    assert "memory" in kinds and not kinds & {"procedure", "task", "graph_entity", "trigger"}
    assert {r["system"] for r in facts_only if r["type"] == "memory"} == {"semantic"}

    until = 1_786_000_000.0  # 2026-08-06: the old session's events and their digest
    old = [r for r in await exported(rich_store, Selection(until=until)) if r["type"] == "memory"]
    assert set(OLD_SESSION) <= {r["content"] for r in old} and len(old) == len(OLD_SESSION) + 1
    assert all(r["occurred_at"] < until for r in old)

    # A trigger's firings name the event that fired them; without the events, the reference is cleared.
    schedules = await exported(rich_store, Selection(systems=frozenset({"prospective"})))
    assert any(r["type"] == "trigger_firing" and r["event_id"] is not None for r in schedules)
    target = tmp_path / "schedules.db"
    summary = await imported(target, as_lines(schedules))
    assert summary.cleared >= 1
    again = await exported(target)
    assert all(r["event_id"] is None for r in again if r["type"] == "trigger_firing")
    # The same part again adds nothing; the whole store after it sets the cleared references again.
    assert not (await imported(target, as_lines(schedules))).added
    whole = await exported(rich_store)
    await imported(target, as_lines(whole))
    final = await exported(target)
    assert [r for r in final[1:] if r["type"] != "audit"] == [r for r in whole[1:] if r["type"] != "audit"]


async def test_the_schema_file_is_this_builds_and_describes_every_line(rich_store: Path) -> None:
    schema = await asyncio.to_thread(current_schema)
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema, (
        "athena_mcp/exchange/export.schema.json is stale: regenerate it with `athena-mcp export --schema`"
    )
    validator = jsonschema.Draft202012Validator(schema)
    for record in await exported(rich_store):
        validator.validate(record)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"type": "memory", "id": 1})


@pytest.mark.slow
def test_the_commands_export_to_a_private_file_and_import_from_standard_input(
    rich_store: Path, tmp_path: Path
) -> None:
    target = tmp_path / "export.jsonl"
    done = run_athena("--db", str(rich_store), "export", str(target), "--namespace", "default")
    assert done.returncode == 0, done.stderr
    assert "exported" in done.stderr and target.stat().st_mode & 0o777 == 0o600
    again = run_athena("--db", str(rich_store), "export", str(target))
    assert again.returncode == 1 and "exists" in again.stderr

    copy = tmp_path / "copy.db"
    loaded = run_athena("--db", str(copy), "import", "-", stdin=target.read_text(encoding="utf-8"))
    assert loaded.returncode == 0, loaded.stderr
    assert "imported in" in loaded.stderr and "done:" in loaded.stderr  # the vectors were computed
    stats = json.loads(run_athena("--db", str(copy), "stats", "--json").stdout)
    assert stats["vectors_waiting"] == 0 and "infra" not in stats["namespaces"]
    assert run_athena("--db", str(copy), "doctor").returncode == 0

    broken = tmp_path / "broken.jsonl"
    broken.write_text(target.read_text(encoding="utf-8") + "{\n", encoding="utf-8")
    refused = run_athena("--db", str(tmp_path / "other.db"), "import", str(broken), "--no-embed")
    assert refused.returncode == 1
    assert "import refused, nothing written: line" in refused.stderr and "Traceback" not in refused.stderr
    nowhere = tmp_path / "nowhere.db"
    missing = run_athena("--db", str(nowhere), "export")
    assert missing.returncode == 1 and "there is no database at" in missing.stderr and not nowhere.exists()
    schema = run_athena("export", "--schema")
    assert json.loads(schema.stdout) == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
