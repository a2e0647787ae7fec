"""Realistic benchmark text read from the shared evaluation data beside the checkout (never copied here).

Events are LoCoMo dialog turns (`<speaker> said, "<text>"`), then LongMemEval user turns (about 16k
memories so far), then the lines of LongMemEval's assistant answers (each line of at least
MIN_LINE_CHARS characters one memory, as an agent would store a step or a finding): about 165k
memories of real text in all (the assistant lines' median is 145 characters). Queries are LoCoMo
questions and facts to remember are LoCoMo's per-session observations.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from perf.eval_data import evidence_ids, turn_text

DEFAULT_EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
LOCOMO = Path("locomo") / "locomo_dev.json"
LONGMEMEVAL = Path("longmemeval") / "longmemeval_s_dev.json.gz"
LOCOMO_DATE = "%I:%M %p on %d %B, %Y"
LONGMEMEVAL_DATE = "%Y/%m/%d (%a) %H:%M"
MIN_LINE_CHARS = 40

Event = dict[str, Any]  # the arguments of one record_events item


def events(eval_dir: Path) -> Iterator[Event]:
    """Every event in a fixed order: LoCoMo, LongMemEval user turns, then assistant lines (each file
    read only when reached)."""
    yield from _locomo_events(eval_dir)
    yield from _longmemeval_events(eval_dir, assistant_lines=False)
    yield from _longmemeval_events(eval_dir, assistant_lines=True)


def questions(eval_dir: Path) -> list[str]:
    """Distinct LoCoMo questions, in file order."""
    found = (qa["question"] for sample in _locomo(eval_dir) for qa in sample["qa"])
    return list(dict.fromkeys(found))


def warmup_questions(eval_dir: Path) -> list[str]:
    """A few LongMemEval questions, disjoint from `questions`, to warm a session without filling its cache."""
    return [item["question"] for item in _longmemeval(eval_dir)[:5]]


def facts(eval_dir: Path) -> list[str]:
    """Distinct LoCoMo observations: short third-person facts, as an agent would `remember` them."""
    found = (
        observation
        for sample in _locomo(eval_dir)
        for session in sample["observation"].values()
        for per_speaker in session.values()
        for observation, _evidence in per_speaker
    )
    return list(dict.fromkeys(found))


@cache
def _locomo(eval_dir: Path) -> list[dict[str, Any]]:
    with (eval_dir / LOCOMO).open(encoding="utf-8") as file:
        data: list[dict[str, Any]] = json.load(file)
    return data


@cache
def _longmemeval(eval_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(eval_dir / LONGMEMEVAL, "rt", encoding="utf-8") as file:
        data: list[dict[str, Any]] = json.load(file)
    return data


def _locomo_events(eval_dir: Path) -> Iterator[Event]:
    for sample in _locomo(eval_dir):
        for session_id, start, index, _dia_id, text in _locomo_turns(sample):
            yield _event(text, session_id, start, index, "locomo")


def evidence_questions(eval_dir: Path) -> list[tuple[str, frozenset[tuple[str, str]]]]:
    """Distinct LoCoMo questions with the turns that answer them, each turn as the (session_id,
    content) of its event."""
    found: dict[str, frozenset[tuple[str, str]]] = {}
    for sample in _locomo(eval_dir):
        turns = {dia_id: (session_id, text) for session_id, _, _, dia_id, text in _locomo_turns(sample)}
        for qa in sample["qa"]:
            evidence = frozenset(turns[ref] for ref in evidence_ids(qa.get("evidence", [])) if ref in turns)
            if evidence and qa["question"] not in found:
                found[qa["question"]] = evidence
    return list(found.items())


def _locomo_turns(sample: dict[str, Any]) -> Iterator[tuple[str, datetime, int, str, str]]:
    """(session_id, session start, index in the session, dia_id, event text) of each dialog turn."""
    conversation = sample["conversation"]
    for key, turns in conversation.items():
        if not key.startswith("session_") or not isinstance(turns, list):
            continue
        start = datetime.strptime(conversation[f"{key}_date_time"], LOCOMO_DATE).replace(tzinfo=UTC)
        for index, turn in enumerate(turns):
            yield f"{sample['sample_id']}/{key}", start, index, turn["dia_id"], turn_text(turn)


def _longmemeval_events(eval_dir: Path, assistant_lines: bool) -> Iterator[Event]:
    items = _longmemeval(eval_dir)
    seen: set[str] = set()  # haystacks share sessions: store each once
    for item in items:
        for session_id, date, turns in zip(
            item["haystack_session_ids"], item["haystack_dates"], item["haystack_sessions"], strict=True
        ):
            if session_id in seen:
                continue
            seen.add(session_id)
            start = datetime.strptime(date, LONGMEMEVAL_DATE).replace(tzinfo=UTC)
            for index, turn in enumerate(turns):
                if assistant_lines and turn["role"] == "assistant":
                    for line in turn["content"].splitlines():
                        if len(line.strip()) >= MIN_LINE_CHARS:
                            yield _event(line.strip(), session_id, start, index, "longmemeval")
                elif not assistant_lines and turn["role"] == "user" and turn["content"].strip():
                    yield _event(turn["content"], session_id, start, index, "longmemeval")


def _event(content: str, session_id: str, start: datetime, index: int, source: str) -> Event:
    # Turns of a session a second apart, so the timeline keeps their order.
    moment = start + timedelta(seconds=index)
    return {
        "content": content,
        "event_type": "message",
        "session_id": session_id,
        "timestamp": moment.isoformat(),
        "source": source,
    }
