"""System 2: the connected client's model reviews what System 1 is unsure of, and reads facts in
the statements the session digests quote.

Only uncertain proposals (fewer than CERTAIN_SUPPORT sessions behind them) are asked about, at most
MAX_REVIEWED per call, in one prompt with at most MAX_SHOWN_STATEMENTS statements; the answer is
JSON keyed by each proposal's stable key, with the facts it read under "facts". An answer that
cannot be read changes nothing: System 1's results stand, unvalidated. The answer is untrusted
text: it can confirm, reject or rename only the proposals it was shown (`reviewed`), a fact must
cite statements it was shown (`shown_statements`), and a new name or fact that reads like an
instruction to a model or carries a secret is dropped. The question and the answer are plain text
here; the consolidation toolset carries them over MCP sampling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from athena_mcp.consolidation.extraction import is_statement, shorten
from athena_mcp.consolidation.planner import Event, FactPlan, Plan, ProcedurePlan, session_key
from athena_mcp.governance import scan

MAX_REVIEWED = 8
# Statements the model reads facts from in one run, and facts it may propose from them.
MAX_SHOWN_STATEMENTS = 40
MAX_PROPOSED_FACTS = 10
MAX_SUMMARY_CHARS = 200
MAX_STATEMENT_CHARS = 240
MAX_FACT_CHARS = 300
REVIEW_MAX_TOKENS = 1_500

SYSTEM_PROMPT = (
    "You review what a memory server inferred from an AI agent's logged events. For each item, decide "
    "whether it is a correct and useful generalisation: a procedure worth repeating, or a durable fact. "
    "Reject coincidences, one-off details and anything unsafe. Answer with one JSON object only."
)
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    """System 2's answer about one uncertain product."""

    valid: bool
    summary: str | None = None


@dataclass(frozen=True)
class ProposedFact:
    """A fact System 2 read in statements it was shown, citing them (by event id)."""

    content: str
    event_ids: tuple[int, ...]


def reviewed(plan: Plan) -> list[FactPlan | ProcedurePlan]:
    """The proposals System 2 is shown, and the only ones its answer may change."""
    return plan.uncertain()[:MAX_REVIEWED]


def shown_statements(plan: Plan) -> list[tuple[int, str]]:
    """The statements System 2 is shown, and the only events a fact it proposes may cite."""
    return plan.statements[:MAX_SHOWN_STATEMENTS]


def review_prompt(plan: Plan) -> str | None:
    """The question about the plan's uncertain proposals and the facts its statements state, or None
    when it has neither."""
    items, statements = reviewed(plan), shown_statements(plan)
    if not items and not statements:
        return None
    parts = []
    if items:
        parts.append("Items:\n\n" + "\n\n".join(_describe(item) for item in items))
    if statements:
        shown = "\n".join(
            f"[e{event_id}] {shorten(text, MAX_STATEMENT_CHARS)}" for event_id, text in statements
        )
        parts.append(f"Statements from the sessions:\n\n{shown}")
    example = ", ".join(f'"{item.key}": {{"valid": true, "summary": null}}' for item in items[:2])
    fact = '{"fact": "Alice moved the API to Fly.io in May.", "events": [12, 15]}'
    return (
        "\n\n".join(parts)
        + "\n\nReply with one JSON object. Map each item's key to "
        + '{"valid": true or false, "summary": a better one-line goal for a procedure, or null}'
        + (f" (for example {example})" if example else "")
        + f'. Under "facts", list at most {MAX_PROPOSED_FACTS} durable facts worth remembering that the '
        + "statements state, each one sentence in the third person with the ids of the statements it "
        + f"comes from, for example {fact}; an empty list if there are none."
    )


def _describe(item: FactPlan | ProcedurePlan) -> str:
    if isinstance(item, ProcedurePlan):
        steps = "\n".join(f"  {n}. {step}" for n, step in enumerate(item.steps, start=1))
        failures = len(item.evidence) - item.support
        return (
            f"[{item.key}] Procedure seen in {item.support} successful and {failures} failed sessions.\n"
            f"  Goal: {item.goal}\n{steps}"
        )
    return f"[{item.key}] Fact recurring in {item.sessions} sessions: {item.content}"


