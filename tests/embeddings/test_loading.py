"""While the model loads, calls that need it wait for it (up to `embedding_load_wait`); past that
bound searches go lexical-only and writes queue their vectors."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import numpy as np

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.models import EmbeddingIdentity
from tests.conftest import call, open_client, wait_for
from tests.tools.test_tool_contract import ALL_TOOLS


class GatedEmbedder:
    """The real model, whose loading waits until the test opens the gate."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self._loaded = False

    @property
    def identity(self) -> EmbeddingIdentity:
        return self.inner.identity

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self) -> None:
        if not self.gate.wait(timeout=60):
            raise TimeoutError("gate never opened")
        self._loaded = True

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)


class BrokenEmbedder(GatedEmbedder):
    def load(self) -> None:
        raise RuntimeError("weights file is corrupt")


async def test_a_call_made_while_the_model_loads_waits_for_it(settings, minilm):
    embedder = GatedEmbedder(minilm)
    async with open_client(settings, embedder) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == ALL_TOOLS  # answered at once
        asyncio.get_running_loop().call_later(0.3, embedder.gate.set)
        found = await call(client, "recall", query="how many processors does CI have?")
        assert found["mode"] == "hybrid" and found.get("notice") is None
        first = await call(client, "remember", content="Our CI runs on two cores")
        twin = await call(client, "remember", content="Our CI runs on 2 cores.")
        assert first["vector"] == twin["vector"] == "stored"
        assert [s["id"] for s in twin["similar"]] == [first["id"]]


async def test_past_the_wait_tools_answer_without_the_model_and_vectors_follow(settings, minilm):
    embedder = GatedEmbedder(minilm)
    async with open_client(dataclasses.replace(settings, embedding_load_wait=0.2), embedder) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == ALL_TOOLS
        stored = await call(client, "remember", content="Our CI runs on two cores")
        assert stored["vector"] == "pending"
        events = await call(client, "record_events", events=[{"content": "Started the nightly build"}])
        assert events["vectors"] == "pending"

        lexical = await call(client, "recall", query="CI cores")
        assert lexical["mode"] == "lexical" and "loading" in lexical["notice"]
        assert [h["id"] for h in lexical["results"]] == [stored["id"]]

        embedder.gate.set()

        async def hybrid_finds_by_meaning() -> bool:
            result = await call(
                client, "recall", query="how many processors does continuous integration have?"
            )
            # No word in common with the memory: only its (backlog-computed) vector can find it.
            return result["mode"] == "hybrid" and any(h["id"] == stored["id"] for h in result["results"])

        await wait_for(hybrid_finds_by_meaning)
        explained = await call(
            client, "recall", query="how many processors does continuous integration have?", explain=True
        )
        assert explained["results"][0]["explain"]["dense"] is not None  # the backlog vector was written


async def test_a_model_that_fails_to_load_leaves_lexical_search_working(settings, minilm):
    async with open_client(settings, BrokenEmbedder(minilm)) as client:
        stored = await call(client, "remember", content="Fallback search still works")
        results = []

        async def load_has_failed() -> bool:
            results.append(await call(client, "recall", query="fallback search"))
            return "failed to load" in results[-1]["notice"]  # until then it says "still loading"

        await wait_for(load_has_failed)
        result = results[-1]
        assert [h["id"] for h in result["results"]] == [stored["id"]]
        assert result["mode"] == "lexical"
        assert "corrupt" not in result["notice"]  # internal details stay in the server log


async def test_a_fact_stored_before_its_vector_gets_its_near_duplicate_check_later(settings, minilm):
    embedder = GatedEmbedder(minilm)
    async with open_client(dataclasses.replace(settings, embedding_load_wait=0.2), embedder) as client:
        first = await call(client, "remember", content="The user prefers dark mode in every editor")
        twin = await call(client, "remember", content="The user prefers dark mode in all editors")
        alone = "The user prefers dark mode in every editor"  # in a namespace of its own
        await call(client, "remember", content=alone, namespace="other")
        assert first["vector"] == twin["vector"] == "pending" and twin["similar"] == []
        embedder.gate.set()

        notes: list[str] = []

        async def noted() -> bool:
            elsewhere = await client.call_tool("recall", {"query": "dark mode", "namespace": "other"})
            assert "near-duplicate" not in elsewhere.content[0].text  # its fact has no twin there
            answer = await client.call_tool("recall", {"query": "dark mode"})
            notes.extend(line for line in answer.content[0].text.splitlines() if "near-duplicate" in line)
            return bool(notes)

        await wait_for(noted)
        assert len(notes) == 1  # the pair once, though both facts owed a check
        assert f"[{first['id']}]" in notes[0] and f"[{twin['id']}]" in notes[0]
        again = await client.call_tool("recall", {"query": "dark mode"})
        assert "near-duplicate" not in again.content[0].text, (notes, again.content[0].text)  # reported once
