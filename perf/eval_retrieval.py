"""Retrieval quality on LoCoMo and LongMemEval, for lexical-only, dense-only and hybrid search, and
hybrid search with graph expansion (retrieval/graph_expansion.py), beside plain BM25 (rank-bm25 over
the same documents) and with the calibration of the hybrid scores.

Documents are stored as episodic memories through the same store code as `record_events` (one
namespace per conversation or question, the session date as timestamp, the document key as
`source`), and every question is answered by the hybrid searcher behind `recall`. The data has no
curated entities: graph expansion follows the names the entity linker extracts from the turns.

LoCoMo is measured at three scales: whole conversations (about 600 turns a store), small stores of
facts (each conversation's observations, 170-320 statements, stored through `remember`), and tiny
stores of one session's turns (about 20). Calibration: of the hybrid hits in each top 10, the share
that is relevant among those scoring at least 0.25, 0.5 and 0.75, and how many hits a question gets
above each; a calibrated score keeps those alike at every scale.

    python -m perf.eval_retrieval locomo      [--data PATH] [--limit N] [--out FILE] [--cache DIR]
    python -m perf.eval_retrieval longmemeval [--data PATH] [--limit N] [--out FILE] [--cache DIR]

--limit N stops after about N questions (for a quick check). The data defaults to ../shared/eval, the
JSON report to perf/results/eval_<benchmark>.json. --cache DIR answers document and query vectors
from a perf/embedding_cache.py file the real model made earlier (read only; new texts go to the model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rank_bm25 import BM25Okapi

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.memory.semantic import FactDraft
from athena_mcp.retrieval.fusion import Signal
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store import fts
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.store.memories import NewMemory
from perf import eval_data, metrics
from perf.embedding_cache import CachedEmbedder
from perf.eval_data import Haystack, Question

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
DATA = {
    "locomo": EVAL_DIR / "locomo" / "locomo_dev.json",
    "longmemeval": EVAL_DIR / "longmemeval" / "longmemeval_s_dev.json.gz",
}
# mode -> (signals, graph expansion); "bm25" is rank-bm25, outside the product
MODES: dict[str, tuple[tuple[Signal, ...], bool]] = {
    "lexical": (("lexical",), False),
    "dense": (("dense",), False),
    "hybrid": (("lexical", "dense"), False),
    "hybrid+graph": (("lexical", "dense"), True),
}
BM25_BASELINE = "bm25"
CALIBRATED_MODE = "hybrid"
RELATIVE_MODE = "hybrid by relative"  # ordered by the relative score, as before calibration
THRESHOLDS = (0.25, 0.5, 0.75)
CALIBRATION_DEPTH = 10
INGEST_BATCH = 256
Scores = dict[str, float]
Scorer = Callable[[list[str], Question], Scores]


def locomo_scores(ranked: list[str], question: Question) -> Scores:
    scores = {"mrr": metrics.reciprocal_rank(ranked, question.relevant)}
    for k in (1, 5, 10, 25):
        scores[f"recall@{k}"] = metrics.recall_at(ranked, question.relevant, k)
        scores[f"any_hit@{k}"] = metrics.any_hit_at(ranked, question.relevant, k)
    return scores


def longmemeval_scores(ranked: list[str], question: Question) -> Scores:
    scores = {}
    for k in (1, 5, 10):
        scores[f"recall_any@{k}"] = metrics.any_hit_at(ranked, question.relevant, k)
        scores[f"recall_all@{k}"] = metrics.all_hit_at(ranked, question.relevant, k)
        scores[f"ndcg@{k}"] = metrics.ndcg_at(ranked, question.relevant, k)
    return scores


async def evaluate(
    services: Services, haystacks: Iterable[Haystack], scorer: Scorer, depth: int, limit: int | None = None
) -> dict[str, Any]:
    """Mean scores per mode, overall and per question category, and the hybrid scores' calibration."""
    per_question: dict[str, list[tuple[str, Scores]]] = defaultdict(list)
    scored_hits: dict[str, list[tuple[float, bool]]] = {"relative": [], "calibrated": []}
    asked = 0
    for haystack in haystacks:
        if limit is not None and asked >= limit:
            break
        await ingest(services, haystack)
        baseline = PlainBM25(haystack)
        for question in haystack.questions[: None if limit is None else limit - asked]:
            asked += 1
            per_question[BM25_BASELINE].append(
                (question.category, scorer(baseline.rank(question.query, depth), question))
            )
            for mode, (signals, expand) in MODES.items():
                hits = await rank(services, haystack, question, signals, depth, expand)
                per_question[mode].append((question.category, scorer([h.key for h in hits], question)))
                if mode == CALIBRATED_MODE:
                    # Before calibration, hits were ordered and scored by the relative score alone.
                    before = sorted(hits, key=lambda h: -h.relative)
                    per_question[RELATIVE_MODE].append(
                        (question.category, scorer([h.key for h in before], question))
                    )
                    for hit in hits[:CALIBRATION_DEPTH]:
                        scored_hits["calibrated"].append((hit.score, hit.key in question.relevant))
                    for hit in before[:CALIBRATION_DEPTH]:
                        scored_hits["relative"].append((hit.relative, hit.key in question.relevant))
    return {
        "questions": asked,
        "modes": {mode: summarise(rows) for mode, rows in per_question.items()},
        "calibration": {score: calibration(hits, asked) for score, hits in scored_hits.items()},
    }


