"""Consolidation measured against facts and summaries written by others: LoCoMo's dev conversations.

Each conversation's dialog is recorded as events (one session_id per LoCoMo session, the session's
date as their time, the turn id as `source`) and consolidated by the product's own worker, as
`consolidate` would. Its products are then held against what the dataset's authors wrote for each
session: `observation` statements, each citing the turns it came from, and a `session_summary`.

- coverage: the share of gold observations that some product matches by meaning (cosine of the
  model's vectors at least COVERED) and by provenance (the product's source events include a turn
  the observation cites), for the facts alone and for facts and digests together;
- noise: the share of products that match no gold observation at cosine NOISE or more;
- digests: each session digest's cosine to that session's gold summary;
- graph candidates: how many name pairs, and the share whose two names both occur in the
  conversation's gold observations (names, not greetings);
- retrieval: recall@5 / @10 of the dataset's questions over the events alone and over events and
  products, a product counting for the turns it came from, and the share of questions whose
  recall@10 the products lowered (harmed) or raised. Products must not make it worse.

    python -m perf.eval_consolidation [--data PATH] [--limit N] [--out FILE] [--cache DIR]

--limit N takes the first N conversations. Targets (issue 18): coverage by meaning at least 60 %,
noise at most 25 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from athena_mcp.consolidation.products import PRODUCT_TAG
from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from athena_mcp.store.filters import MemoryFilter
from perf import eval_data
from perf.embedding_cache import CachedEmbedder
from perf.eval_data import Haystack
from perf.eval_retrieval import DATA, ingest

COVERED = 0.6  # a gold observation is covered by a product this close in meaning
NOISE = 0.45  # a product no gold observation comes this close to is noise
DEPTHS = (5, 10)
QUESTION_DEPTH = 25
WORD = re.compile(r"\w+")
# A digest quotes an event when it holds the event's first characters (it shortens long ones).
QUOTED_CHARS = 60


@dataclass(frozen=True)
class Gold:
    observations: list[str]
    cited: list[set[str]]  # per observation, the turns it cites
    summaries: dict[str, str]  # session key ("session_3") -> the authors' summary


@dataclass(frozen=True)
class Product:
    id: int
    kind: str  # "fact" or "digest"
    content: str
    session_id: str | None
    sources: frozenset[str]  # the turn ids of the events it came from


def gold_of(sample: dict[str, Any]) -> Gold:
    cites: dict[str, set[str]] = {}
    for by_speaker in sample.get("observation", {}).values():
        for statements in by_speaker.values():
            for text, evidence in statements:
                refs = [evidence] if isinstance(evidence, str) else list(evidence)
                cites.setdefault(text, set()).update(eval_data.evidence_ids(refs))
    summaries = {
        key.removesuffix("_summary"): text for key, text in sample.get("session_summary", {}).items() if text
    }
    return Gold(list(cites), list(cites.values()), summaries)


async def products_of(services: Services, namespace: str) -> list[Product]:
    """The consolidation's text products in the namespace, each with the turns it came from. A digest
    counts only for the turns it shows: its provenance holds every event of its session, but a reader
    of the digest learns only what it quotes."""
    rows = await services.database.fetchall(
        "SELECT p.id, p.kind, p.content, p.session_id, e.source, e.content FROM memories p "
        "JOIN provenance v ON v.product_type = 'memory' AND v.product_id = p.id "
        "JOIN memories e ON e.id = v.memory_id "
        "WHERE p.namespace = ? AND p.status = 'active' AND p.kind IN ('fact', 'episode')",
        [namespace],
    )
    found: dict[int, tuple[str, str, str | None, set[str]]] = {}
    for product_id, kind, content, session_id, source, event_text in rows:
        entry = found.setdefault(
            product_id, ("fact" if kind == "fact" else "digest", content, session_id, set())
        )
        shown = kind == "fact" or " ".join(event_text.split())[:QUOTED_CHARS] in " ".join(content.split())
        if source and shown:
            entry[3].add(source)
    return [Product(i, k, c, s, frozenset(src)) for i, (k, c, s, src) in found.items()]


async def graph_pairs(services: Services, namespace: str) -> list[tuple[str, str]]:
    rows = await services.database.fetchall(
        "SELECT source_name, target_name FROM graph_candidates WHERE namespace = ?", [namespace]
    )
    return [(str(a), str(b)) for a, b in rows]


def cosines(embedder: Embedder, left: list[str], right: list[str]) -> np.ndarray:
    if not left or not right:
        return np.zeros((len(left), len(right)), dtype=np.float32)
    return embedder.embed(left) @ embedder.embed(right).T


async def recall_with_products(
    services: Services, haystack: Haystack, products: list[Product]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Mean recall@k of the questions' evidence turns over the events alone and over events and
    products (a product hit covers the turns it came from), and the share of questions whose
    recall@10 products lowered ("harmed": products pushed evidence out that the events alone found)
    or raised; and the questions harmed, to look into."""
    sources = {p.id: p.sources for p in products}
    events_only = MemoryFilter(namespaces=(haystack.name,), systems=("episodic",), kinds=("message",))
    with_products = MemoryFilter(namespaces=(haystack.name,))
    scores: dict[str, dict[str, list[float]]] = {"events": {}, "events+products": {}}
    for question in haystack.questions:
        for name, memory_filter in (("events", events_only), ("events+products", with_products)):
            result = await services.search.search(
                SearchRequest(question.query, memory_filter, QUESTION_DEPTH, now=question.asked_at)
            )
            covered: list[set[str]] = [
                set(sources.get(hit.id, ())) | ({hit.source} if hit.source else set())
                for hit in result.results
            ]
            for k in DEPTHS:
                found = set().union(*covered[:k]) if covered else set()
                share = len(question.relevant & found) / len(question.relevant)
                scores[name].setdefault(f"recall@{k}", []).append(share)
    report = {name: {k: statistics.fmean(v) for k, v in by_k.items()} for name, by_k in scores.items()}
    alone, added = scores["events"][f"recall@{DEPTHS[-1]}"], scores["events+products"][f"recall@{DEPTHS[-1]}"]
    report["questions"] = {
        "harmed": statistics.fmean(b < a for a, b in zip(alone, added, strict=True)),
        "helped": statistics.fmean(b > a for a, b in zip(alone, added, strict=True)),
    }
    harmed = [q.query for q, a, b in zip(haystack.questions, alone, added, strict=True) if b < a]
    return report, harmed


