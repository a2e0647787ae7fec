"""The evaluation sets as documents and questions: LoCoMo and LongMemEval, read from a file path.

Each function is data-agnostic within its format: any split of the same benchmark works.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Document:
    key: str
    content: str
    timestamp: float | None
    session: str | None = None


@dataclass(frozen=True)
class Question:
    query: str
    relevant: frozenset[str]
    category: str
    # When it was asked, for the times it names relative to then ("3 days ago"): LongMemEval's
    # question date; for LoCoMo, which gives none, the conversation's last session.
    asked_at: float | None = None


@dataclass(frozen=True)
class Haystack:
    """One index: its documents and the questions asked of it."""

    name: str
    documents: list[Document]
    questions: list[Question]
    # "event": documents are dialog turns recorded as events; "fact": statements stored as facts
    kind: str = "event"


LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DIA_ID = re.compile(r"D:?(\d+):0*(\d+)")


def turn_text(turn: dict[str, Any]) -> str:
    """A LoCoMo dialog turn as an event's text: `<speaker> said, "<text>"`, and the caption of any
    image shared with it."""
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    if turn.get("blip_caption"):
        text += f" and shared {turn['blip_caption']}"
    return text


def locomo(path: Path) -> Iterator[Haystack]:
    """One haystack per conversation: every dialog turn a document, keyed by its dia_id."""
    for sample in json.loads(path.read_text("utf-8")):
        conversation = sample["conversation"]
        documents = []
        for key, turns in conversation.items():
            if not (key.startswith("session_") and isinstance(turns, list)):
                continue
            moment = _locomo_time(conversation.get(f"{key}_date_time"))
            for turn in turns:
                documents.append(Document(turn["dia_id"], turn_text(turn), moment, key))
        known = {document.key for document in documents}
        asked_at = max((d.timestamp for d in documents if d.timestamp is not None), default=None)
        questions = []
        for qa in sample["qa"]:
            evidence = frozenset(ref for ref in evidence_ids(qa.get("evidence", [])) if ref in known)
            if evidence:
                category = LOCOMO_CATEGORIES[qa["category"]]
                questions.append(Question(qa["question"], evidence, category, asked_at))
        yield Haystack(f"locomo-{sample['sample_id']}", documents, questions)


def locomo_facts(path: Path) -> Iterator[Haystack]:
    """One small store per conversation, of facts: the dataset authors' observations (one statement
    each, such as "Caroline attended an LGBTQ support group recently ...", citing the turn it came
    from), a few hundred a conversation. A question's relevant facts are those citing one of its
    evidence turns; identical statements are one fact citing all their turns."""
    for sample in json.loads(path.read_text("utf-8")):
        conversation = sample["conversation"]
        cites: dict[str, set[str]] = {}
        moments: dict[str, float | None] = {}
        for key, by_speaker in sample.get("observation", {}).items():
            session = key.removesuffix("_observation")
            for statements in by_speaker.values():
                for text, evidence in statements:
                    refs = [evidence] if isinstance(evidence, str) else list(evidence)
                    cites.setdefault(text, set()).update(evidence_ids(refs))
                    moments.setdefault(text, _locomo_time(conversation.get(f"{session}_date_time")))
        documents = [Document(f"F{n}", text, moments[text], None) for n, text in enumerate(cites)]
        citing: dict[str, set[str]] = {}
        for document in documents:
            for turn in cites[document.content]:
                citing.setdefault(turn, set()).add(document.key)
        asked_at = max((moment for moment in moments.values() if moment is not None), default=None)
        questions = []
        for qa in sample["qa"]:
            relevant = frozenset(
                key for turn in evidence_ids(qa.get("evidence", [])) for key in citing.get(turn, ())
            )
            if relevant:
                category = LOCOMO_CATEGORIES[qa["category"]]
                questions.append(Question(qa["question"], relevant, category, asked_at))
        yield Haystack(f"locomo-facts-{sample['sample_id']}", documents, questions, kind="fact")


def locomo_sessions(path: Path) -> Iterator[Haystack]:
    """One tiny store per conversation session (a few dozen turns), with the questions whose
    evidence lies wholly in that session."""
    for conversation in locomo(path):
        by_session: dict[str | None, list[Document]] = {}
        for document in conversation.documents:
            by_session.setdefault(document.session, []).append(document)
        for session, documents in by_session.items():
            keys = {document.key for document in documents}
            questions = [q for q in conversation.questions if q.relevant <= keys]
            if questions:
                yield Haystack(f"{conversation.name}-{session}", documents, questions)


def evidence_ids(evidence: list[str]) -> Iterator[str]:
    # A few evidence strings are malformed ("D8:6; D9:17", "D:11:26", "D30:05"): split and repair.
    for item in evidence:
        for part in re.split(r"[;\s]+", item):
            if match := _DIA_ID.fullmatch(part):
                yield f"D{int(match[1])}:{int(match[2])}"


def _locomo_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC).timestamp()


def longmemeval(path: Path, granularity: str) -> Iterator[Haystack]:
    """One haystack per question (abstention questions skipped), with the paper's documents:
    granularity "turn": each user turn, keyed `<session id>_<1-based turn index>`, relevant when it
    has the answer; "session": each session's user turns joined, relevant when it holds the answer."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        items: list[dict[str, Any]] = json.load(handle)
    for item in items:
        if item["question_id"].endswith("_abs"):
            continue
        documents, relevant = [], set()
        sessions = zip(
            item["haystack_session_ids"], item["haystack_dates"], item["haystack_sessions"], strict=True
        )
        for session_id, date, turns in sessions:
            moment = datetime.strptime(date, "%Y/%m/%d (%a) %H:%M").replace(tzinfo=UTC).timestamp()
            user_turns = [
                (index, turn) for index, turn in enumerate(turns, start=1) if turn["role"] == "user"
            ]
            if granularity == "turn":
                for index, turn in user_turns:
                    key = f"{session_id}_{index}"
                    documents.append(Document(key, turn["content"], moment, session_id))
                    if turn.get("has_answer"):
                        relevant.add(key)
            elif user_turns:
                text = "\n".join(t["content"] for _, t in user_turns)
                # The document is a whole session: it is its own session, with no neighbours.
                documents.append(Document(session_id, text, moment, session_id))
        if granularity == "session":
            relevant = set(item["answer_session_ids"]) & {document.key for document in documents}
        if relevant:
            asked_at = datetime.strptime(item["question_date"], "%Y/%m/%d (%a) %H:%M").replace(tzinfo=UTC)
            question = Question(
                item["question"], frozenset(relevant), item["question_type"], asked_at.timestamp()
            )
            yield Haystack(f"lme-{item['question_id']}-{granularity}", documents, [question])
