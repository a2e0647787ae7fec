"""User text becomes literal FTS5 terms, never FTS5 syntax."""

from __future__ import annotations

import pytest

from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.fts import MAX_QUERY_TERMS, lexical_sql, match_expression
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
        sql, params = lexical_sql('"deploy"', MemoryFilter(namespaces=("default",)), 10)
        plan = await services.database.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    steps = [row[3] for row in plan]
    assert steps[0].startswith("SCAN f VIRTUAL TABLE"), steps
    assert any("USING INTEGER PRIMARY KEY" in step for step in steps), steps