class PlainBM25:
    """rank-bm25 (BM25Okapi) over a haystack's documents, with the store's query terms: the baseline."""

    def __init__(self, haystack: Haystack) -> None:
        self._keys = [document.key for document in haystack.documents]
        self._index = BM25Okapi(
            [fts.WORD.findall(document.content.lower()) for document in haystack.documents]
        )

    def rank(self, query: str, depth: int) -> list[str]:
        scores = self._index.get_scores(fts.query_terms(query))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [self._keys[i] for i in order[:depth] if scores[i] > 0]


def calibration(hits: list[tuple[float, bool]], questions: int) -> dict[str, Any]:
    """Per threshold: the share of hits scoring at least it that are relevant, and hits per question."""
    report = {}
    for threshold in THRESHOLDS:
        above = [relevant for score, relevant in hits if score >= threshold]
        report[f">={threshold}"] = {
            "precision": round(statistics.fmean(above), 4) if above else None,
            "hits_per_question": round(len(above) / max(questions, 1), 3),
        }
    return report


async def ingest(services: Services, haystack: Haystack) -> None:
    if haystack.kind == "fact":
        for document in haystack.documents:
            await services.semantic.remember(
                FactDraft(
                    content=document.content,
                    kind="fact",
                    namespace=haystack.name,
                    tags=(),
                    importance=0.5,
                    source=document.key,
                    occurred_at=document.timestamp,
                )
            )
        return
    events = [
        NewMemory(
            "episodic",
            haystack.name,
            "message",
            document.content,
            source=document.key,
            session_id=document.session,
            occurred_at=document.timestamp,
        )
        for document in haystack.documents
    ]
    for start in range(0, len(events), INGEST_BATCH):
        result = await services.episodic.record(events[start : start + INGEST_BATCH])
        if result.vectors != "stored":
            raise RuntimeError("the embedder failed during ingestion; dense figures would be wrong")
    await services.linker.run_until_caught_up()


def haystack_filter(haystack: Haystack) -> MemoryFilter:
    """The haystack's namespace, and the memory system its documents were stored in (see ingest)."""
    return MemoryFilter(
        namespaces=(haystack.name,), systems=("semantic" if haystack.kind == "fact" else "episodic",)
    )


@dataclass(frozen=True)
class RankedHit:
    key: str
    score: float  # the calibrated relevance recall reports
    relative: float  # the fused score over the best possible: what ordered and scored hits before


async def rank(
    services: Services,
    haystack: Haystack,
    question: Question,
    signals: tuple[Signal, ...],
    depth: int,
    expand: bool,
) -> list[RankedHit]:
    """The hits best first."""
    request = SearchRequest(
        question.query,
        haystack_filter(haystack),
        limit=depth,
        signals=signals,
        explain=True,
        expand_graph=expand,
        now=question.asked_at,
    )
    result = await services.search.search(request)
    return [
        RankedHit(hit.source or "", hit.score, (hit.explain.relative if hit.explain else None) or 0.0)
        for hit in result.results
    ]


def summarise(rows: list[tuple[str, Scores]]) -> dict[str, Any]:
    by_category: dict[str, list[Scores]] = defaultdict(list)
    for category, scores in rows:
        by_category[category].append(scores)
    return {
        "overall": mean_scores([scores for _, scores in rows]),
        "by_category": {
            category: mean_scores(found) | {"questions": len(found)}
            for category, found in sorted(by_category.items())
        },
    }


def mean_scores(rows: list[Scores]) -> Scores:
    return {name: round(statistics.fmean(row[name] for row in rows), 4) for name in rows[0]}


def table(report: dict[str, Any], columns: list[str]) -> str:
    lines = [f"{'':28}" + "".join(f"{column:>13}" for column in columns)]
    for mode, summary in report["modes"].items():
        lines.append(f"{mode + ' (all)':28}" + "".join(f"{summary['overall'][c]:>13.3f}" for c in columns))
        for category, scores in summary["by_category"].items():
            label = f"  {category} (n={scores['questions']})"
            lines.append(f"{label:28}" + "".join(f"{scores[c]:>13.3f}" for c in columns))
    return "\n".join(lines)


