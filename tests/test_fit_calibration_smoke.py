"""The calibration fit (perf/fit_calibration.py): the logistic fit and its report, on known data."""

from __future__ import annotations

import numpy as np
import pytest

from perf import fit_calibration


def test_the_fit_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    features = rng.uniform(0, 1, size=(20_000, 2))
    truth = np.array([-4.0, 3.0, 5.0])
    chance = 1 / (1 + np.exp(-(truth[0] + features @ truth[1:])))
    labels = (rng.uniform(size=len(chance)) < chance).astype(float)
    beta = fit_calibration.fit(features, labels, np.ones(len(labels)))
    assert beta == pytest.approx(truth, abs=0.25)
    # Weights count rows: doubling every weight changes nothing.
    assert fit_calibration.fit(features, labels, np.full(len(labels), 2.0)) == pytest.approx(beta, abs=1e-3)


def test_the_report_counts_precision_above_each_threshold_and_recall_by_the_scores():
    def row(question: str, rank: int, key: str, relevant: bool) -> dict:
        return {
            "run": "r",
            "question": question,
            "rank": rank,
            "key": key,
            "relevant": relevant,
            "relevant_keys": ["a"] if question == "q1" else ["d"],
        }

    rows = [
        row("q1", 1, "b", False),
        row("q1", 2, "a", True),
        row("q2", 1, "d", True),
        row("q2", 2, "e", False),
    ]
    scores = np.array([0.3, 0.8, 0.6, 0.1])
    report = fit_calibration.report(rows, scores)["r"]
    assert report[">=0.25"] == {"precision": pytest.approx(2 / 3, abs=1e-3), "hits_per_question": 1.5}
    assert report[">=0.5"] == {"precision": 1.0, "hits_per_question": 1.0}
    assert report[">=0.75"] == {"precision": 1.0, "hits_per_question": 0.5}


def test_recall_in_the_report_follows_the_scores_not_the_search_rank():
    # The relevant hit came sixth from the search but scores highest: ordered by score, it is first.
    rows = [
        {
            "run": "r",
            "question": "q",
            "rank": rank,
            "key": f"k{rank}",
            "relevant": rank == 6,
            "relevant_keys": ["k6"],
        }
        for rank in range(1, 7)
    ]
    scores = np.array([0.2, 0.2, 0.1, 0.1, 0.1, 0.9])
    assert fit_calibration.report(rows, scores)["r"]["recall@5"] == 1.0
    assert fit_calibration.report(rows, np.zeros(6))["r"]["recall@5"] == 0.0  # ties keep the search rank
