"""Each tool's answer as text for the model, built from its structured content (see render.py)."""

from __future__ import annotations

from mcp.server.context import HandlerResult

from athena_mcp.governance import quoted
from athena_mcp.memory.semantic import LateDuplicate
from athena_mcp.tools.render import (
    Answer,
    Renderer,
    compact_json,
    entity_line,
    graph_lines,
    memory_line,
    more,
    notices,
    procedure_line,
    relation_line,
    task_line,
    when,
)


def _recall(answer: Answer, detail: bool) -> str:
    lines = notices(answer)
    lines += [memory_line(hit, detail=detail) for hit in answer["results"]]
    lines += [procedure_line(procedure) for procedure in answer.get("procedures") or ()]
    if answer.get("graph"):
        lines += graph_lines(answer["graph"])
    return "\n".join(lines) or "Nothing matched."


def _memories(key: str, empty: str) -> Renderer:
    def render(answer: Answer) -> str:
        lines = [memory_line(memory) for memory in answer[key]] + more(answer)
        return "\n".join(lines) or empty

    return render


def _remember(answer: Answer) -> str:
    line = f"duplicate of [{answer['id']}]" if answer["status"] == "duplicate" else f"stored [{answer['id']}]"
    return "\n".join([line + _pending(answer.get("vector")), *_similar(answer)])


def _update(answer: Answer) -> str:
    return "\n".join([f"[{answer['id']}] {answer['status']}, version {answer['version']}", *_similar(answer)])


def _similar(answer: Answer) -> list[str]:
    return [
        f"similar [{s['id']}] {s['similarity']:.2f}: {quoted(s['content'])}"
        for s in answer.get("similar") or ()
    ]


def _pending(vector: str | None) -> str:
    return " (vector pending: found by keywords until it is computed)" if vector == "pending" else ""


def _recorded(answer: Answer) -> str:
    return f"recorded {', '.join(f'[{i}]' for i in answer['ids'])}" + _pending(answer.get("vectors"))


def _status(answer: Answer) -> str:
    return f"[{answer['id']}] {answer['status']}" + ("" if answer.get("changed", True) else " (already)")


def _get(answer: Answer) -> str:
    lines = [memory_line(answer, detail=True)]
    lines += [
        f"  v{old['version']} until {when(old['superseded_at'])}: {quoted(old['content'])}"
        for old in answer.get("history") or ()
    ]
    return "\n".join(lines)


def _procedures(answer: Answer) -> str:
    lines = notices(answer) + [procedure_line(p) for p in answer.get("results") or answer.get("items") or ()]
    return "\n".join(lines + more(answer)) or "No procedure matched."


def _procedure(answer: Answer) -> str:
    """get_procedure: the whole procedure, its standing and its latest runs."""
    lines = [procedure_line(answer), f"  {answer['status']}, {answer['origin']}, {answer['validation']}"]
    if answer.get("preconditions"):
        lines.append(f"  before: {'; '.join(answer['preconditions'])}")
    if answer.get("expected_outcome"):
        lines.append(f"  success looks like: {answer['expected_outcome']}")
    for run in answer.get("recent_runs") or ():
        notes = f": {quoted(run['notes'])}" if run.get("notes") else ""
        lines.append(f"  run {when(run['recorded_at'])} {run['outcome']}{notes}")
    return "\n".join(lines)


def _explored(answer: Answer) -> str:
    """explore_graph: each entity with how far from a hit it lies, then the relations among them."""
    lines = [
        ("hit " if entity["hit"] else f"+{entity['distance']} ") + entity_line(entity)
        for entity in answer["entities"]
    ]
    lines += [relation_line(relation) for relation in answer["relations"]]
    if answer.get("truncated"):
        lines.append("(cut short by the limit)")
    return "\n".join(lines) or "No entity matched."