def names_in(text: str) -> set[str]:
    return {word.casefold() for word in WORD.findall(text)}


async def evaluate_conversation(
    services: Services, embedder: Embedder, sample: dict[str, Any], haystack: Haystack
) -> dict[str, Any]:
    await ingest(services, haystack)
    report = await services.consolidation.run_once(
        trigger="request", namespace=haystack.name, settle_seconds=0
    )
    await services.vector_backlog.run_until_caught_up()  # digests are embedded after the run
    gold = gold_of(sample)
    products = await products_of(services, haystack.name)
    facts = [p for p in products if p.kind == "fact"]
    digests = [p for p in products if p.kind == "digest"]
    similarity = cosines(embedder, gold.observations, [p.content for p in products])
    is_fact = np.array([p.kind == "fact" for p in products], dtype=bool)

    def covered_by_meaning(mask: np.ndarray) -> float:
        if not gold.observations:
            return 0.0
        if not mask.any():
            return 0.0
        return float((similarity[:, mask].max(axis=1) >= COVERED).mean())

    def covered_by_provenance(chosen: list[Product]) -> float:
        turns = set().union(*(p.sources for p in chosen)) if chosen else set()
        return statistics.fmean(bool(cited & turns) for cited in gold.cited) if gold.cited else 0.0

    def noise(mask: np.ndarray) -> float | None:
        if not mask.any():
            return None
        best = similarity[:, mask].max(axis=0) if gold.observations else np.zeros(int(mask.sum()))
        return float((best < NOISE).mean())

    digest_to_summary = [
        float(cosines(embedder, [d.content], [gold.summaries[d.session_id]])[0, 0])
        for d in digests
        if d.session_id in gold.summaries
    ]
    observed_words = (
        set().union(*(names_in(text) for text in gold.observations)) if gold.observations else set()
    )
    pairs = await graph_pairs(services, haystack.name)
    retrieval, harmed = await recall_with_products(services, haystack, products)
    return {
        "conversation": haystack.name,
        "events": len(haystack.documents),
        "run_status": report.status,
        "gold_observations": len(gold.observations),
        "facts": len(facts),
        "digests": len(digests),
        "coverage_by_meaning_facts": covered_by_meaning(is_fact),
        "coverage_by_meaning_products": covered_by_meaning(np.ones(len(products), dtype=bool)),
        "coverage_by_provenance_facts": covered_by_provenance(facts),
        "coverage_by_provenance_products": covered_by_provenance(products),
        "noise_facts": noise(is_fact),
        "noise_digests": noise(~is_fact),
        "noise_products": noise(np.ones(len(products), dtype=bool)),
        "digest_to_summary_cosine": statistics.fmean(digest_to_summary) if digest_to_summary else None,
        "graph_candidates": len(pairs),
        "graph_candidates_named_in_gold": statistics.fmean(
            a.casefold() in observed_words and b.casefold() in observed_words for a, b in pairs
        )
        if pairs
        else None,
        "retrieval": retrieval,
        "harmed_questions": harmed,
        "examples": {
            "facts": [p.content for p in facts[:5]],
            "digests": [p.content for p in digests[:2]],
            "graph_candidates": pairs[:8],
        },
    }


def overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(name: str) -> float | None:
        values = [row[name] for row in rows if row[name] is not None]
        return round(statistics.fmean(values), 4) if values else None

    keys = [k for k, v in rows[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    summary: dict[str, Any] = {k: mean(k) for k in keys}
    for name in ("events", "gold_observations", "facts", "digests", "graph_candidates"):
        summary[name] = sum(row[name] for row in rows)
    summary["retrieval"] = {
        mode: {k: round(statistics.fmean(row["retrieval"][mode][k] for row in rows), 4) for k in by_k}
        for mode, by_k in rows[0]["retrieval"].items()
    }
    return summary


def print_report(summary: dict[str, Any], conversations: int) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f} %"

    print(f"\nLoCoMo dev, {conversations} conversations, {summary['events']} turns recorded as events")
    print(
        f"products: {summary['facts']} facts, {summary['digests']} digests, "
        f"{summary['graph_candidates']} graph candidates; {summary['gold_observations']} gold observations"
    )
    print(
        f"coverage by meaning (cosine >= {COVERED}), facts / facts+digests: "
        f"{pct(summary['coverage_by_meaning_facts'])} / {pct(summary['coverage_by_meaning_products'])}"
        "  (target >= 60 %)"
    )
    print(
        f"coverage by provenance, facts / facts+digests: "
        f"{pct(summary['coverage_by_provenance_facts'])} / {pct(summary['coverage_by_provenance_products'])}"
    )
    print(
        f"noise (no gold observation at cosine >= {NOISE}), facts / digests / all: "
        f"{pct(summary['noise_facts'])} / {pct(summary['noise_digests'])} / {pct(summary['noise_products'])}"
        "  (target <= 25 %)"
    )
    cosine = summary["digest_to_summary_cosine"]
    print(f"digest to gold session summary, mean cosine: {'n/a' if cosine is None else f'{cosine:.3f}'}")
    print(
        "graph candidates whose two names occur in the gold observations: "
        f"{pct(summary['graph_candidates_named_in_gold'])}"
    )
    for mode, by_k in summary["retrieval"].items():
        label = "questions whose recall@10 products changed" if mode == "questions" else f"recall over {mode}"
        print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in by_k.items()))


async def run(path: Path, limit: int | None, embedder: Embedder) -> dict[str, Any]:
    samples = json.loads(await asyncio.to_thread(path.read_text, "utf-8"))[:limit]
    haystacks = list(eval_data.locomo(path))[: len(samples)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="athena-consolidation-") as workdir:
        settings = Settings(db=Path(workdir) / "eval.db", toolsets=("all",), consolidation_interval=0)
        async with open_services(settings, embedder, background=False) as services:
            if not await services.embeddings.wait_ready():
                raise RuntimeError(f"the embedding model did not load: {services.embeddings.failure}")
            await services.vectors.load()
            for sample, haystack in zip(samples, haystacks, strict=True):
                rows.append(await evaluate_conversation(services, embedder, sample, haystack))
                print(
                    f"{haystack.name}: {rows[-1]['facts']} facts, {rows[-1]['digests']} digests, "
                    f"run {rows[-1]['run_status']}",
                    flush=True,
                )
    summary = overall(rows)
    print_report(summary, len(rows))
    return {
        "benchmark": "locomo consolidation",
        "data": str(path),
        "model": embedder.identity.model,
        "product_tag": PRODUCT_TAG,
        "thresholds": {"covered": COVERED, "noise": NOISE},
        "finished_at": datetime.now(UTC).isoformat(),
        "overall": summary,
        "conversations": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.eval_consolidation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=DATA["locomo"], help="the LoCoMo file (default: ../shared/eval)"
    )
    parser.add_argument("--limit", type=int, help="take only the first N conversations")
    parser.add_argument("--out", type=Path, default=Path("perf/results/eval_consolidation.json"))
    parser.add_argument("--cache", type=Path, help="a perf/embedding_cache.py folder to take vectors from")
    args = parser.parse_args(argv)
    if not args.data.exists():
        sys.exit(
            f"eval_consolidation: no data at {args.data}; "
            "put ../shared/eval beside the checkout or pass --data"
        )
    embedder: Embedder = make_embedder(Settings())
    if args.cache is not None:
        embedder = CachedEmbedder(embedder, args.cache)
    report = asyncio.run(run(args.data, args.limit, embedder))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
