"""Evidence per token: a briefing on the question against plain `recall` cut to the same tokens.

    python -m perf.eval_briefing [--data PATH] [--limit N] [--cache DIR] [--out FILE]

LoCoMo's dev conversations are stored as in perf/eval_retrieval.py (every dialog turn an event;
and, as the small-store scale, each conversation's observations stored as facts). For each question
and each budget (500, 1,000 and 2,000 tokens): the briefing `brief` gives with the question as its
task, and the text `recall` gives (its hits as the tool renders them, one line each) cut to the
same number of tokens, both counted by the briefing's tokenizer. Evidence recall is the share of the
question's evidence turns that the text shows; evidence per 1k tokens divides it by the tokens
spent. A near-duplicate merged into a shown item counts only in the `with_merged` figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from athena_mcp.briefing.models import BriefingRequest
from athena_mcp.briefing.tokens import count_tokens
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store.memories import get_memories
from athena_mcp.tools.render import memory_line
from perf import eval_data
from perf.embedding_cache import CachedEmbedder
from perf.eval_data import Haystack, Question
from perf.eval_retrieval import DATA, haystack_filter, ingest

BUDGETS = (500, 1000, 2000)
RECALL_DEPTH = 100  # more hits than any budget holds: the cut is by tokens


async def recall_text(
    services: Services, haystack: Haystack, question: Question, budget: int
) -> tuple[set[int], int]:
    """The ids of the hits `recall`'s text shows within `budget` tokens, and the tokens spent."""
    found = await services.search.search(
        SearchRequest(question.query, haystack_filter(haystack), limit=RECALL_DEPTH)
    )
    shown: set[int] = set()
    spent = 0
    for hit in found.results:
        cost = count_tokens(memory_line(hit.model_dump(mode="json")))
        if spent + cost > budget:
            break
        spent += cost
        shown.add(hit.id)
    return shown, spent


async def briefing_text(
    services: Services, haystack: Haystack, question: Question, budget: int
) -> tuple[set[int], set[int], int]:
    """The ids the briefing shows, those it names as merged near-duplicates, and its tokens."""
    briefing = await services.briefing.brief(
        BriefingRequest(namespaces=(haystack.name,), task=question.query, max_tokens=budget)
    )
    shown, merged = set(), set()
    for section in briefing.sections:
        for item in section.items:
            if item.ref.startswith("memory "):
                shown.add(int(item.ref.removeprefix("memory ")))
            merged |= {int(ref.removeprefix("memory ")) for ref in item.merged if ref.startswith("memory ")}
    return shown, merged, briefing.tokens


async def keys_of(services: Services, ids: Iterable[int]) -> set[str]:
    memories = await get_memories(services.database, list(ids))
    return {memory.source or "" for memory in memories.values()}


async def evaluate(services: Services, haystacks: Iterable[Haystack], limit: int | None) -> dict[str, Any]:
    rows: dict[str, dict[str, list[float]]] = {
        f"{what}@{budget}": {"recall": [], "tokens": []} for budget in BUDGETS for what in ("recall", "brief")
    }
    merged_rows: dict[int, list[float]] = {budget: [] for budget in BUDGETS}
    asked = 0
    for haystack in haystacks:
        if limit is not None and asked >= limit:
            break
        await ingest(services, haystack)
        for question in haystack.questions[: None if limit is None else limit - asked]:
            if not question.relevant:
                continue
            asked += 1
            for budget in BUDGETS:
                ids, spent = await recall_text(services, haystack, question, budget)
                found = await keys_of(services, ids)
                rows[f"recall@{budget}"]["recall"].append(
                    len(found & question.relevant) / len(question.relevant)
                )
                rows[f"recall@{budget}"]["tokens"].append(spent)
                shown, merged, tokens = await briefing_text(services, haystack, question, budget)
                found = await keys_of(services, shown)
                rows[f"brief@{budget}"]["recall"].append(
                    len(found & question.relevant) / len(question.relevant)
                )
                rows[f"brief@{budget}"]["tokens"].append(tokens)
                with_merged = found | await keys_of(services, merged)
                merged_rows[budget].append(len(with_merged & question.relevant) / len(question.relevant))
    report: dict[str, Any] = {"questions": asked}
    for name, figures in rows.items():
        evidence, tokens = statistics.fmean(figures["recall"]), statistics.fmean(figures["tokens"])
        report[name] = {
            "evidence_recall": round(evidence, 4),
            "mean_tokens": round(tokens, 1),
            "evidence_per_1k_tokens": round(1000 * evidence / tokens, 4) if tokens else None,
        }
    for budget, values in merged_rows.items():
        report[f"brief@{budget}"]["evidence_recall_with_merged"] = round(statistics.fmean(values), 4)
    return report


async def run(args: argparse.Namespace) -> dict[str, Any]:
    embedder = make_embedder(Settings())
    if args.cache is not None:
        embedder = CachedEmbedder(embedder, args.cache)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="athena-brief-") as workdir:
        settings = Settings(db=Path(workdir) / "eval.db", toolsets=("all",), hook_channel=False)
        async with open_services(settings, embedder, background=False) as services:
            if not await services.embeddings.wait_ready():
                raise RuntimeError("the embedding model did not load")
            await services.vectors.load()
            for name, haystacks in (
                ("locomo", eval_data.locomo(args.data)),
                ("locomo-facts", eval_data.locomo_facts(args.data)),
            ):
                report[name] = await evaluate(services, haystacks, args.limit)
                print(name, json.dumps(report[name], indent=1), flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.eval_briefing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, default=DATA["locomo"])
    parser.add_argument("--limit", type=int, help="stop after about this many questions per scale")
    parser.add_argument("--cache", type=Path, help="a perf/embedding_cache.py folder of the model's vectors")
    parser.add_argument("--out", type=Path, default=Path("perf/results/eval_briefing.json"))
    args = parser.parse_args(argv)
    if not args.data.is_file():
        sys.exit(f"eval_briefing: no evaluation data at {args.data}")
    report = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
