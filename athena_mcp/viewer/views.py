"""What each viewer command shows: a memory with its history and lineage, a procedure with its runs,
a session, the latest sessions and procedures, a search with its scores, the timeline. Each returns
the text to print: tables for a person, or one JSON document (`as_json`) for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from athena_mcp.models import Memory
from athena_mcp.services import Services
from athena_mcp.store.filters import MemoryFilter
from athena_mcp.viewer import data
from athena_mcp.viewer.tables import clip, table, when, width


def _json(value: Any) -> str:
    return json.dumps(
        value.as_json() if hasattr(value, "as_json") else data.dump(value), ensure_ascii=False, indent=2
    )


def _memory_rows(found: Sequence[Memory]) -> list[list[object]]:
    return [
        [when(memory.timestamp), memory.id, memory.kind, memory.session_id or "-", memory.content]
        for memory in found
    ]


async def show_memory(services: Services, memory_id: int, as_json: bool) -> str:
    view = await data.memory_view(services, memory_id)
    if as_json:
        return _json(view)
    memory, history, lineage, used = view.memory, view.history, view.lineage, view.usage
    lines = [
        f"memory {memory.id} · {memory.system} {memory.kind} · namespace {memory.namespace} · {memory.status}"
        f" · version {memory.version}",
        "",
        memory.content,
        "",
        f"when      {when(memory.timestamp)} UTC "
        f"(stored {when(memory.created_at)}, updated {when(memory.updated_at)})",
        f"tags      {', '.join(memory.tags) or '-'}",
        f"importance {memory.importance:.2f} · origin {memory.origin or '-'} · trust {memory.trust}",
    ]
    if memory.session_id:
        lines.append(
            f"session   {memory.session_id}" + (f" · outcome {memory.outcome}" if memory.outcome else "")
        )
    if memory.forget_reason:
        lines.append(f"forgotten {memory.forget_reason}")
    lines.append(
        f"used      recalled {used['recalled']} times (last {when(used['last_recalled'])}), "
        f"rated helpful {used['helpful']}, unhelpful {used['unhelpful']}"
    )
    if lineage.sources:
        lines.append(f"came from events {', '.join(map(str, lineage.sources))}")
    if lineage.products:
        lines.append("made into " + ", ".join(f"{kind} {product}" for kind, product in lineage.products))
    if history:
        lines += ["", "earlier versions"]
        lines.append(
            table(
                ("version", "from", "until", "why", "content"),
                [
                    [v.version, when(v.valid_from), when(v.superseded_at), v.change_reason or "-", v.content]
                    for v in history
                ],
            )
        )
    return "\n".join(lines)


async def show_procedure(services: Services, procedure_id: int, as_json: bool) -> str:
    detail = await data.procedure_view(services, procedure_id)
    if as_json:
        return _json(detail)
    stats = detail.stats
    rate = "-" if stats.success_rate is None else f"{stats.success_rate:.0%}"
    lines = [
        f"procedure {detail.id} · {detail.name} · namespace {detail.namespace} · {detail.status}, "
        f"{detail.origin}, {detail.validation}",
        f"goal: {detail.goal}",
        "",
        *(f"{n:>3}. {step}" for n, step in enumerate(detail.steps, 1)),
        "",
        f"runs {stats.runs} (success {stats.successes}, failure {stats.failures}, "
        f"partial {stats.partials}) · success rate {rate} · confidence {stats.confidence:.2f}",
    ]
    if detail.preconditions:
        lines.append(f"before: {'; '.join(detail.preconditions)}")
    if detail.expected_outcome:
        lines.append(f"expect: {detail.expected_outcome}")
    if detail.evidence_sessions:
        lines.append(f"seen in sessions {', '.join(detail.evidence_sessions)}")
    if detail.recent_runs:
        lines += ["", "latest runs"]
        lines.append(
            table(
                ("when", "outcome", "seconds", "session", "notes"),
                [
                    [
                        when(run.recorded_at),
                        run.outcome,
                        "-" if run.duration is None else f"{run.duration:.1f}",
                        run.session_id or "-",
                        run.notes or "-",
                    ]
                    for run in detail.recent_runs
                ],
            )
        )
    return "\n".join(lines)


async def show_session(services: Services, namespace: str, session_id: str, limit: int, as_json: bool) -> str:
    view = await data.session_view(services, namespace, session_id, limit)
    if as_json:
        return _json(view)
    digest, events = view.digest, view.events
    lines = [f"session {session_id} · namespace {namespace} · {len(events)} events shown"]
    if digest is not None:
        lines += ["", f"digest (memory {digest.id}): {clip(digest.content, 4 * width())}"]
    lines += ["", table(("when", "id", "type", "outcome", "content"), _event_rows(events))]
    return "\n".join(lines)


def _event_rows(events: Sequence[Memory]) -> list[list[object]]:
    return [[when(e.timestamp), e.id, e.kind, e.outcome or "-", e.content] for e in events]


async def list_sessions(services: Services, namespaces: tuple[str, ...], limit: int, as_json: bool) -> str:
    listed = await data.session_list(services, namespaces, limit)
    if as_json:
        return _json(listed)
    spans = [span for span, _ in listed.sessions]
    if not spans:
        return f"No sessions in {', '.join(namespaces)}."
    rows = []
    for span, digest in listed.sessions:
        rows.append(
            [
                when(span.last),
                span.namespace,
                span.session_id,
                span.events,
                when(span.first),
                "-" if digest is None else digest.content,
            ]
        )
    return table(("last event", "namespace", "session", "events", "first event", "digest"), rows)


async def list_procedures(services: Services, namespace: str, limit: int, as_json: bool) -> str:
    page = await data.procedure_list(services, namespace, limit)
    if as_json:
        return _json(page)
    if not page.items:
        return f"No procedures in {namespace}."
    rows = [
        [
            p.id,
            p.status,
            p.origin,
            p.stats.runs,
            "-" if p.stats.success_rate is None else f"{p.stats.success_rate:.0%}",
            f"{p.stats.confidence:.2f}",
            f"{p.name}: {p.goal}" if p.goal != p.name else p.name,
        ]
        for p in page.items
    ]
    return table(("id", "status", "origin", "runs", "success", "confidence", "procedure"), rows)


async def search(
    services: Services, query: str, namespaces: tuple[str, ...], limit: int, explain: bool, as_json: bool
) -> str:
    searched = await data.search(services, query, namespaces, limit, explain)
    if as_json:
        return _json(searched)
    found, seconds = searched.result, searched.seconds
    if not found.results:
        return f"Nothing in {', '.join(namespaces)} matches {query!r}."
    rows = []
    for hit in found.results:
        parts = [f"{hit.score:.2f}", hit.id, hit.system[:3], hit.kind, when(hit.timestamp)]
        if explain and hit.explain is not None:
            lexical = hit.explain.lexical
            dense = hit.explain.dense
            parts.append(f"bm25 #{lexical.rank}" if lexical else "-")
            parts.append(f"cos {dense.score:.2f} #{dense.rank}" if dense else "-")
        rows.append([*parts, hit.content])
    headers = ["score", "id", "sys", "kind", "when", *(["lexical", "dense"] if explain else []), "content"]
    footer = f"\n{len(found.results)} results, {found.mode} search, {seconds * 1000:.0f} ms"
    return table(headers, rows) + footer + (f"; {found.notice}" if found.notice else "")


async def timeline(
    services: Services, memory_filter: MemoryFilter, limit: int, from_start: bool, as_json: bool
) -> str:
    """Events in time order: the latest `limit`, or the first `limit` from `since` on."""
    events = (await data.timeline(services, memory_filter, limit, from_start)).events
    if as_json:
        return _json([data.dump(event) for event in events])
    if not events:
        return "No events match."
    return table(("when", "id", "type", "session", "content"), _memory_rows(events))
