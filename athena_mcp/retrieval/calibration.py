"""Calibrated relevance: how likely a hit is to be what the query asks for, alike at 20 memories
and at 100k, so that a threshold ("show only what clears 0.5") means something.

The fused ranking rescales each signal over its own candidates (fusion.py): the best keyword hit
gets the full lexical weight however weak it is, and with few candidates that rescaling amplifies
noise. Relevance adds an absolute part to that relative one:

- coverage: the hit's BM25 score over the best any text could score for this query (each term's IDF
  times K1 + 1, fts.TermStatistics.best_possible): how much of the query it holds, rare terms counting most;
  for a memory outside the lexical list, that list's last score when the list was full, else 0;
- relative: the fused score over the best possible (the ranking's own measure, context included);

and maps them to a probability with a logistic model fitted on the dev splits' labelled candidates
(`python -m perf.fit_calibration`, which prints the fit and its calibration per store size). The
cosine was fitted as a third part and took a negative weight beside the relative score (at
conversation scale many turns on the question's topic have high cosines and are not the answer),
so it was left out rather than shown pulling a score down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from athena_mcp.retrieval.fusion import FusedCandidate, Signal

# (intercept, coverage, relative), from `python -m perf.fit_calibration` (64,023 labelled hits).
COEFFICIENTS = (-7.374, 2.951, 6.063)


@dataclass(frozen=True)
class Evidence:
    coverage: float
    relative: float

    @property
    def relevance(self) -> float:
        intercept, coverage, relative = COEFFICIENTS
        return 1 / (1 + math.exp(-(intercept + coverage * self.coverage + relative * self.relative)))

    def lifted(self, factor: float) -> Evidence:
        """The evidence with its relative part raised `factor` times, to order by something the fit
        does not hold, such as the time the query names (search.py). Not capped at 1, so that hits
        lifted alike keep their order; a score to report is never lifted."""
        return Evidence(self.coverage, self.relative * factor)


def ceiling(coverage: float) -> float:
    """The most relevance any hit can have when the best lexical match holds `coverage` of the query:
    no hit's coverage is above the best match's, and no relative score above 1."""
    return Evidence(coverage=min(1.0, max(0.0, coverage)), relative=1.0).relevance


def evidence_of(
    candidate: FusedCandidate,
    ranked: Mapping[Signal, Sequence[tuple[int, float]]],
    best_lexical: float,
    best_possible: float,
    depth: int,
) -> Evidence:
    """The candidate's evidence, from the signals' lists (each at most `depth` long)."""
    lexical = _raw(candidate, ranked, "lexical", depth)
    return Evidence(
        coverage=min(1.0, lexical / best_lexical) if best_lexical > 0 else 0.0,
        # Context can lift an event past the best a single memory can earn on its own: cap at 1.
        relative=min(1.0, candidate.fused / best_possible),
    )


def _raw(
    candidate: FusedCandidate,
    ranked: Mapping[Signal, Sequence[tuple[int, float]]],
    signal: Signal,
    depth: int,
) -> float:
    """The signal's raw score for the candidate; when the list left it out, the list's last score if
    the list was full (the candidate's own is at most that, but for a text holding only common query
    terms, which the lexical list may leave out above it: fts.lexical_search), else 0 (nothing more
    matched)."""
    if signal in candidate.signals:
        return max(0.0, candidate.signals[signal][1])
    hits = ranked.get(signal, ())
    return max(0.0, hits[-1][1]) if len(hits) >= depth else 0.0
