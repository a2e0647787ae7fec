"""Fit the calibrated relevance of search hits (athena_mcp/retrieval/calibration.py) on the dev splits.

Every question of LoCoMo (whole conversations, the small stores of facts, single sessions) and of
the first LongMemEval questions (turns) is searched; each of its best POOL hits gives a row (the
hit's coverage and relative score, and whether it is relevant). A logistic model is
fitted to the rows, each store size weighted alike, and the coefficients printed to paste into
calibration.py, with the calibration they give per store size and the recall of ranking by them.

    python -m perf.fit_calibration [--lme-questions N] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.retrieval.search import SearchRequest
from athena_mcp.services import Services, open_services
from athena_mcp.settings import Settings
from perf import eval_data, metrics
from perf.eval_data import Haystack
from perf.eval_retrieval import DATA, THRESHOLDS, haystack_filter, ingest

POOL = 25
PARTS = ("coverage", "relative")  # as calibration.Evidence


async def collect(services: Services, name: str, haystacks: list[Haystack]) -> list[dict[str, Any]]:
    """One row per hit in each question's best POOL: its parts, relevance label and rank."""
    rows = []
    for number, haystack in enumerate(haystacks):
        await ingest(services, haystack)
        for question in haystack.questions:
            request = SearchRequest(
                question.query,
                haystack_filter(haystack),
                limit=POOL,
                explain=True,
                now=question.asked_at,
            )
            for rank, hit in enumerate((await services.search.search(request)).results, start=1):
                assert hit.explain is not None
                rows.append(
                    {
                        "run": name,
                        "question": f"{number}:{question.query}",
                        "rank": rank,
                        "relevant": (hit.source or "") in question.relevant,
                        "key": hit.source or "",
                        "relevant_keys": sorted(question.relevant),
                        **{part: getattr(hit.explain, part) for part in PARTS},
                        # The rest of the explanation, for fitting other parts offline (--rows).
                        "lexical": None if hit.explain.lexical is None else hit.explain.lexical.score,
                        "dense": None if hit.explain.dense is None else hit.explain.dense.score,
                        "context": 0.0 if hit.explain.context is None else hit.explain.context.contribution,
                    }
                )
    return rows


def fit(features: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted logistic regression by Newton's method (a small ridge keeps it well posed)."""
    x = np.hstack([np.ones((len(features), 1)), features])
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ (weights * (labels - p)) - 1e-3 * beta
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x + 1e-3 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def relevance(beta: np.ndarray, features: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(beta[0] + features @ beta[1:])))


def report(rows: list[dict[str, Any]], scores: np.ndarray) -> dict[str, Any]:
    """Per run: precision and hits per question above each threshold; recall@5/@10 when each
    question's pool is ordered by these scores."""
    by_run: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_run[row["run"]].append(index)
    result = {}
    for run, indexes in by_run.items():
        questions: dict[str, list[int]] = defaultdict(list)
        for index in indexes:
            questions[rows[index]["question"]].append(index)
        figures: dict[str, Any] = {}
        for threshold in THRESHOLDS:
            above = [rows[i]["relevant"] for i in indexes if rows[i]["rank"] <= 10 and scores[i] >= threshold]
            figures[f">={threshold}"] = {
                "precision": round(float(np.mean(above)), 3) if above else None,
                "hits_per_question": round(len(above) / len(questions), 2),
            }
        for k in (5, 10):
            recalls = []
            for members in questions.values():
                ordered = sorted(members, key=lambda i: (-scores[i], rows[i]["rank"]))
                ranked = [rows[i]["key"] for i in ordered]
                recalls.append(metrics.recall_at(ranked, set(rows[members[0]]["relevant_keys"]), k))
            figures[f"recall@{k}"] = round(float(np.mean(recalls)), 4)
        result[run] = figures
    return result


async def gather_rows(lme_questions: int) -> list[dict[str, Any]]:
    embedder = make_embedder(Settings())
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="athena-fit-") as workdir:
        settings = Settings(db=Path(workdir) / "fit.db", toolsets=("all",))
        async with open_services(settings, embedder, background=False) as services:
            if not await services.embeddings.wait_ready():
                raise RuntimeError(f"the embedding model did not load: {services.embeddings.failure}")
            await services.vectors.load()
            locomo = DATA["locomo"]
            for name, haystacks in (
                ("locomo", list(eval_data.locomo(locomo))),
                ("locomo-facts", list(eval_data.locomo_facts(locomo))),
                ("locomo-sessions", list(eval_data.locomo_sessions(locomo))),
                (
                    "longmemeval-turn",
                    list(eval_data.longmemeval(DATA["longmemeval"], "turn"))[:lme_questions],
                ),
            ):
                rows += await collect(services, name, haystacks)
                print(f"{name}: {len(rows)} rows so far", flush=True)
    return rows


def fitted_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    features = np.array([[row[part] for part in PARTS] for row in rows], dtype=np.float64)
    labels = np.array([float(row["relevant"]) for row in rows])
    runs = [row["run"] for row in rows]
    per_run = {run: runs.count(run) for run in set(runs)}
    weights = np.array([len(rows) / (len(per_run) * per_run[run]) for run in runs])
    beta = fit(features, labels, weights)
    fitted = relevance(beta, features)
    relative = features[:, PARTS.index("relative")]
    return {
        "coefficients": [round(float(b), 3) for b in beta],
        "rows": len(rows),
        "calibrated": report(rows, fitted),
        "relative (before)": report(rows, relative),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m perf.fit_calibration", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--lme-questions", type=int, default=100, help="LongMemEval questions used (default 100)"
    )
    parser.add_argument("--out", type=Path, default=Path("perf/results/calibration_fit.json"))
    parser.add_argument("--rows", type=Path, help="refit from rows saved by an earlier run (JSON Lines)")
    args = parser.parse_args()
    if args.rows is not None:
        rows = [json.loads(line) for line in args.rows.read_text("utf-8").splitlines()]
    else:
        rows = asyncio.run(gather_rows(args.lme_questions))
        saved = args.out.with_suffix(".rows.jsonl")
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    result = fitted_report(rows)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
