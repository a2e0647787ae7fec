"""User text becomes literal FTS5 terms, never FTS5 syntax."""

from __future__ import annotations

import pytest

from athena_mcp.store import fts
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.fts import MAX_QUERY_TERMS, MEMORIES, lexical_sql, match_expression, pooled_sql
from athena_mcp.store.memories import NewMemory
from tests.conftest import services_for


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What is the deploy schedule?", '"deploy" OR "schedule"'),
        ('NEAR(a b) "unbalanced', '"near" OR "b" OR "unbalanced"'),  # a, or: stopwords
        ("a* -b OR (c", '"b" OR "c"'),
        ("Robert'); DROP TABLE memories;--", '"robert" OR "drop" OR "table" OR "memories"'),
        ("the the THE", '"the"'),
        ("Café naïve", '"café" OR "naïve"'),
        ("What was Caroline's gift? I don't know", '"caroline" OR "gift" OR "know"'),  # 's, n't fragments
    ],
)
def test_queries_become_quoted_literal_terms(query, expected):
    assert match_expression(query) == expected


def test_text_without_words_searches_nothing():
    assert match_expression("?!* ()") is None


def test_long_queries_are_capped():
    expression = match_expression(" ".join(f"word{n}" for n in range(500)))
    assert expression is not None and expression.count(" OR ") == MAX_QUERY_TERMS - 1


async def test_the_lexical_search_is_driven_by_the_fts_index_not_by_a_scan_of_memories(settings, minilm):
    async with services_for(settings, minilm) as services:
        where, filter_params = MemoryFilter(namespaces=("default",)).memory_clause("m")
        sql, params = lexical_sql(MEMORIES, '"deploy"', where, filter_params, 10)
        plan = await services.database.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    steps = [row[3] for row in plan]
    assert steps[0].startswith("SCAN f VIRTUAL TABLE"), steps
    assert any("USING INTEGER PRIMARY KEY" in step for step in steps), steps


async def test_the_pooled_search_ranks_in_the_index_then_looks_memories_up_by_id(settings, minilm):
    async with services_for(settings, minilm) as services:
        where, filter_params = MemoryFilter(namespaces=("default",)).memory_clause("m")
        sql, params = pooled_sql(MEMORIES, ['"deploy"'], where, filter_params, 10, 200)
        plan = await services.database.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    steps = [row[3] for row in plan]
    assert any(step.startswith("SCAN memories_fts VIRTUAL TABLE") for step in steps), steps
    assert any("SEARCH m USING INTEGER PRIMARY KEY" in step for step in steps), steps


@pytest.mark.parametrize("pool", [2, 1000])
async def test_the_pooled_search_returns_exactly_what_the_full_join_returns(
    settings, minilm, monkeypatch, pool
):
    monkeypatch.setattr(fts, "MIN_POOL", pool)
    monkeypatch.setattr(fts, "POOL_FACTOR", 1)
    async with services_for(settings, minilm) as services:
        crowd = [
            NewMemory("episodic", "crowd", "message", f"deploy number {n} of the crowd") for n in range(40)
        ]
        few = [NewMemory("episodic", "few", "message", f"a quiet deploy {n}") for n in range(5)]
        await services.episodic.record(crowd + few)
        for namespace, k in (("few", 3), ("few", 10), ("crowd", 5)):
            memory_filter = MemoryFilter(namespaces=(namespace,))
            found = await fts.lexical_search(
                services.database, "deploy", memory_filter, k, fts.TermStatistics()
            )
            where, params = memory_filter.memory_clause("m")
            exact = await services.database.fetchall(*lexical_sql(MEMORIES, '"deploy"', where, params, k))
            assert [memory_id for memory_id, _ in found] == [row[0] for row in exact], (namespace, k)
            assert len(found) == min(k, 5 if namespace == "few" else 40)


async def _store_notes(services, texts: list[str], namespace: str = "default") -> None:
    await services.episodic.record([NewMemory("episodic", namespace, "message", text) for text in texts])


async def _whole_ranking(services, query: str, namespace: str, k: int) -> list[tuple[int, float]]:
    """Every match of every query term ranked: what lexical_search answered before common terms."""
    where, params = MemoryFilter(namespaces=(namespace,)).memory_clause("m")
    sql, values = lexical_sql(MEMORIES, match_expression(query) or "", where, params, k)
    return [(row[0], pytest.approx(-row[1])) for row in await services.database.fetchall(sql, values)]


