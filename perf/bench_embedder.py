"""The default ONNX embedder beside the sentence-transformers one it replaces, in one run.

    python -m perf.bench_embedder [--texts N] [--queries 200] [--batch 1024]
    python -m perf.bench_embedder --write-reference tests/embeddings/minilm_reference.npz

Needs the torch extra (`pip install -e '.[torch]'`) for the reference. Prints, for each embedder:
the seconds from a fresh interpreter to its first vector and that process's peak RSS; a single
query's embedding time (median and p95 over distinct LoCoMo questions, one at a time); batched
throughput over LongMemEval answer lines; and the cosine of the two embedders' vectors for every
distinct text of the dev splits (documents and questions of LoCoMo, LongMemEval turns and sessions).
`--write-reference` stores the torch vectors of REFERENCE_TEXTS, which the test suite checks the
default embedder against without torch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.embeddings.minilm_torch import TorchMiniLMEmbedder
from perf import corpus, eval_data

EMBEDDERS: dict[str, Callable[[], Embedder]] = {"onnx": MiniLMEmbedder, "torch": TorchMiniLMEmbedder}
# Written for the check, not taken from a benchmark (whose texts may not be committed): short and
# long, code, numbers, other scripts, an empty text and one past the 256-token cut.
REFERENCE_TEXTS = [
    "",
    "ok",
    "The staging database password rotates every Monday.",
    "Where is the app hosted?",
    "We deploy to Fly.io from the main branch after CI passes.",
    "Maria Lopez reviews all database migrations before they are merged.",
    "Feature flags are managed with Unleash, self-hosted on the ops cluster.",
    "API keys and passwords live in Doppler; never commit them to the repository.",
    'ERROR: relation "users" does not exist (SQLSTATE 42P01) after running alembic upgrade head',
    "def embed(texts: list[str]) -> np.ndarray:\n    return model.encode(texts, normalize=True)",
    "SELECT id, content FROM memories WHERE namespace = ? ORDER BY created_at DESC LIMIT 10;",
    'Caroline said, "I went to the LGBTQ support group yesterday and it was so powerful."',
    "Melanie painted a sunrise over the lake last year and shared a photo of it.",
    "Q3 revenue grew 12.5% to $4.2M; churn fell from 3.1% to 2.4%.",
    "2023-05-08T13:56:00Z build #4812 failed: test_vectors timed out after 300 s",
    "Der Server läuft auf Port 8080 und speichert alles in einer SQLite-Datei.",
    "東京の会議は来週の火曜日に延期されました。",
    "Ünïcödé, emoji 🚀 and punctuation!!! ... ??? -- all in one line.",
    "git rebase -i HEAD~3 && git push --force-with-lease origin feature/onnx-embedder",
    "The user prefers tabs over spaces, dark mode, and short commit messages.",
    "Remind me to renew the TLS certificate for api.example.com before it expires on 1 March.",
    "Goal: publish documentation. Steps: checkout, pytest, build docs, publish to the docs site.",
    "How did we fix the flaky websocket test last time?",
    "Tokyo, Paris and New York are the three regions; Paris is the primary for EU customers.",
    " ".join(f"step {n}: run the migration, check the logs, and record what happened." for n in range(60)),
]


def dev_texts(eval_dir: Path) -> list[str]:
    """Every distinct document and question of the dev splits, as the retrieval evaluation stores them."""
    haystacks = itertools.chain(
        eval_data.locomo(eval_dir / corpus.LOCOMO),
        eval_data.longmemeval(eval_dir / corpus.LONGMEMEVAL, "turn"),
        eval_data.longmemeval(eval_dir / corpus.LONGMEMEVAL, "session"),
    )
    texts = (
        text
        for haystack in haystacks
        for text in [*(d.content for d in haystack.documents), *(q.query for q in haystack.questions)]
    )
    return list(dict.fromkeys(texts))


def cold_start(name: str) -> dict[str, float]:
    """Seconds from a fresh interpreter to its first vector, and that process's peak RSS in MB."""
    code = (
        "import time, resource; started = time.perf_counter()\n"
        f"from perf.bench_embedder import EMBEDDERS; EMBEDDERS[{name!r}]().embed(['hello'])\n"
        "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    started = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    total = time.perf_counter() - started
    inside, rss = (float(part) for part in output.split())
    return {"first_vector_s": total, "import_and_load_s": inside, "peak_rss_mb": rss}


def query_latency(embedder: Embedder, queries: list[str]) -> dict[str, float]:
    embedder.embed(queries[:5])  # warm
    seconds = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed([query])
        seconds.append(time.perf_counter() - started)
    ordered = sorted(seconds)
    return {
        "query_p50_ms": statistics.median(seconds) * 1000,
        "query_p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
    }


def throughput(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def in_chunks(texts: list[str], size: int = 256) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


def agreement(first: Embedder, second: Embedder, texts: list[str]) -> dict[str, float]:
    cosines = np.concatenate(
        [(first.embed(chunk) * second.embed(chunk)).sum(axis=1) for chunk in in_chunks(texts)]
    )
    return {
        "texts": len(texts),
        "min": float(cosines.min()),
        "p01": float(np.percentile(cosines, 1)),
        "median": float(np.median(cosines)),
        "below_0.999": int((cosines < 0.999).sum()),
    }


def write_reference(path: Path) -> None:
    vectors = TorchMiniLMEmbedder().embed(REFERENCE_TEXTS)
    np.savez_compressed(path, texts=np.array(REFERENCE_TEXTS), vectors=vectors)
    print(f"wrote {len(REFERENCE_TEXTS)} reference vectors to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.bench_embedder", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--eval-dir", type=Path, default=corpus.DEFAULT_EVAL_DIR)
    parser.add_argument("--texts", type=int, help="compare only the first N dev texts (default: all)")
    parser.add_argument("--queries", type=int, default=200, help="single-query embeddings timed")
    parser.add_argument("--batch", type=int, default=1024, help="texts embedded for throughput")
    parser.add_argument("--write-reference", type=Path, help="write the reference vectors and stop")
    parser.add_argument("--out", type=Path, default=Path("perf/results/embedder.json"))
    args = parser.parse_args(argv)
    if args.write_reference:
        write_reference(args.write_reference)
        return
    queries = corpus.questions(args.eval_dir)[: args.queries]
    lines = [
        event["content"]
        for event in itertools.islice(corpus.events(args.eval_dir), 30000, 30000 + args.batch)
    ]
    report: dict[str, object] = {}
    embedders = {name: make() for name, make in EMBEDDERS.items()}
    for name, embedder in embedders.items():
        figures = cold_start(name)
        embedder.load()
        figures |= query_latency(embedder, queries)
        figures["texts_per_s"] = throughput(embedder, lines)
        report[name] = figures
        print(name, "  ".join(f"{key} {value:.1f}" for key, value in figures.items()), flush=True)
    texts = dev_texts(args.eval_dir)[: args.texts]
    report["agreement"] = agreement(embedders["onnx"], embedders["torch"], texts)
    print("cosine onnx·torch", json.dumps(report["agreement"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