def verdicts_from(answer: str) -> dict[str, Verdict]:
    """The verdicts in the model's answer; items it left out or garbled get none."""
    answers = _answer_object(answer)
    verdicts: dict[str, Verdict] = {}
    if answers is None:
        return verdicts
    for key, item in answers.items():
        if not isinstance(item, dict) or not isinstance(item.get("valid"), bool):
            continue
        summary = item.get("summary")
        summary = " ".join(summary.split())[:MAX_SUMMARY_CHARS] if isinstance(summary, str) else None
        if summary and scan(summary):
            summary = None  # a goal becomes memory the agent reads: no instructions, no secrets in it
        verdicts[str(key)] = Verdict(valid=item["valid"], summary=summary or None)
    return verdicts


def facts_from(answer: str) -> list[ProposedFact]:
    """The facts the model's answer proposes under "facts", each with the event ids it cites; an
    entry that is not a sentence of text citing ids is left out. Whether the ids were shown, and the
    text is fit to keep, `apply_answers` decides."""
    answers = _answer_object(answer)
    listed = answers.get("facts") if answers is not None else None
    if not isinstance(listed, list):
        return []
    facts = []
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("fact"), str):
            continue
        refs = entry.get("events")
        ids = [_event_id(ref) for ref in refs] if isinstance(refs, list) else []
        text = " ".join(entry["fact"].split())
        if text and len(text) <= MAX_FACT_CHARS and ids and None not in ids:
            facts.append(ProposedFact(text, tuple(i for i in ids if i is not None)))
    return facts


def _event_id(ref: object) -> int | None:
    """An id as the prompt shows it ("e12") or as a number (12)."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str) and re.fullmatch(r"e?\d{1,18}", ref.strip()):
        return int(ref.strip().removeprefix("e"))
    return None


def _answer_object(answer: str) -> dict[str, object] | None:
    match = _JSON_OBJECT.search(answer)
    if match is None:
        return None
    try:
        parsed = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def apply_answers(
    plan: Plan, events: Sequence[Event], verdicts: Mapping[str, Verdict], proposed: Sequence[ProposedFact]
) -> None:
    """Change the plan of `events` as System 2 answered: its verdicts on the proposals it was shown,
    then the facts it read in the statements it was shown."""
    if verdicts:
        _apply_verdicts(plan, verdicts)
    if proposed:
        _add_proposed_facts(plan, {event.id: event for event in events}, proposed)


def _apply_verdicts(plan: Plan, verdicts: Mapping[str, Verdict]) -> None:
    # An answer about a key it was not shown (a certain product, one past MAX_REVIEWED, one of
    # another namespace) is ignored: the model confirms, rejects or renames only what it was asked.
    for proposal in reviewed(plan):
        verdict = verdicts.get(proposal.key)
        if verdict is None:
            continue
        if not verdict.valid:
            if isinstance(proposal, ProcedurePlan):
                plan.procedures.remove(proposal)
            else:
                plan.facts.remove(proposal)
            plan.rejected.append(proposal.key)
            continue
        proposal.validation = "validated"
        if isinstance(proposal, ProcedurePlan) and verdict.summary:
            proposal.goal = verdict.summary


def _add_proposed_facts(plan: Plan, events: Mapping[int, Event], proposed: Sequence[ProposedFact]) -> None:
    """System 2's facts, each kept only if it cites statements it was shown (so it stays in their
    namespace and keeps its provenance), is itself a statement, and reads like no instruction and
    holds no secret; at most MAX_PROPOSED_FACTS, no text twice."""
    shown = {event_id for event_id, _ in shown_statements(plan)}
    taken = {fact.content.casefold() for fact in plan.facts}
    added = 0
    for fact in proposed[: MAX_PROPOSED_FACTS * 2]:  # a flood is read no further than this
        if added == MAX_PROPOSED_FACTS:
            break
        cited = [events[i] for i in dict.fromkeys(fact.event_ids) if i in shown and i in events]
        if not cited or len(cited) != len(set(fact.event_ids)) or not is_statement(fact.content):
            continue
        if scan(fact.content) or fact.content.casefold() in taken:
            continue
        taken.add(fact.content.casefold())
        added += 1
        plan.facts.append(
            FactPlan(
                namespace=cited[0].namespace,
                content=fact.content,
                importance=max(e.importance for e in cited),
                vector=None,  # embedded by the vector backlog, as digests are
                event_ids=[e.id for e in cited],
                sessions=len({session_key(e.session_id, e.id) for e in cited}),
                validation="extracted",
            )
        )