# "deploy" is in 20 of the 71 texts: common above a share of 0.2, yet rare enough to score (its IDF
# is 0.92, not floored). "rollback" is in 7 of them.
NOTES = (
    [f"note about lunch {n}" for n in range(50)]
    + [f"deploy note {n}" for n in range(14)]
    + [f"deploy rollback {n}" + " padding" * n for n in range(6)]
    + ["rollback without the other word"]
)


async def test_a_common_term_ranks_the_texts_holding_a_rarer_one_but_brings_none_in(
    settings, minilm, monkeypatch
):
    """When the texts holding the rarer word fill the pool, only they are ranked, and each is scored
    on both words exactly as the whole ranking scores it."""
    monkeypatch.setattr(fts, "COMMON_SHARE", 0.2)
    monkeypatch.setattr(fts, "MIN_POOL", 4)
    monkeypatch.setattr(fts, "POOL_FACTOR", 1)
    issued: list[str] = []
    async with services_for(settings, minilm) as services:
        await _store_notes(services, NOTES)
        fetchall = services.database.fetchall

        async def recording(sql, params=()):
            if "WITH ranked" in sql:  # a ranking, not a term count
                issued.extend(value for value in params if "rollback" in str(value))
            return await fetchall(sql, params)

        monkeypatch.setattr(services.database, "fetchall", recording)
        found = await fts.lexical_search(
            services.database,
            "rollback deploy",
            MemoryFilter(namespaces=("default",)),
            4,
            fts.TermStatistics(),
        )
        assert issued == ['("rollback") AND ("deploy")', '("rollback") NOT ("deploy")']
        assert found == await _whole_ranking(services, "rollback deploy", "default", 4)
        contents = await services.database.fetchall(
            f"SELECT content FROM memories WHERE id IN ({', '.join('?' * len(found))})", [i for i, _ in found]
        )
        assert all("rollback" in row[0] for row in contents)


async def test_when_the_rarer_terms_are_held_by_few_texts_every_match_is_ranked(
    settings, minilm, monkeypatch
):
    monkeypatch.setattr(fts, "COMMON_SHARE", 0.2)
    monkeypatch.setattr(fts, "MIN_POOL", 8)
    monkeypatch.setattr(fts, "POOL_FACTOR", 1)
    async with services_for(settings, minilm) as services:
        await _store_notes(services, NOTES)
        statistics = fts.TermStatistics()
        memory_filter = MemoryFilter(namespaces=("default",))
        # Seven texts hold "rollback": the pool of eight cannot fill, so "deploy" brings texts in.
        found = await fts.lexical_search(services.database, "rollback deploy", memory_filter, 8, statistics)
        assert found == await _whole_ranking(services, "rollback deploy", "default", 8)
        only_common = await fts.lexical_search(services.database, "deploy", memory_filter, 8, statistics)
        assert only_common == await _whole_ranking(services, "deploy", "default", 8)


async def test_a_small_namespace_whose_texts_are_not_among_the_best_rare_matches_gets_every_match_ranked(
    settings, minilm, monkeypatch
):
    """The pool fills with another namespace's rare matches and holds one of this namespace's texts,
    fewer than k: its strong common-only text must still beat its weak rare one, as in the whole
    ranking."""
    monkeypatch.setattr(fts, "COMMON_SHARE", 0.2)
    monkeypatch.setattr(fts, "MIN_POOL", 4)
    monkeypatch.setattr(fts, "POOL_FACTOR", 1)
    async with services_for(settings, minilm) as services:
        await _store_notes(services, NOTES)
        await _store_notes(
            services,
            ["rollback deploy", "deploy deploy deploy", "rollback" + " and a long tail of other words" * 6],
            namespace="small",
        )
        found = await fts.lexical_search(
            services.database, "rollback deploy", MemoryFilter(namespaces=("small",)), 2, fts.TermStatistics()
        )
        whole = await _whole_ranking(services, "rollback deploy", "small", 2)
        assert found == whole and len(found) == 2
        second = await services.database.fetchone("SELECT content FROM memories WHERE id = ?", [found[1][0]])
        assert second is not None and second[0] == "deploy deploy deploy"
