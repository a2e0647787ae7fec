"""athena-mcp doctor finds each derived index out of step with the tables, and --repair rebuilds them."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from athena_mcp.store.driver import load_vector_extension, sqlite_module
from tests.conftest import call, open_client
from tests.stdio_server import ATHENA_MCP

pytestmark = pytest.mark.timeout(180)


def doctor(db: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ATHENA_MCP, "--db", str(db), "doctor", *flags],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def damage(db: Path, *statements: str) -> None:
    connection = sqlite_module().connect(str(db), isolation_level=None)
    try:
        load_vector_extension(connection)
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()


async def test_doctor_names_what_drifted_and_repair_rebuilds_it(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    db = tmp_path / "athena.db"
    async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
        fact = await call(client, "remember", content="The release train leaves on Thursdays")
        await call(client, "remember", content="Staging runs on the small cluster")
        await call(
            client,
            "create_entities",
            entities=[{"name": "Maria", "entityType": "person", "observations": []}],
        )
    healthy = doctor(db)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "FAIL" not in healthy.stdout

    damage(
        db,
        # A text index row for no memory, a memory whose vector is gone, an entity missing from search.
        "INSERT INTO memories_fts (rowid, content, tags) VALUES (999999, 'ghost words', '')",
        f"DELETE FROM memory_vectors WHERE rowid = {fact['id']}",
        "DELETE FROM graph_fts",
    )
    sick = doctor(db)
    assert sick.returncode == 1
    for check in ("text index", "vectors", "graph index"):
        assert f"FAIL {check}" in sick.stdout, sick.stdout
    assert "doctor --repair" in sick.stderr

    repaired = doctor(db, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "FAIL" not in repaired.stdout and "repaired" in repaired.stderr
    # The memory that lost its vector waits for one now, and search finds the entity again.
    assert "1 memories wait for their vector" in repaired.stdout
    async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
        found = await call(client, "search_nodes", query="Mari")
        assert [entity["name"] for entity in found["entities"]] == ["Maria"]
        ghost = await call(client, "recall", query="ghost words", memory_types=["semantic"])
        assert ghost["results"] == [] or all(hit["id"] != 999999 for hit in ghost["results"])


def test_a_damaged_file_is_not_repairable_and_says_to_restore(tmp_path: Path) -> None:
    db = tmp_path / "athena.db"
    assert doctor(db).returncode == 0
    data = bytearray(db.read_bytes())
    # Page 2 onwards holds the schema's tables: scribble over the middle of the file.
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(data))
    sick = doctor(db)
    assert sick.returncode == 1
    assert "FAIL integrity" in sick.stdout and "restore a backup" in sick.stderr


async def test_a_running_servers_searches_survive_a_repair_by_another_process(
    tmp_path: Path, minilm: MiniLMEmbedder
) -> None:
    db = tmp_path / "athena.db"
    async with open_client(Settings(db=db, toolsets=("all",)), minilm) as client:
        for n in range(30):
            await call(client, "remember", content=f"release train number {n} leaves on Thursday")
        before = await call(client, "recall", query="release train", memory_types=["semantic"], limit=5)
        repaired = await asyncio.to_thread(doctor, db, "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        after = await call(client, "recall", query="release train", memory_types=["semantic"], limit=5)
        assert [hit["id"] for hit in after["results"]] == [hit["id"] for hit in before["results"]]
        stored = await call(client, "remember", content="release train extra carriage")
        found = await call(client, "recall", query="extra carriage", memory_types=["semantic"], limit=1)
        assert found["results"][0]["id"] == stored["id"]
