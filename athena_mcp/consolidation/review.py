"""System 2: the connected client's model reviews what System 1 is unsure of.

Only uncertain proposals (fewer than CERTAIN_SUPPORT sessions behind them) are asked about, at most
MAX_REVIEWED per call, in one prompt; the answer is JSON keyed by each proposal's stable key. An
answer that cannot be read changes nothing: System 1's results stand, unvalidated. The answer is
untrusted text: it can confirm, reject or rename only the proposals it was shown
(`Plan.reviewed`), and a new name that reads like an instruction to a model or carries a secret is
dropped. The question and the answer are plain text here; the consolidation toolset carries them
over MCP sampling.
"""

from __future__ import annotations

import json
import re

from athena_mcp.consolidation.planner import (
    MAX_PROPOSED_FACTS,
    FactPlan,
    Plan,
    ProcedurePlan,
    ProposedFact,
    Verdict,
)
from athena_mcp.governance import scan

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


def review_prompt(plan: Plan) -> str | None:
    """The question about the plan's uncertain proposals and the facts its statements state, or None
    when it has neither."""
    items, statements = plan.reviewed(), plan.shown_statements()
    if not items and not statements:
        return None
    parts = []
    if items:
        parts.append("Items:\n\n" + "\n\n".join(_describe(item) for item in items))
    if statements:
        shown = "\n".join(f"[e{event_id}] {_shorten(text)}" for event_id, text in statements)
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


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_STATEMENT_CHARS else flat[: MAX_STATEMENT_CHARS - 1] + "…"


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
    text is fit to keep, the planner decides (planner._add_proposed_facts)."""
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
