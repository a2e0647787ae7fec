"""What the agent pays to keep Athena connected: the bytes of tools/list and of a recall answer.

    python -m perf.bench_surface [--toolsets core] [--toolsets all] [--out perf/results/surface.json]

For each surface (a --toolsets value) it prints a table of every tool: the bytes of its name +
description + inputSchema as JSON (what a model needs to call it), the bytes of its whole tools/list
entry (annotations and outputSchema included), and estimated tokens (bytes / 4, the usual rule of
thumb for English and JSON). Then the totals, the instructions' length, and the text block of a
`recall` over five short facts against their content: the per-hit overhead that issue 13 caps at 80
bytes. Everything goes through a real in-process MCP client, as an editor would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mcp import Client
from mcp_types import Tool

from athena_mcp.embeddings.base import Embedder
from athena_mcp.embeddings.minilm import MiniLMEmbedder
from athena_mcp.server import build_server
from athena_mcp.settings import Settings

BYTES_PER_TOKEN = 4
FACTS = (
    "The app is hosted on Fly.io in the ams region.",
    "Maria Lopez reviews all database migrations.",
    "API keys and passwords are kept in Doppler.",
    "Feature flags live in Unleash, self-hosted.",
    "CI runs on GitHub Actions; deploys need a green main.",
)


@dataclass(frozen=True)
class ToolSize:
    name: str
    definition_bytes: int  # name + description + inputSchema
    listed_bytes: int  # the whole tools/list entry

    @property
    def tokens(self) -> int:
        return round(self.listed_bytes / BYTES_PER_TOKEN)


@dataclass(frozen=True)
class Surface:
    toolsets: str
    tools: list[ToolSize]
    list_bytes: int  # the whole tools/list result
    instructions_chars: int

    @property
    def definition_bytes(self) -> int:
        return sum(tool.definition_bytes for tool in self.tools)


@dataclass(frozen=True)
class RecallCost:
    hits: int
    content_bytes: int
    text_bytes: int

    @property
    def overhead_per_hit(self) -> float:
        return (self.text_bytes - self.content_bytes) / self.hits


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def tool_size(tool: Tool) -> ToolSize:
    wire = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    definition = {
        "name": wire["name"],
        "description": wire.get("description"),
        "inputSchema": wire["inputSchema"],
    }
    return ToolSize(tool.name, _json_bytes(definition), _json_bytes(wire))


async def measure_surface(toolsets: str, db: Path) -> Surface:
    settings = Settings(db=db, toolsets=tuple(toolsets.split(",")))
    # No background work: listing tools needs no model.
    async with Client(build_server(settings, background=False)) as client:
        listed = await client.list_tools()
        instructions = client.instructions or ""
    wire = listed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Surface(toolsets, [tool_size(tool) for tool in listed.tools], _json_bytes(wire), len(instructions))


async def measure_recall(db: Path, embedder: Embedder) -> RecallCost:
    """The default recall's text block over five short facts, all returned."""
    async with Client(build_server(Settings(db=db), embedder)) as client:
        for fact in FACTS:
            await client.call_tool("remember", {"content": fact})
        result = await client.call_tool("recall", {"query": "where and how we run things", "limit": 5})
    hits = result.structured_content["results"] if result.structured_content else []
    text = "".join(getattr(block, "text", "") for block in result.content)
    content = sum(len(hit["content"].encode()) for hit in hits)
    return RecallCost(len(hits), content, len(text.encode()))


def print_surface(surface: Surface) -> None:
    print(f"\n--toolsets {surface.toolsets}: {len(surface.tools)} tools")
    print(f"{'tool':<22}{'definition B':>14}{'listed B':>10}{'~tokens':>9}")
    for tool in sorted(surface.tools, key=lambda t: -t.listed_bytes):
        print(f"{tool.name:<22}{tool.definition_bytes:>14,}{tool.listed_bytes:>10,}{tool.tokens:>9,}")
    print(
        f"{'total':<22}{surface.definition_bytes:>14,}{surface.list_bytes:>10,}"
        f"{round(surface.list_bytes / BYTES_PER_TOKEN):>9,}"
    )
    print(f"instructions: {surface.instructions_chars} characters")


async def measure(toolsets: list[str]) -> tuple[list[Surface], RecallCost]:
    with tempfile.TemporaryDirectory() as workdir:
        surfaces = [await measure_surface(name, Path(workdir) / f"{name}.db") for name in toolsets]
        embedder = MiniLMEmbedder()
        embedder.load()
        recall = await measure_recall(Path(workdir) / "recall.db", embedder)
    return surfaces, recall


def main(toolsets: list[str], out: Path | None) -> None:
    surfaces, recall = asyncio.run(measure(toolsets))
    for surface in surfaces:
        print_surface(surface)
    print(
        f"\nrecall, {recall.hits} short facts: text {recall.text_bytes} B for {recall.content_bytes} B of "
        f"content, {recall.overhead_per_hit:.1f} B a hit beyond the content"
    )
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "surfaces": [
                {**asdict(s), "definition_bytes": s.definition_bytes, "tools": [asdict(t) for t in s.tools]}
                for s in surfaces
            ],
            "recall": {**asdict(recall), "overhead_per_hit": recall.overhead_per_hit},
        }
        out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--toolsets", action="append", help="a surface to measure (repeatable); core and all")
    parser.add_argument("--out", type=Path, default=Path("perf/results/surface.json"))
    args = parser.parse_args()
    main(args.toolsets or ["core", "all"], args.out)
