"""`athena-mcp import-memory-json`: the reference MCP memory server's JSONL file imported into the
graph, checked through the graph tools. tests/data/reference_memory.jsonl is written as the
reference writes it (compact lines, key order type first, no final newline) and holds what its
files can hold: names differing only in case, a name on two lines, a relation to a missing entity,
an entity line without observations (0.6.2), an extra key, and non-ASCII text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.errors import InvalidInput, NotFound
from athena_mcp.importers.memory_file import read_memory_file
from athena_mcp.importers.memory_import import ImportSummary, import_memory_file
from athena_mcp.settings import Settings
from tests.conftest import call, open_client, services_for

pytestmark = pytest.mark.timeout(120)

SAMPLE = Path(__file__).parent / "data" / "reference_memory.jsonl"

# What the sample becomes: "alice" and the second "Bob" fold into the first line of their name.
ENTITIES = [
    {
        "name": "Alice",
        "entityType": "person",
        "observations": ["likes tea", "works at ACME", "plays the cello"],
    },
    {"name": "Bob", "entityType": "person", "observations": ["plays chess", "fixes bikes"]},
    {"name": "Zoë Müller", "entityType": "person", "observations": ["lives in 東京", "☕ before 9am"]},
    {"name": "ACME", "entityType": "organization", "observations": []},
    {"name": "Legacy", "entityType": "project", "observations": []},
    {"name": "Carol", "entityType": "person", "observations": ['Speaks "fluent" Esperanto']},
]
RELATIONS = [
    {"from": "Alice", "to": "Bob", "relationType": "knows"},
    {"from": "Alice", "to": "ACME", "relationType": "works_at"},
    {"from": "Zoë Müller", "to": "Alice", "relationType": "mentors"},
    {"from": "Bob", "to": "Legacy", "relationType": "maintains"},
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "athena_mcp", "import-memory-json", *args, "--log-level", "WARNING"],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def import_file(
    settings: Settings, minilm: MiniLMEmbedder, path: Path, namespace: str
) -> ImportSummary:
    memory_file = read_memory_file(path)
    async with services_for(settings, minilm) as services:
        return await import_memory_file(services.graph, services.database, namespace, memory_file)


def counts(summary: ImportSummary) -> tuple[int, ...]:
    return (
        summary.entities_created,
        summary.entities_skipped,
        summary.observations_added,
        summary.relations_created,
        summary.relations_skipped,
        len(summary.dangling),
    )


async def full_graph(client: Any, namespace: str = "default") -> dict[str, Any]:
    return await call(client, "read_graph", namespace=namespace, limit=500)


async def test_the_cli_imports_a_reference_file_that_the_graph_tools_then_serve(settings, minilm):
    done = run_cli(str(SAMPLE), "--db", str(settings.db))
    assert done.returncode == 0, done.stderr
    assert "entities: 6 created, 2 skipped" in done.stdout
    assert "observations: 8 added" in done.stdout
    assert "relations: 4 created, 1 skipped (already present), 1 dangling" in done.stdout
    assert "line 13: Alice -> Ghost (haunts)" in done.stdout
    async with open_client(settings, minilm) as client:
        graph = await full_graph(client)
        opened = await call(client, "open_nodes", names=["alice", "Ghost"])
        found = await call(client, "search_nodes", query="東京")
    assert (graph["entities"], graph["relations"], graph["next_cursor"]) == (ENTITIES, RELATIONS, None)
    assert opened["entities"] == ENTITIES[:1] and opened["relations"] == RELATIONS[:3]
    assert [e["name"] for e in found["entities"]] == ["Zoë Müller"]


def test_the_cli_refuses_a_bad_or_missing_file_with_a_reason_and_creates_nothing(tmp_path: Path):
    db = tmp_path / "athena.db"
    bad = tmp_path / "memory.jsonl"
    bad.write_text(SAMPLE.read_text("utf-8") + '\n{"type":"relation","from":"Alice","relationType":"knows"}')
    refused = run_cli(str(bad), "--db", str(db))
    missing = run_cli(str(tmp_path / "nope.jsonl"), "--db", str(db))
    assert refused.returncode != 0 and "line 15: to: Field required" in refused.stderr
    assert "nothing was imported" in refused.stderr and "Traceback" not in refused.stderr
    assert missing.returncode != 0 and "nope.jsonl: no such file" in missing.stderr
    assert refused.stdout == missing.stdout == "" and not db.exists()


async def test_importing_again_adds_only_what_is_missing(settings, minilm):
    first = await import_file(settings, minilm, SAMPLE, "default")
    async with open_client(settings, minilm) as client:
        before = await full_graph(client)
        await call(
            client, "delete_observations", deletions=[{"entityName": "Bob", "observations": ["fixes bikes"]}]
        )
    again = await import_file(settings, minilm, SAMPLE, "default")
    async with open_client(settings, minilm) as client:
        after = await full_graph(client)
    assert counts(first) == (6, 2, 8, 4, 1, 1)
    # Every entity and relation is skipped; only the observation deleted in between comes back.
    assert counts(again) == (0, 8, 1, 0, 5, 1)
    assert after == before


async def test_entities_already_in_the_graph_keep_their_type_and_gain_the_files_observations(
    settings, minilm
):
    async with open_client(settings, minilm) as client:
        await call(
            client,
            "create_entities",
            entities=[{"name": "ALICE", "entityType": "cat", "observations": ["purrs", "likes tea"]}],
            namespace="work",
        )
    summary = await import_file(settings, minilm, SAMPLE, "work")
    async with open_client(settings, minilm) as client:
        alice = await call(client, "open_nodes", names=["Alice"], namespace="work")
        default = await full_graph(client)
    assert counts(summary) == (5, 3, 7, 4, 1, 1)
    assert alice["entities"] == [
        {
            "name": "ALICE",
            "entityType": "cat",
            "observations": ["purrs", "likes tea", "works at ACME", "plays the cello"],
        }
    ]
    assert default["entities"] == []


def test_variants_written_by_other_releases_or_hand_editing_are_read(tmp_path: Path):
    path = tmp_path / "memory.json"
    lines = [
        '{"type":"entity","name":"Old","entityType":"thing"}',
        "   ",
        '{"type":"entity","name":"Extra","entityType":"thing","observations":["x"],"id":7,"type2":1}',
        '{"relationType":"uses","to":"Extra","type":"relation","from":"Old","weight":2}',
    ]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n\n").encode())
    memory_file = read_memory_file(path)
    assert [(e.name, e.entity_type, e.observations) for e in memory_file.entities] == [
        ("Old", "thing", ()),
        ("Extra", "thing", ("x",)),
    ]
    [relation] = memory_file.relations
    assert (relation.line, relation.key.source, relation.key.target, relation.key.relation_type) == (
        4,
        "Old",
        "Extra",
        "uses",
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"type":"entity","name":"A","entityType":"t"', "line 2: not JSON"),
        ('["entity"]', "line 2: not a JSON object"),
        ('{"name":"A","entityType":"t","observations":[]}', "line 2: type: missing"),
        ('{"type":"observation","name":"A"}', 'line 2: type: got "observation"'),
        ('{"type":"entity","name":"' + "n" * 501 + '","entityType":"t","observations":[]}', "line 2: name:"),
        ('{"type":"entity","name":"A","entityType":"' + "t" * 201 + '"}', "line 2: entityType:"),
        ('{"type":"entity","name":"A","entityType":"t","observations":["ok",""]}', "line 2: observations[1]"),
        ('{"type":"entity","name":"A","entityType":"t","observations":["' + "o" * 20_001 + '"]}', "20000"),
        ('{"type":"entity","name":"A","entityType":"t","observations":[7]}', "line 2: observations[0]"),
        ('{"type":"relation","from":"A","to":" ","relationType":"r"}', "line 2: to:"),
        ('{"type":"relation","from":"A","to":"B"}', "line 2: relationType: Field required"),
    ],
)
def test_a_bad_line_is_refused_naming_its_number_and_field(tmp_path: Path, line: str, fragment: str):
    path = tmp_path / "memory.jsonl"
    path.write_text('{"type":"entity","name":"Fine","entityType":"t","observations":[]}\n' + line, "utf-8")
    with pytest.raises(InvalidInput) as refused:
        read_memory_file(path)
    assert fragment in str(refused.value) and "1 problem(s); nothing was imported" in str(refused.value)


def test_a_file_that_is_not_utf8_or_not_there_is_refused(tmp_path: Path):
    path = tmp_path / "memory.jsonl"
    path.write_bytes(b'{"type":"entity","name":"A","entityType":"t","observations":[]}\n{"name":"\xff"}')
    with pytest.raises(InvalidInput, match="line 2 is not UTF-8"):
        read_memory_file(path)
    with pytest.raises(NotFound, match="MEMORY_FILE_PATH"):
        read_memory_file(tmp_path / "missing.jsonl")


async def test_a_large_file_is_written_in_batches_with_every_relation(settings, minilm, tmp_path: Path):
    path = tmp_path / "memory.jsonl"
    entities = [
        f'{{"type":"entity","name":"E{n}","entityType":"t","observations":["o{n}"]}}' for n in range(1200)
    ]
    relations = [
        f'{{"type":"relation","from":"E{n}","to":"E{n + 1}","relationType":"next"}}' for n in range(1199)
    ]
    path.write_text("\n".join(entities + relations), "utf-8")
    summary = await import_file(settings, minilm, path, "big")
    async with open_client(settings, minilm) as client:
        end = await call(client, "open_nodes", names=["E1199", "E600"], namespace="big")
    assert counts(summary) == (1200, 0, 1200, 1199, 0, 0)
    assert [e["name"] for e in end["entities"]] == ["E600", "E1199"]
    assert len(end["relations"]) == 3
