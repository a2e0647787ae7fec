"""The editor hooks as the editor runs them: a fresh `athena-mcp hook EVENT` process per event.

    python -m perf.bench_hooks [--memories 10000] [--runs 40]

On a store of `--memories` real conversation events (perf/corpus.py, vectors from the embedding
cache), each hook is timed from starting its process to its exit, `--runs` times, in two modes:
- `server`: an `athena-mcp` server runs on the database (as the editor keeps one running), and the
  hooks hand their work to it over its local socket (athena_mcp/hooks/channel.py);
- `alone`: no server; each hook opens the store itself (and loads the model when it must).
SessionStart briefs the project; UserPromptSubmit gets the dev split's questions (some clear the
relevance bar and show memories, most do not); PostToolUse records an edit or a command. Prints the
median and p95 seconds per hook and mode, and how many prompts added context. The issue's targets
(2 cores, 10k memories): SessionStart at most 1.5 s, UserPromptSubmit p95 at most 0.7 s,
PostToolUse p95 at most 0.3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcp import Client

from athena_mcp.embeddings.factory import make_embedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings
from perf import corpus
from perf.bench_core import NAMESPACE, BenchError, call_tool, database_bytes, ingest, take_events
from perf.bench_core import BenchConfig as CoreConfig
from perf.embedders import TimedEmbedder
from perf.embedding_cache import DEFAULT_DIR, CachedEmbedder

BATCH = 256
RECENT = 60
TARGETS_S = {"SessionStart": ("median", 1.5), "UserPromptSubmit": ("p95", 0.7), "PostToolUse": ("p95", 0.3)}
CONSOLE_SCRIPT = Path(sys.executable).parent / "athena-mcp"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def hook_env(store: Path, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ATHENA_DB": str(store),
        "ATHENA_HOOK_NAMESPACE": NAMESPACE,
        "ATHENA_HOOK_LOG": str(workdir / "hooks.log"),
        "ATHENA_MODEL_CACHE": str(workdir / "model-cache"),
        # Short, as a real runtime folder is (a socket path holds about 100 bytes).
        "XDG_RUNTIME_DIR": str(workdir),
    }


def run_hook(event: str, payload: dict[str, Any], env: dict[str, str]) -> tuple[float, bool]:
    """Seconds from starting the hook's process to its exit, and whether it added context."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "hook", event],
        input=json.dumps({"session_id": "bench", "cwd": "/", "hook_event_name": event, **payload}),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0 or done.stderr:
        raise BenchError(f"hook {event} exited {done.returncode}: {done.stderr[-500:]}")
    return seconds, bool(done.stdout)


def payloads(questions: list[str], runs: int) -> dict[str, list[dict[str, Any]]]:
    tools = [
        {"tool_name": "Edit", "tool_input": {"file_path": f"src/module_{n}.py"}, "tool_response": {}}
        if n % 2
        else {
            "tool_name": "Bash",
            "tool_input": {"command": f"pytest -q tests/test_{n}.py"},
            "tool_response": {},
        }
        for n in range(runs)
    ]
    return {
        "SessionStart": [{"source": "startup"}] * max(3, runs // 4),
        "UserPromptSubmit": [{"prompt": question} for question in questions[:runs]],
        "PostToolUse": tools,
    }


@contextlib.contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[None]:
    """A stdio server on the store, kept open as an editor keeps it, once it listens for hooks."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(CONSOLE_SCRIPT), "--log-level", "INFO"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while "hook channel listening" not in log.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise BenchError(f"the server did not open its hook channel: {log.read_text()[-500:]}")
            time.sleep(0.05)
        # Its model loads in the background after start-up; wait as an editor session would.
        run_hook("UserPromptSubmit", {"prompt": "warm up"}, env)
        yield
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the editor going away: the server ends its session
        process.terminate()
        process.wait(timeout=30)


def measure(env: dict[str, str], cases: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    for event, items in cases.items():
        timed = [run_hook(event, payload, env) for payload in items]
        seconds = [s for s, _ in timed]
        figures[event] = {
            "runs": len(seconds),
            "median_s": statistics.median(seconds),
            "p95_s": percentile(seconds, 0.95),
            "max_s": max(seconds),
            "added_context": sum(added for _, added in timed),
        }
        print(event, json.dumps(figures[event]), flush=True)
    return figures


async def build_store(args: argparse.Namespace, store: Path) -> None:
    """`--memories` events: the last RECENT of them as this week's sessions, stored as facts as well,
    so that SessionStart has recent sessions and facts to brief on (the corpus's own dates are old)."""
    embedder = make_embedder(Settings())
    cached = CachedEmbedder(embedder, args.cache_dir)
    events = take_events(CoreConfig(eval_dir=args.eval_dir), args.memories)
    await asyncio.to_thread(cached.warm, [event["content"] for event in events])
    old, recent = events[:-RECENT], events[-RECENT:]
    for n, event in enumerate(recent):
        event.pop("timestamp", None)
        event["session_id"] = f"this-week-{n % 3}"
    settings = Settings(db=store, toolsets=("all",), consolidation_interval=0)
    await ingest(settings, TimedEmbedder(cached), old + recent, BATCH)
    async with Client(build_server(settings, TimedEmbedder(cached))) as client:
        for event in recent:
            await call_tool(client, "remember", {"content": event["content"], "namespace": NAMESPACE})


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ah-", dir="/tmp") as folder:
        workdir = Path(folder)
        store = workdir / "store.db"
        asyncio.run(build_store(args, store))
        # Each mode gets the same store: what the hooks of one record must not answer the other's.
        database_bytes(store)  # checkpoints the WAL into the file
        alone = workdir / "alone.db"
        shutil.copyfile(store, alone)
        cases = payloads(corpus.questions(args.eval_dir), args.runs)
        report: dict[str, Any] = {"memories": args.memories, "runs": args.runs}
        print("mode: server", flush=True)
        env = hook_env(store, workdir)
        with running_server(env, workdir / "server.log"):
            report["server"] = measure(env, cases)
        print("mode: alone", flush=True)
        report["alone"] = measure(hook_env(alone, workdir), cases)
    report["targets_met_with_server"] = {
        event: report["server"][event][f"{stat}_s"] <= limit for event, (stat, limit) in TARGETS_S.items()
    }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m perf.bench_hooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--eval-dir", type=Path, default=corpus.DEFAULT_EVAL_DIR)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_DIR, help="model vectors of store text")
    parser.add_argument("--out", type=Path, default=Path("perf/results/hooks.json"))
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except BenchError as exc:
        sys.exit(f"bench_hooks: {exc}")
    print(json.dumps(report["targets_met_with_server"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
