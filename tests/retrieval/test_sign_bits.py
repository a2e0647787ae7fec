"""The sign-bit first pass: distances as a plain count says, shortlists that keep ties, and a copy that
searches through it returning what the exact search (vec0) returns."""

from __future__ import annotations

import numpy as np
import pytest

from athena_mcp.models import EmbeddingIdentity
from athena_mcp.retrieval import vector_mirror
from athena_mcp.retrieval.sign_bits import hamming, pack_signs, shortlist
from athena_mcp.settings import Settings
from athena_mcp.store import vectors
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory
from tests.conftest import services_for

DIMENSION = 384
TOPICS = 60
PER_TOPIC = 50


def test_the_distance_is_the_number_of_differing_signs():
    rng = np.random.default_rng(1)
    stored = rng.standard_normal((300, 100)).astype(np.float32)  # 100 signs: the last word is partial
    query = rng.standard_normal(100).astype(np.float32)
    expected = ((stored > 0) != (query > 0)).sum(axis=1)
    found = hamming(pack_signs(stored), pack_signs(query[np.newaxis])[:, 0])
    assert found.tolist() == expected.tolist()


def test_a_shortlist_keeps_every_tie_at_its_cut_and_only_allowed_slots():
    distances = np.array([5, 1, 3, 3, 3, 0, 9, 2], dtype=np.uint16)
    allowed = np.array([True, True, True, True, True, False, True, True])
    assert shortlist(distances, allowed, 3).tolist() == [1, 2, 3, 4, 7]  # 1, 2, then all three 3s
    assert shortlist(distances, allowed, 2).tolist() == [1, 7]
    assert shortlist(distances, allowed, 50).tolist() == [0, 1, 2, 3, 4, 6, 7]
    assert shortlist(distances, np.zeros(8, dtype=bool), 3).tolist() == []


class TopicVectors:
    """Unit vectors around TOPICS random directions, a memory's text naming its vector ("v12"); any
    other text (a query) gets a vector near the topic it names ("near 7")."""

    identity = EmbeddingIdentity("test/topics-384", DIMENSION)
    loaded = True

    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.centres = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
        noise = rng.standard_normal((TOPICS * PER_TOPIC, DIMENSION)).astype(np.float32)
        self.stored = unit(np.repeat(self.centres, PER_TOPIC, axis=0) + 0.8 * noise)
        self.query_noise = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)

    def load(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vector(text) for text in texts])

    def vector(self, text: str) -> np.ndarray:
        kind, number = text.split()
        if kind == "v":
            return self.stored[int(number)]
        topic = int(number)
        return unit(self.centres[topic] + 0.8 * self.query_noise[topic])


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


async def test_past_the_rescored_count_the_first_pass_finds_the_exact_nearest(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    # 3,000 vectors and a shortlist of 300: the first pass decides which tenth is scored exactly.
    monkeypatch.setattr(vector_mirror, "RESCORED", 300)
    embedder = TopicVectors()
    async with services_for(settings, embedder) as services:
        memories = [
            NewMemory(
                "episodic",
                "work" if n % 2 else "home",
                "message",
                f"v {n}",
                tags=("urgent",) if n % 3 == 0 else (),
            )
            for n in range(TOPICS * PER_TOPIC)
        ]
        for start in range(0, len(memories), 500):
            await services.episodic.record(memories[start : start + 500])
        await services.vectors.load()
        # Each k within the memories of the query's topic that pass: beyond them come vectors at
        # right angles to the query, whose order the signs do not tell (nor does it matter).
        searches = [
            (MemoryFilter(namespaces=("work", "home")), 50),
            (MemoryFilter(namespaces=("work",)), 25),
            (MemoryFilter(namespaces=("work", "home"), tags=("urgent",)), 15),  # tags: checked by SQL
        ]
        for topic in range(0, TOPICS, 6):
            query = embedder.vector(f"near {topic}")
            for memory_filter, k in searches:
                exact = await vectors.nearest(services.database, query, memory_filter, k)
                found = await services.vectors.nearest(query, memory_filter, k)
                assert [mid for mid, _ in found] == [mid for mid, _ in exact], (topic, memory_filter)
                assert np.allclose([s for _, s in found], [s for _, s in exact], atol=1e-5)
