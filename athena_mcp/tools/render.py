"""The text a model reads of a tool's answer: a line or a few per item, no indentation, no nulls.

The full record stays in the answer's structuredContent; the text block is what lands in the
model's context, so it carries what a model acts on (id, type, date, score, content) and other
fields only when they are set. Renderers read the structured (JSON) answer, so they cannot disagree
with it. A tool without a renderer of its own gets its answer as compact JSON without empty fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from athena_mcp.governance import quoted

Answer = dict[str, Any]
Renderer = Callable[[Answer], str]

SESSION_CHARS = 24  # a longer session id is clipped in a hit's line; the record has it whole


def compact_json(answer: Any) -> str:
    """JSON without nulls, empty lists or objects, or indentation; a top-level list one item a line."""
    pruned = _prune(answer)
    if isinstance(pruned, dict) and len(pruned) == 1 and isinstance(next(iter(pruned.values())), list):
        [(key, items)] = pruned.items()
        return "\n".join([f"{key}:", *(_json(item) for item in items)]) if items else f"{key}: none"
    return _json(pruned)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value


def when(stamp: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM' (UTC), the precision a model reasons with."""
    return "" if not stamp else f"{stamp[:10]} {stamp[11:16]}"


def memory_line(memory: Answer, *, detail: bool = False) -> str:
    """One memory: `[id] kind date score: content`, with an event's session and outcome when set."""
    head = [f"[{memory['id']}]", _kind(memory), when(memory.get("timestamp"))]
    if memory.get("session_id"):
        head.append(f"session={_clip(memory['session_id'], SESSION_CHARS)}")
    if memory.get("outcome"):
        head.append(memory["outcome"])
    if memory.get("status") == "forgotten":
        head.append("forgotten")
    if "score" in memory:
        head.append(f"{memory['score']:.2f}")
    line = f"{' '.join(head)}: {quoted(memory['content'], memory.get('flags'))}"
    if detail:
        extra = {
            key: memory.get(key)
            for key in ("tags", "importance", "source", "namespace", "version", "context", "forget_reason")
        }
        line += f"\n  {_json(_prune(extra))}"
    if memory.get("explain"):
        line += f"\n  why: {_json(_prune(memory['explain']))}"
    return line


def _kind(memory: Answer) -> str:
    return memory["kind"] if memory.get("system") != "episodic" else f"event:{memory['kind']}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notices(answer: Answer) -> list[str]:
    lines = [f"note: {answer['notice']}"] if answer.get("notice") else []
    if answer.get("truncated"):
        lines.append("(cut short by the limit or max_tokens)")
    return lines


def more(answer: Answer) -> list[str]:
    cursor = answer.get("next_cursor")
    return [f"next_cursor: {cursor}"] if cursor else []


def procedure_line(procedure: Answer) -> str:
    stats = procedure.get("stats") or {}
    rate = stats.get("success_rate")
    record = f"{rate:.0%} of {stats['runs']} runs" if rate is not None else "never run"
    head = f"[procedure {procedure['id']}] {procedure['name']} ({record})"
    if "score" in procedure:
        head += f" {procedure['score']:.2f}"
    steps = " ".join(f"{n}. {quoted(step)}" for n, step in enumerate(procedure.get("steps") or (), 1))
    return f"{head}: {quoted(procedure['goal'])}" + (f"\n  steps: {steps}" if steps else "")


def entity_line(entity: Answer) -> str:
    observations = " ".join(quoted(observation) for observation in entity.get("observations") or ())
    return f"{entity['name']} ({entity['entityType']})" + (f": {observations}" if observations else "")


def relation_line(relation: Answer) -> str:
    return f"{relation['from']} -{relation['relationType']}-> {relation['to']}"


def graph_lines(answer: Answer) -> list[str]:
    lines = [entity_line(entity) for entity in answer.get("entities") or ()]
    lines += [relation_line(relation) for relation in answer.get("relations") or ()]
    if answer.get("relations_truncated"):
        lines.append("(more relations than shown)")
    return lines


def task_line(task: Answer) -> str:
    state = ", ".join(part for part in (task["status"], task["priority"]) if part != "normal")
    line = f"[task {task['id']}] {quoted(task['title'])} ({state})"
    if task.get("due"):
        line += f" due {when(task['due'])}" + (" OVERDUE" if task.get("overdue") else "")
    if task.get("blocked_by"):
        line += f" waits for {', '.join(map(str, task['blocked_by']))}"
    if task.get("notes"):
        line += f"\n  {quoted(task['notes'])}"
    return line
