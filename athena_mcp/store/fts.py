"""Lexical search: SQLite FTS5 with BM25 over the memories' content and tags, and for an event the
text of the events just before it in its session (memories.refresh_preceding), weighted lower.

User text is never passed to FTS5 as query syntax (a model's raw text is often malformed FTS5:
quotes, `NEAR`, `*`, `-`, unbalanced parentheses). It is cut into word tokens, each quoted as a
literal, and OR-ed so BM25 ranks partial matches instead of demanding every word.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from athena_mcp.store.database import Database, Row
from athena_mcp.store.filters import MemoryFilter

WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64
# Matches ranked by the index alone before the filter, as a multiple of k (see lexical_search).
POOL_FACTOR = 4
MIN_POOL = 200

# Function words carry no meaning for ranking and make an OR query match nearly every row. The last
# lines hold the fragments that apostrophes leave ("Caroline's" -> "caroline", "s"; "don't" ->
# "don", "t"): "s" alone matched a fifth of a 100k store and made a search four times slower.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves
    s t d ll m o re ve y
    ain aren couldn didn doesn don hadn hasn haven isn mightn mustn needn shan shouldn wasn weren wouldn
    """.split()
)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query that rank: stopwords dropped unless nothing else is left."""
    terms = list(dict.fromkeys(WORD.findall(query.lower())))
    return ([term for term in terms if term not in STOPWORDS] or terms)[:MAX_QUERY_TERMS]


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH expression of quoted literal terms, or None when the text has no words."""
    terms = query_terms(query)
    return any_of(terms) if terms else None


def any_of(terms: Sequence[str]) -> str:
    """An FTS5 expression matching a text that holds any of `terms` (words, quoted as literals)."""
    return " OR ".join(f'"{term}"' for term in terms)


@dataclass(frozen=True)
class RankedIndex:
    """An FTS5 index over a table's rows by rowid = id, with its BM25 column weights."""

    fts: str
    table: str
    alias: str
    weights: str


MEMORIES = RankedIndex("memories_fts", "memories", "m", "1.0, 0.5, 0.3")  # content, tags, preceding
# FTS5's BM25 constant: a term's contribution approaches idf * (K1 + 1) as it repeats in a short text.
K1 = 1.2
# A query term held by more than this share of the index's texts is common: when the query's rarer
# terms bring enough texts in, it adds to their scores but brings none of its own (lexical_search).
COMMON_SHARE = 0.01


async def lexical_search(
    database: Database, query: str, memory_filter: MemoryFilter, k: int, statistics: TermStatistics
) -> list[tuple[int, float]]:
    """Top-k active memories by BM25 that pass the filter: (memory id, BM25 score, higher is better).

    FTS5 scores every text that holds any query term, and a common term is in thousands of them
    (with the preceding text, each event's words are in three texts). So the texts holding the
    query's rarer terms are ranked first, on their own, each still scored on every query term (two
    queries: those that also hold a common term, and those that hold none). When the index's best of
    them fill the pool and k of those pass the filter, they are the answer: a text holding only
    common terms, none of the words that set the query apart, is left out, though it could have
    outscored the last of them. Otherwise (few rare matches, a namespace with fewer than k texts
    among the best, every term common) every match is ranked, as before. The scores are FTS5's own either
    way. At 100k memories the top 10 took 1.7 ms instead of 4.0, and the LoCoMo questions' evidence
    was found as often (perf.bench_core)."""
    terms = query_terms(query)
    if not terms:
        return []
    where, params = memory_filter.memory_clause(MEMORIES.alias)
    total, counts = await statistics.counts(database, terms)
    common = [term for term in terms if counts[term] > COMMON_SHARE * total]
    rare = [term for term in terms if term not in common]
    pool = pool_size(k)
    # The rare terms' counts bound how many texts they bring in: below the pool it cannot fill.
    if common and sum(counts[term] for term in rare) >= pool:
        narrowed = (
            f"({any_of(rare)}) AND ({any_of(common)})",
            f"({any_of(rare)}) NOT ({any_of(common)})",
        )
        rows = await database.fetchall(*pooled_sql(MEMORIES, narrowed, where, params, k, pool))
        if len(rows) == k and rows[0][2] >= pool:
            return _scored(rows)
    return await ranked_matches(database, MEMORIES, any_of(terms), where, params, k)


def pool_size(k: int) -> int:
    """How many of its best matches the index ranks before the filter is applied (ranked_matches)."""
    return max(k * POOL_FACTOR, MIN_POOL)