def _due(answer: Answer) -> str:
    lines = notices(answer)
    for fired in answer["fired"]:
        what = fired.get("reminder") or (fired["task"]["title"] if fired.get("task") else None)
        shown = quoted(what) if what is not None else fired["kind"]
        lines.append(f"fired {fired['firing_id']} at {when(fired['fired_at'])}: {shown}")
    lines += [task_line(task) for task in answer["tasks"]]
    if answer.get("truncated"):
        lines.append("(more: handle these, then ask again)")
    return "\n".join(lines) or "Nothing is due."


def _tasks(answer: Answer) -> str:
    return "\n".join([task_line(task) for task in answer["tasks"]] + more(answer)) or "No task matched."


def _added(answer: Answer) -> str:
    lines = [f"created {entity_line(entity)}" for entity in answer["entities"]]
    lines += [
        f"{a['entityName']} +{len(a['addedObservations'])} observations" for a in answer["observations"]
    ]
    lines += [f"related {relation_line(relation)}" for relation in answer["relations"]]
    if answer.get("ended"):
        lines.append(f"ended {answer['ended']} relations an exclusive one replaced")
    return "\n".join(lines) or "Nothing new: all of it was already known."


def _status_of_memory(answer: Answer) -> str:
    lines = [
        f"{n['namespace']}: " + ", ".join(f"{count} {what}" for what, count in n["counts"].items())
        for n in answer["namespaces"]
    ] or ["No memories yet."]
    lines += [f"toolset {t['name']} ({'on' if t['on'] else 'off'}): {t['about']}" for t in answer["toolsets"]]
    if answer["enabled"]:
        lines.append(f"turned on: {', '.join(answer['enabled'])} (tools/list now shows their tools)")
    return "\n".join(lines)


def _graph(answer: Answer) -> str:
    return "\n".join(graph_lines(answer) + more(answer)) or "No entity matched."


def _brief(answer: Answer) -> str:
    return "\n".join([*notices(answer), answer["text"]])


# Searches: recall's `detail` argument asks for every field of each hit in the text too.
SEARCHES = ("recall", "recall_events")
RENDERERS: dict[str, Renderer] = {
    "brief": _brief,
    "remember": _remember,
    "update": _update,
    "forget": _status,
    "restore": _status,
    "get": _get,
    "list_memories": _memories("items", "No memories."),
    "timeline": _memories("events", "No events."),
    "record_event": _recorded,
    "record_events": _recorded,
    "find_procedures": _procedures,
    "list_procedures": _procedures,
    "get_procedure": _procedure,
    "save_procedure": compact_json,
    "due": _due,
    "list_tasks": _tasks,
    "create_task": task_line,
    "update_task": task_line,
    "add_to_graph": _added,
    "memory_status": _status_of_memory,
    "read_graph": _graph,
    "search_nodes": _graph,
    "open_nodes": _graph,
    "explore_graph": _explored,
}


def late_duplicate_note(late: LateDuplicate) -> str:
    twin = late.similar
    return (
        f"fact [{late.memory_id}], stored before its vector existed, is a near-duplicate of [{twin.id}] "
        f"{twin.similarity:.2f}: {quoted(twin.content)}; update one and forget the other"
    )


def with_notes(result: HandlerResult, notes: list[str]) -> HandlerResult:
    """An answer (its wire form) with notes added to its text: what the call stored, and what the
    server found since (a late near-duplicate)."""
    if not notes or not isinstance(result, dict) or result.get("isError"):
        return result
    blocks = result.get("content") or []
    lines = [f"note: {note}" for note in notes]
    if blocks and blocks[0].get("type") == "text":
        lines.insert(0, blocks[0]["text"])
        blocks = blocks[1:]
    return {**result, "content": [{"type": "text", "text": "\n".join(lines)}, *blocks]}


def render_answer(tool: str, result: HandlerResult, *, detail: bool = False) -> HandlerResult:
    """A tools/call answer (its wire form) with its text block rendered for a model from its
    structured content; errors pass as they are."""
    if not isinstance(result, dict) or result.get("isError"):
        return result
    answer = result.get("structuredContent")
    if not isinstance(answer, dict):
        return result
    text = _recall(answer, detail) if tool in SEARCHES else RENDERERS.get(tool, compact_json)(answer)
    return {**result, "content": [{"type": "text", "text": text}]}
