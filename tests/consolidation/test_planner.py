"""System 1's decisions on hand-made vectors: procedures, evidence, candidates, facts, names, verdicts."""

from __future__ import annotations

import numpy as np

from athena_mcp.consolidation.planner import (
    Event,
    plan_chunk,
    session_steps,
)
from athena_mcp.consolidation.review import Verdict, apply_answers
from athena_mcp.consolidation.sequences import UnionFind, sequence_similarity
from athena_mcp.memory.entity_linking import mentioned_names
from athena_mcp.store.consolidation import EarlierEvent

DIM = 8


def unit(index: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[index] = 1.0
    return vector


def session(
    first_id: int, session_id: str, steps: list[int], outcome: str, namespace: str = "default"
) -> list[Event]:
    """A goal message, one action per step direction, then the outcome."""
    events = [
        Event(first_id, namespace, "message", f"Goal: ship {session_id}", session_id, None, 0.0, 0.5, unit(7))
    ]
    for n, step in enumerate(steps, start=1):
        events.append(
            Event(
                first_id + n, namespace, "action", f"step {step}", session_id, None, float(n), 0.5, unit(step)
            )
        )
    end = first_id + len(steps) + 1
    events.append(Event(end, namespace, "observation", "done", session_id, outcome, float(end), 0.5, unit(6)))
    return events


def test_sequence_similarity_counts_steps_matching_in_order_over_the_longer_sequence():
    a = np.stack([unit(0), unit(1), unit(2)])
    assert sequence_similarity(a, a) == 1.0
    assert sequence_similarity(a, np.stack([unit(0), unit(2)])) == 2 / 3
    assert sequence_similarity(a, np.stack([unit(2), unit(1), unit(0)])) == 1 / 3
    assert sequence_similarity(a, np.empty((0, DIM), dtype=np.float32)) == 0.0


def test_union_find_groups_transitively():
    groups = UnionFind()
    groups.union(1, 2)
    groups.union(3, 2)
    groups.union(5, 6)
    assert sorted(sorted(g) for g in groups.groups()) == [[1, 2, 3], [5, 6]]


def test_two_successful_sessions_with_the_same_steps_make_a_procedure_with_their_evidence():
    events = session(1, "a", [0, 1, 2], "success") + session(10, "b", [0, 1, 2], "success")
    plan = plan_chunk(events, [], {}, {}, {})
    [procedure] = plan.procedures
    assert procedure.steps == ("step 0", "step 1", "step 2")
    assert procedure.goal == "Goal: ship a" or procedure.goal == "Goal: ship b"
    assert [s.session_id for s in procedure.evidence] == ["a", "b"] and procedure.support == 2
    assert plan.new_candidates == [] and plan.used_candidates == []


def test_a_lone_successful_session_waits_and_a_later_similar_one_completes_the_procedure():
    first = plan_chunk(session(1, "a", [0, 1, 2], "success"), [], {}, {}, {})
    assert first.procedures == [] and [c.session_id for c in first.new_candidates] == ["a"]
    waiting = {"default": first.new_candidates}
    second = plan_chunk(session(10, "b", [0, 1, 2, 3], "success"), [], {}, {}, waiting)
    [procedure] = second.procedures
    assert {s.session_id for s in procedure.evidence} == {"a", "b"}
    assert [c.session_id for c in second.used_candidates] == ["a"] and second.new_candidates == []


def test_a_session_that_goes_on_later_replaces_its_waiting_part_and_is_never_its_own_support():
    first = plan_chunk(session(1, "a", [0, 1, 2], "success"), [], {}, {}, {})
    resumed = plan_chunk(
        session(10, "a", [0, 1, 2], "success"), [], {}, {}, {"default": first.new_candidates}
    )
    assert resumed.procedures == []
    assert [c.session_id for c in resumed.new_candidates] == ["a"]
    assert resumed.used_candidates == first.new_candidates  # the earlier part's row is replaced


def test_steps_of_another_model_never_match():
    known = {"default": [(42, np.ones((3, DIM + 1), dtype=np.float32))]}
    plan = plan_chunk(session(1, "a", [0, 1, 2], "success"), [], {}, known, {})
    assert plan.evidence == []


def test_sessions_repeating_a_known_procedure_become_evidence_for_and_against_it():
    known = {"default": [(42, np.stack([unit(0), unit(1), unit(2)]))]}
    events = session(1, "win", [0, 1, 2], "success") + session(10, "loss", [0, 1, 2], "failure")
    plan = plan_chunk(events, [], {}, known, {})
    assert [(e.procedure_id, e.session.outcome) for e in plan.evidence] == [(42, "success"), (42, "failure")]
    assert plan.procedures == []


def test_a_different_workflow_or_a_session_without_outcome_is_not_evidence():
    known = {"default": [(42, np.stack([unit(0), unit(1), unit(2)]))]}
    other = session(1, "other", [3, 4, 5], "success")
    no_outcome = [e for e in session(10, "open", [0, 1, 2], "success") if e.outcome is None]
    plan = plan_chunk(other + no_outcome, [], {}, known, {})
    assert plan.evidence == [] and [c.session_id for c in plan.new_candidates] == ["other"]
    assert session_steps("default", "open", no_outcome) is None


def test_namespaces_never_share_procedures_or_candidates():
    events = session(1, "a", [0, 1], "success", "alpha") + session(10, "b", [0, 1], "success", "beta")
    plan = plan_chunk(events, [], {}, {"beta": [(7, np.stack([unit(0), unit(1)]))]}, {})
    assert [(e.procedure_id, e.session.namespace) for e in plan.evidence] == [(7, "beta")]
    assert [c.namespace for c in plan.new_candidates] == ["alpha"]


def test_a_text_recurring_in_two_sessions_becomes_one_fact_and_links_to_an_existing_one():
    a = Event(1, "default", "observation", "The CI runs on Python 3.11", "s1", None, 1.0, 0.4, unit(0))
    b = Event(2, "default", "observation", "CI runs on Python 3.11", "s2", None, 2.0, 0.7, unit(0))
    c = Event(3, "default", "observation", "CI runs on Python 3.11", "s2", None, 3.0, 0.5, unit(0))
    plan = plan_chunk([a, b, c], [(1, 2), (2, 3)], {}, {}, {})
    [fact] = plan.facts
    assert fact.content == "CI runs on Python 3.11" and fact.importance == 0.7
    assert fact.event_ids == [1, 2, 3] and fact.sessions == 2 and fact.existing_fact_id is None

    same_session = plan_chunk([b, c], [(2, 3)], {}, {}, {})
    assert same_session.facts == []

    earlier = {9: EarlierEvent(9, "default", "s0", 0.0, fact_id=77)}
    linked = plan_chunk([b], [(2, 9)], earlier, {}, {})
    assert [(f.existing_fact_id, f.event_ids) for f in linked.facts] == [(77, [2, 9])]


def test_digests_need_three_events_and_name_pairs_come_from_one_event():
    events = session(1, "a", [0, 1], "success")
    events.append(
        Event(99, "default", "observation", "Alice met Bob Smith in Berlin", None, None, 9.0, 0.5, unit(5))
    )
    plan = plan_chunk(events, [], {}, {}, {})
    [digest] = plan.digests
    assert digest.session_id == "a" and digest.event_ids == (1, 2, 3, 4)
    assert "outcome success" in digest.content and "action: step 0" in digest.content
    assert {(p.source_name, p.target_name) for p in plan.pairs} == {
        ("Berlin", "Bob Smith"),
    }


def test_the_goal_is_the_stated_intent_not_an_unrelated_event_of_the_same_batch():
    # One record_events batch: every event has the same time; only the recorded order tells.
    def batch(texts_and_vectors: list[tuple[str, str, np.ndarray]]) -> list[Event]:
        return [
            Event(
                n, "default", kind, text, "s", "success" if n == len(texts_and_vectors) else None, 5.0, 0.5, v
            )
            for n, (kind, text, v) in enumerate(texts_and_vectors, start=1)
        ]

    steps = [
        ("action", "git checkout main", unit(0)),
        ("action", "pytest", unit(1)),
        ("action", "publish", unit(2)),
    ]
    unrelated = ("observation", "The staging database password rotates every Monday", unit(7))
    stated = ("message", "We need to publish the documentation", unit(7))
    near = ("observation", "Docs release", (unit(0) + unit(1) + unit(2)) / np.sqrt(3))
    assert session_steps("default", "s", batch([unrelated, stated, *steps])).goal == stated[1]
    assert session_steps("default", "s", batch([unrelated, near, *steps])).goal == "Docs release"
    assert session_steps("default", "s", batch([unrelated, *steps])).goal == "git checkout main … publish"
    # An intent stated after the work began names nothing.
    assert (
        session_steps("default", "s", batch([*steps[:1], stated, *steps[1:]])).goal
        == "git checkout main … publish"
    )


def test_names_skip_sentence_initial_capitals_and_keep_quoted_phrases():
    assert mentioned_names('Alice asked "vector index" about Postgres and The Berlin office') == [
        "vector index",
        "Postgres",
        "Berlin",
    ]


def test_names_in_dialog_are_not_greetings_or_whole_utterances():
    # From a LoCoMo conversation recorded as events: greetings paired with names became graph candidates.
    assert mentioned_names('Caroline said, "Hey Melanie, great to hear from you. Thanks!"') == ["Melanie"]
    assert mentioned_names('Mel said, "Thanks, Caroline!"') == ["Caroline"]
    assert mentioned_names('Mel said, "Awesome, glad it went well."') == []
    assert mentioned_names('Gina said, "Yesterday I met Jon. BTW Jon says hi."') == ["Jon"]
    assert mentioned_names('Jon said, "See you Next Friday, or Tues at the latest, with May."') == ["May"]
    assert mentioned_names('Caroline said, "I loved "Becoming Nicole" by Amy Ellis Nutt."') == [
        "Becoming Nicole",
        "Amy Ellis Nutt",
    ]


def test_verdicts_drop_rejected_proposals_and_mark_confirmed_ones():
    events = session(1, "a", [0, 1, 2], "success") + session(10, "b", [0, 1, 2], "success")
    plan = plan_chunk(events, [], {}, {}, {})
    [procedure] = plan.procedures
    assert plan.uncertain() == [procedure]
    confirmed = plan_chunk(events, [], {}, {}, {})
    apply_answers(confirmed, events, {procedure.key: Verdict(True, "Ship a release")}, ())
    assert (
        confirmed.procedures[0].validation == "validated" and confirmed.procedures[0].goal == "Ship a release"
    )
    rejected = plan_chunk(events, [], {}, {}, {})
    apply_answers(rejected, events, {procedure.key: Verdict(False)}, ())
    assert rejected.procedures == [] and rejected.rejected == [procedure.key]


def test_only_statements_recurring_across_sessions_become_facts():
    # A first use found "docs published" and "Goal: publish documentation" stored as facts.
    texts = [
        "docs published",
        "Goal: publish documentation",
        "Thanks!",
        "The staging database runs PostgreSQL 16",
    ]
    events = [
        Event(10 * n + s, "default", "observation", text, f"s{s}", None, float(s), 0.5, unit(n))
        for n, text in enumerate(texts)
        for s in (1, 2)
    ]
    repeats = [(10 * n + 1, 10 * n + 2) for n in range(len(texts))]
    plan = plan_chunk(events, repeats, {}, {}, {})
    assert [fact.content for fact in plan.facts] == ["The staging database runs PostgreSQL 16"]