def calibration_table(report: dict[str, Any]) -> str:
    """Per threshold, for the relative score (before) and the calibrated one: the precision of the
    top-10 hits scoring at least it, and how many such hits a question gets."""
    header = "".join(f"{name + ': precision, hits/question':>40}" for name in report)
    lines = [f"{'score at least':16}{header}"]
    for threshold in THRESHOLDS:
        cells = []
        for figures in report.values():
            entry = figures[f">={threshold}"]
            precision = "-" if entry["precision"] is None else f"{entry['precision']:.3f}"
            cells.append(f"{precision + ', ' + format(entry['hits_per_question'], '.2f'):>40}")
        lines.append(f"  {threshold:<14}" + "".join(cells))
    return "\n".join(lines)


def side_by_side(report: dict[str, Any], base: str, other: str, columns: list[str]) -> str:
    """`base` against `other` per category: each column as base -> other (difference)."""
    first, second = report["modes"][base], report["modes"][other]
    rows = [("all", first["overall"], second["overall"])] + [
        (category, scores, second["by_category"][category])
        for category, scores in first["by_category"].items()
    ]
    lines = [f"{base} -> {other}" + "".join(f"{column:>26}" for column in columns)]
    for label, left, right in rows:
        cells = "".join(
            f"{f'{left[c]:.3f} -> {right[c]:.3f} ({right[c] - left[c]:+.3f})':>26}" for c in columns
        )
        lines.append(f"{'  ' + label:{len(lines[0]) - 26 * len(columns)}}" + cells)
    return "\n".join(lines)


def benchmark_runs(
    benchmark: str, path: Path
) -> Iterator[tuple[str, Iterable[Haystack], Scorer, int, list[str]]]:
    if benchmark == "locomo":
        columns = ["recall@5", "recall@10", "recall@25", "mrr"]
        yield ("locomo", eval_data.locomo(path), locomo_scores, 25, columns)
        yield ("locomo-facts", eval_data.locomo_facts(path), locomo_scores, 25, columns)
        yield (
            "locomo-sessions",
            eval_data.locomo_sessions(path),
            locomo_scores,
            10,
            ["recall@1", "recall@5", "mrr"],
        )
    else:
        for granularity in ("turn", "session"):
            yield (
                f"longmemeval-{granularity}",
                eval_data.longmemeval(path, granularity),
                longmemeval_scores,
                10,
                ["recall_any@5", "recall_all@5", "ndcg@5", "recall_any@10"],
            )


async def run(benchmark: str, path: Path, limit: int | None, embedder: Embedder) -> dict[str, Any]:
    """Evaluate every mode on one benchmark file; prints a table per run and returns the report."""
    report: dict[str, Any] = {
        "benchmark": benchmark,
        "data": str(path),
        "model": embedder.identity.model,
        "finished_at": None,
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="athena-eval-") as workdir:
        settings = Settings(db=Path(workdir) / "eval.db", toolsets=("all",))
        async with open_services(settings, embedder, background=False) as services:
            if not await services.embeddings.wait_ready():
                raise RuntimeError(f"the embedding model did not load: {services.embeddings.failure}")
            await services.vectors.load()  # dense search over the in-memory copy, as in the server
            for name, haystacks, scorer, depth, columns in benchmark_runs(benchmark, path):
                result = await evaluate(services, haystacks, scorer, depth, limit)
                report["runs"][name] = result
                print(f"\n{name}: {result['questions']} questions\n{table(result, columns)}")
                print("\n" + side_by_side(result, BM25_BASELINE, "hybrid", columns))
                print("\n" + side_by_side(result, "hybrid", "hybrid+graph", columns))
                print("\n" + side_by_side(result, RELATIVE_MODE, "hybrid", columns))
                print("\n" + calibration_table(result["calibration"]))
    report["finished_at"] = datetime.now(UTC).isoformat()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.eval_retrieval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("benchmark", choices=sorted(DATA))
    parser.add_argument("--data", type=Path, help="the benchmark file (default: ../shared/eval)")
    parser.add_argument("--limit", type=int, help="stop after about this many questions")
    parser.add_argument("--out", type=Path, help="JSON report (default: perf/results/eval_<benchmark>.json)")
    parser.add_argument("--cache", type=Path, help="a perf/embedding_cache.py folder to take vectors from")
    parser.add_argument(
        "--embedder", choices=("minilm", "minilm-torch"), default="minilm", help="the local embedder to use"
    )
    args = parser.parse_args(argv)
    path = args.data or DATA[args.benchmark]
    if not path.is_file():
        sys.exit(f"no {args.benchmark} data at {path}; pass --data PATH")
    out = args.out or Path("perf/results") / f"eval_{args.benchmark}.json"
    embedder = make_embedder(Settings(embedder=args.embedder))
    if args.cache is not None:
        embedder = CachedEmbedder(embedder, args.cache)
    report = asyncio.run(run(args.benchmark, path, args.limit, embedder))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
