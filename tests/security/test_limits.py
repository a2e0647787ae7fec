"""Limits beyond the core memories' (tests/tools/test_bad_input.py has those): the graph, procedural
and prospective toolsets refuse oversize text, huge lists and non-finite numbers naming the field and
the limit, and the HTTP embedder refuses vectors it cannot use."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from athena_mcp.embeddings.http import EmbeddingEndpointError, HttpEmbedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.settings import Settings
from tests.conftest import call_error, open_client
from tests.embeddings.test_http_embedder import QuietHandler, on_loopback, send_json
from tests.tools.test_bad_input import assert_refused

pytestmark = pytest.mark.timeout(120)


def entity(**overrides: Any) -> dict[str, Any]:
    return {"name": "Alice", "entityType": "person", "observations": ["likes tea"], **overrides}


def relation(**overrides: Any) -> dict[str, Any]:
    return {"from": "Alice", "to": "Bob", "relationType": "knows", **overrides}


# (tool, arguments, fragments the refusal must contain: the field, then the limit)
LIMITS = [
    ("create_entities", {"entities": [entity(name="n" * 501)]}, ("name", "500")),
    ("create_entities", {"entities": [entity(observations=["o" * 20_001])]}, ("observations", "20000")),
    ("create_entities", {"entities": [entity(observations=["o"] * 501)]}, ("observations", "500")),
    ("create_entities", {"entities": [entity(name=f"e{i}") for i in range(501)]}, ("entities", "500")),
    (
        "create_entities",
        {"entities": [entity(source_memory_ids=list(range(1, 102)))]},
        ("source_memory_ids", "100"),
    ),
    ("create_relations", {"relations": [relation(weight=1e7)]}, ("weight", "1000000")),
    ("create_relations", {"relations": [relation(weight=0)]}, ("weight", "greater than 0")),
    ("create_relations", {"relations": [relation(weight="NaN")]}, ("weight", "finite")),
    ("create_relations", {"relations": [relation(weight="Infinity")]}, ("weight", "finite")),
    ("create_relations", {"relations": [relation(relationType="r" * 201)]}, ("relationType", "200")),
    (
        "add_observations",
        {"observations": [{"entityName": "Alice", "contents": ["c" * 20_001]}]},
        ("contents", "20000"),
    ),
    ("search_nodes", {"query": "q" * 2_049}, ("query", "2048")),
    ("explore_graph", {"query": ""}, ("query", "at least 1")),
    ("open_nodes", {"names": [f"n{i}" for i in range(501)]}, ("names", "500")),
    ("find_path", {"source": "a", "target": "b", "max_depth": 7}, ("max_depth", "6")),
    (
        "find_neighbours",
        {"name": "a", "relation_types": [f"r{i}" for i in range(33)]},
        ("relation_types", "32"),
    ),
    ("save_procedure", {"name": "p", "goal": "g", "steps": ["s"] * 51}, ("steps", "50")),
    ("save_procedure", {"name": "p" * 201, "goal": "g", "steps": ["s"]}, ("name", "200")),
    ("save_procedure", {"name": "p", "goal": "g" * 2_001, "steps": ["s"]}, ("goal", "2000")),
    ("record_execution", {"id": 1, "outcome": "success", "duration": "NaN"}, ("duration", "finite")),
    ("record_execution", {"id": 1, "outcome": "success", "duration": 31_536_001}, ("duration", "31536000")),
    ("find_procedures", {"query": "q" * 2_001}, ("query", "2000")),
    ("create_task", {"title": "t", "notes": "n" * 20_001}, ("notes", "20000")),
    ("create_task", {"title": "t", "depends_on": list(range(1, 52))}, ("depends_on", "50")),
    ("create_trigger", {"kind": "after", "after_seconds": 316_224_001}, ("after_seconds", "316224000")),
    ("create_trigger", {"kind": "cron", "cron": "* " * 51}, ("cron", "100")),
    ("due", {"lookahead_minutes": 10_081}, ("lookahead_minutes", "10080")),
    ("dismiss", {"firing_ids": list(range(1, 502))}, ("firing_ids", "100")),
    ("consolidate", {"settle_seconds": "Infinity"}, ("settle_seconds", "finite")),
    ("undo_compaction", {"ids": list(range(1, 502))}, ("ids", "500")),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragments"),
    LIMITS,
    ids=[f"{tool}-{fragments[0]}" for tool, _, fragments in LIMITS],
)
async def test_a_crossed_limit_is_refused_naming_the_field_and_the_limit(
    settings: Settings,
    minilm: MiniLMEmbedder,
    tool: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
) -> None:
    async with open_client(settings, minilm) as client:
        message = await call_error(client, tool, **arguments)
    assert_refused(message, settings, *fragments)


@contextlib.contextmanager
def answering(body: bytes) -> Iterator[str]:
    """An embeddings endpoint on loopback that answers every request with `body`."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            send_json(self, body)

    with on_loopback(Handler) as url:
        yield url


def answer(*embeddings: str) -> bytes:
    data = ",".join(f'{{"index": {i}, "embedding": {e}}}' for i, e in enumerate(embeddings))
    return f'{{"data": [{data}]}}'.encode()


UNUSABLE_ANSWERS = {
    "nan": (answer("[NaN, 0.5]", "[0.5, 0.5]"), "NaN or infinite"),
    "infinity": (answer("[Infinity, 0.5]", "[0.5, 0.5]"), "NaN or infinite"),
    "beyond-float32": (answer("[1e39, 0.5]", "[0.5, 0.5]"), "NaN or infinite"),
    "null": (answer("[null, 0.5]", "[0.5, 0.5]"), "NaN or infinite"),
    "strings": (answer('["a", "b"]', '["c", "d"]'), "one list of numbers per text"),
    "ragged": (answer("[0.5]", "[0.5, 0.5]"), "one list of numbers per text"),
    "nested": (answer("[[0.5], [0.5]]", "[[0.5], [0.5]]"), "one list of numbers per text"),
    "one-vector-for-two-texts": (answer("[0.5, 0.5, 0.5, 0.5]"), "1 embeddings for 2 texts"),
    "too-many-vectors": (answer("[0.5, 0.5]", "[0.5, 0.5]", "[0.5, 0.5]"), "3 embeddings for 2 texts"),
}


@pytest.mark.parametrize("case", UNUSABLE_ANSWERS)
def test_an_embeddings_answer_the_server_cannot_use_is_refused_as_an_endpoint_error(case: str) -> None:
    body, fragment = UNUSABLE_ANSWERS[case]
    with answering(body) as url, pytest.raises(EmbeddingEndpointError, match=fragment):
        HttpEmbedder(url, "tiny", 2).embed(["first text", "second text"])
