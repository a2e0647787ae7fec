"""Calibrated relevance: a weak match scores low however few memories there are; BM25's ceiling."""

from __future__ import annotations

import math

import pytest

from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.memory.semantic import FactDraft
from athena_mcp.retrieval.calibration import Evidence
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.settings import Settings
from athena_mcp.store import fts
from athena_mcp.store.filters import MemoryFilter
from tests.conftest import services_for

# A new user's project facts: the store where min-max rescaling gave a weak keyword hit a full score.
FACTS = [
    "The app is hosted on Fly.io in the Frankfurt region.",
    "Feature flags are managed with Unleash, self-hosted.",
    "API keys and passwords are kept in Doppler, never in the repository.",
    "The public API is versioned under /api/v2; v1 was retired in March.",
    "Maria Lopez reviews all database migrations before they are merged.",
    "CI runs on GitHub Actions; the test job takes about six minutes.",
    "The frontend is written in TypeScript with React and Vite.",
    "Postgres 16 is the main database; Redis caches sessions.",
    "Releases go out on Tuesdays after the staging smoke test passes.",
    "Error tracking is done with Sentry, alerts go to the #oncall channel.",
]


async def search(services, query: str):
    request = SearchRequest(query, MemoryFilter(namespaces=("default",), systems=("semantic",)), explain=True)
    return (await services.search.search(request)).results


async def test_a_good_match_clears_a_half_and_an_unrelated_question_does_not(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with services_for(settings, minilm) as services:
        for fact in FACTS:
            await services.semantic.remember(FactDraft(fact, "fact", "default", (), 0.5, None, None))
        # The min-max scores gave the best keyword hit 0.87 here, and the Fly.io fact only 0.33.
        hosted = await search(services, "Where is the app hosted?")
        assert "Fly.io" in hosted[0].content and hosted[0].score >= 0.4
        assert all(hit.score < 0.05 for hit in hosted[1:])
        secrets = await search(services, "Where do we keep API keys and passwords?")
        assert "Doppler" in secrets[0].content and secrets[0].score >= 0.3
        # Nothing stored is about these: the best is still first, but every score is low.
        for question in ("What is the capital of Australia?", "recipe for banana bread"):
            unrelated = await search(services, question)
            assert unrelated and all(hit.score < 0.05 for hit in unrelated)
        for hit in [*hosted, *secrets]:
            assert hit.explain is not None and hit.explain.relative is not None
            assert hit.score == pytest.approx(Evidence(hit.explain.coverage, hit.explain.relative).relevance)


async def test_the_best_possible_bm25_follows_fts5s_idf(settings: Settings, minilm: MiniLMEmbedder):
    async with services_for(settings, minilm) as services:
        for n in range(10):
            text = f"note {n} about rollouts" if n < 3 else f"note {n} about lunch"
            await services.semantic.remember(FactDraft(text, "fact", "default", (), 0.5, None, None))
        scores = fts.TermStatistics()
        best = await scores.best_possible(services.database, "rollouts note")
        # "rollouts" in 3 of 10 texts; "note" in all 10 (IDF floored, as FTS5 floors it).
        expected = (fts.K1 + 1) * (math.log((10 - 3 + 0.5) / (3 + 0.5)) + 1e-6)
        assert best == pytest.approx(expected)
        assert await scores.best_possible(services.database, "note") == pytest.approx((fts.K1 + 1) * 1e-6)
        assert await scores.best_possible(services.database, "?!") == 0.0
        # Counts are kept until the index changes by more than a hundredth; then counted afresh. The
        # index's size is read again only once TOTAL_SECONDS have passed.
        scores.TOTAL_SECONDS = 60.0
        before = await scores.best_possible(services.database, "rollouts note")
        await services.semantic.remember(FactDraft("rollouts again", "fact", "default", (), 0.5, None, None))
        assert await scores.best_possible(services.database, "rollouts note") == before
        scores.TOTAL_SECONDS = 0.0
        expected = (fts.K1 + 1) * (math.log((11 - 4 + 0.5) / (4 + 0.5)) + 1e-6)
        assert await scores.best_possible(services.database, "rollouts note") == pytest.approx(expected)
        [top, *_] = await search(services, "rollouts")
        assert top.explain is not None and 0 < top.explain.coverage < 1


async def test_a_count_taken_after_other_processes_wrote_never_breaks_the_score(
    settings: Settings, minilm: MiniLMEmbedder
):
    async with services_for(settings, minilm) as services:
        for n in range(10):
            await services.semantic.remember(
                FactDraft(f"editor note {n}", "fact", "default", (), 0.5, None, None)
            )
        scores = fts.TermStatistics()
        await scores.best_possible(services.database, "editor")
        # As when another server wrote between this one's two counts: more matches than texts.
        scores._counts["editor"] = 12
        assert await scores.best_possible(services.database, "editor") == pytest.approx((fts.K1 + 1) * 1e-6)