class TermStatistics:
    """How many texts of the memories' index hold each query term: what ranking needs besides the
    matches.

    - `best_possible`: the BM25 score no text can reach for a query, each term's IDF (as FTS5 computes
      it, over the whole index) times K1 + 1. A match's score divided by it is how much of the query
      it holds, rare terms counting most, whatever the store's size: a calibrated lexical signal.
    - which terms are common, that lexical_search does not let bring texts in on their own.

    Each term's count (a walk of its matches, up to 0.5 ms for a common term at 100k) is kept until
    the index has grown or shrunk by a hundredth: IDF moves little meanwhile. The index's size is
    read again at most every TOTAL_SECONDS while every term asked for is known, so that a search
    whose terms are all known makes no round trip for them."""

    MAX_TERMS = 4096
    DRIFT = 0.01
    TOTAL_SECONDS = 1.0

    def __init__(self) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._total = 0  # the index's size when the kept counts were taken
        self._latest = 0  # and when it was last read, at _read_at (time.monotonic)
        self._read_at = -math.inf

    async def best_possible(self, database: Database, query: str) -> float:
        terms = query_terms(query)
        if not terms:
            return 0.0
        total, counts = await self.counts(database, terms)
        return (K1 + 1) * sum(_idf(min(counts[term], total), total) for term in terms)

    async def counts(self, database: Database, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of texts in the index, and how many hold each of `terms`: no round trip when
        all are known and the size was read within TOTAL_SECONDS, else one, unless the index has
        drifted and the kept counts must be taken again."""
        # A local copy: another search of this process may clear the cache while this one waits.
        counts = {term: self._counts[term] for term in terms if term in self._counts}
        missing = [term for term in terms if term not in counts]
        if not missing and time.monotonic() - self._read_at < self.TOTAL_SECONDS:
            return self._latest, counts
        total, fresh = await self._count(database, missing)
        if abs(total - self._total) > self.DRIFT * self._total:
            self._counts.clear()
            self._total = total
            if counts:
                total, recounted = await self._count(database, list(counts))
                fresh.update(recounted)
        self._latest, self._read_at = total, time.monotonic()
        counts.update(fresh)
        self._counts.update(fresh)
        for term in terms:
            if term in self._counts:  # another search may have cleared them meanwhile
                self._counts.move_to_end(term)
        while len(self._counts) > self.MAX_TERMS:
            self._counts.popitem(last=False)
        return total, counts

    async def _count(self, database: Database, terms: list[str]) -> tuple[int, dict[str, int]]:
        fts_table = MEMORIES.fts
        subqueries = [
            f"(SELECT count(*) FROM {fts_table}_docsize)",
            *(f"(SELECT count(*) FROM {fts_table} WHERE {fts_table} MATCH ?)" for _ in terms),
        ]
        row = await database.fetchone(f"SELECT {', '.join(subqueries)}", [f'"{term}"' for term in terms])
        assert row is not None  # a SELECT without FROM always returns its row
        total, *matches = (int(n) for n in row)
        return total, dict(zip(terms, matches, strict=True))


def _idf(matches: int, total: int) -> float:
    """FTS5's IDF, floored as FTS5 floors it, so that a term in over half the texts still counts a
    little. `matches` is at most `total` (other processes write between the two counts)."""
    return max(1e-6, math.log((total - matches + 0.5) / (matches + 0.5)))


async def ranked_matches(
    database: Database, index: RankedIndex, expression: str, where: str, params: list[Any], k: int
) -> list[tuple[int, float]]:
    """Top-k rows of `index` matching `expression` that pass `where`: (id, BM25 score, higher is better).

    The index ranks its best POOL_FACTOR * k matches on its own first, and only those are checked
    against the filter: joining every match to its row doubled the cost of a memory search at 100k
    (p95 18 ms against 8). When fewer than k of them pass (a small namespace in a large store) and
    there were more matches, the exact join answers instead; both give the same top k."""
    pool = pool_size(k)
    rows = await database.fetchall(*pooled_sql(index, [expression], where, params, k, pool))
    if len(rows) < k and (not rows or rows[0][2] >= pool):
        rows = await database.fetchall(*lexical_sql(index, expression, where, params, k))
    return _scored(rows)


def _scored(rows: Sequence[Row]) -> list[tuple[int, float]]:
    # FTS5's bm25() is negated so that smaller sorts first; flip it back to "higher is better".
    return [(int(row[0]), -float(row[1])) for row in rows]


def pooled_sql(
    index: RankedIndex, expressions: Sequence[str], where: str, params: list[Any], k: int, pool: int
) -> tuple[str, list[Any]]:
    """The best `pool` matches by BM25, then the k best of those that pass the filter, each row
    with the number of matches ranked (the pool was full when it equals `pool`). CROSS JOIN keeps the
    ranked matches as the outer loop; left to itself the planner walks the namespace's rows."""
    matches = " UNION ALL ".join(
        f"SELECT rowid AS id, bm25({index.fts}, {index.weights}) AS rank FROM {index.fts} "
        f"WHERE {index.fts} MATCH ?"
        for _ in expressions
    )
    sql = (
        f"WITH ranked AS MATERIALIZED (SELECT id, rank FROM ({matches}) ORDER BY rank LIMIT ?) "
        "SELECT r.id, r.rank, (SELECT count(*) FROM ranked) FROM ranked r "
        f"CROSS JOIN {index.table} {index.alias} ON {index.alias}.id = r.id WHERE {where} "
        "ORDER BY r.rank LIMIT ?"
    )
    return sql, [*expressions, pool, *params, k]


def lexical_sql(
    index: RankedIndex, expression: str, where: str, params: list[Any], k: int
) -> tuple[str, list[Any]]:
    """Every match joined to its row and filtered, then the k best by BM25."""
    # CROSS JOIN pins the FTS index as the outer loop. With a plain JOIN the planner may walk every
    # memory of the namespace and probe the FTS index once per row: 583 ms instead of 5 ms at 10k.
    sql = (
        f"SELECT f.rowid, bm25({index.fts}, {index.weights}) AS rank FROM {index.fts} f "
        f"CROSS JOIN {index.table} {index.alias} ON {index.alias}.id = f.rowid "
        f"WHERE {index.fts} MATCH ? AND {where} ORDER BY rank LIMIT ?"
    )
    return sql, [expression, *params, k]
