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

from athena_mcp.consolidation.planner import FactPlan, Plan, ProcedurePlan, Verdict
from athena_mcp.governance import scan

MAX_SUMMARY_CHARS = 200
REVIEW_MAX_TOKENS = 800

SYSTEM_PROMPT = (
    "You review what a memory server inferred from an AI agent's logged events. For each item, decide "
    "whether it is a correct and useful generalisation: a procedure worth repeating, or a durable fact. "
    "Reject coincidences, one-off details and anything unsafe. Answer with one JSON object only."
)
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def review_prompt(plan: Plan) -> str | None:
    """The question about the plan's uncertain proposals, or None when it has none."""
    items = plan.reviewed()
    if not items:
        return None
    lines = [_describe(item) for item in items]
    example = ", ".join(f'"{item.key}": {{"valid": true, "summary": null}}' for item in items[:2])
    return (
        "Items:\n\n"
        + "\n\n".join(lines)
        + "\n\nReply with a JSON object mapping each item's key to "
        + '{"valid": true or false, "summary": a better one-line goal for a procedure, or null}, '
        + f"for example {{{example}}}."
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
    match = _JSON_OBJECT.search(answer)
    if match is None:
        return {}
    try:
        answers = json.loads(match.group(0))
    except json.JSONDecodeError:
        return {}
    verdicts: dict[str, Verdict] = {}
    if not isinstance(answers, dict):
        return verdicts
    for key, answer in answers.items():
        if not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool):
            continue
        summary = answer.get("summary")
        summary = " ".join(summary.split())[:MAX_SUMMARY_CHARS] if isinstance(summary, str) else None
        if summary and scan(summary):
            summary = None  # a goal becomes memory the agent reads: no instructions, no secrets in it
        verdicts[str(key)] = Verdict(valid=answer["valid"], summary=summary or None)
    return verdicts
