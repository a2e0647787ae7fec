"""Importance decay: which old events are worth keeping raw, and which can be compacted.

    score = 0.4 * importance + 0.3 * recency + 0.2 * access + 0.1 * feedback

- recency halves every HALF_LIFE_DAYS since the event, or since a search last returned it;
- access grows with the number of times searches returned it, saturating at ACCESS_SATURATION;
- feedback is 0.5 without ratings and moves towards 1 (helpful) or 0 (unhelpful) with `rate_memory`.

An event scoring under COMPACT_BELOW, older than the compaction age and consolidated into a session
digest is compacted into that digest. Events at or above the flashbulb importance never are.
With the default importance 0.5, an event nobody searched for or rated falls under the line 48 days
after it happened (0.25 + 0.3 · 0.5^(days/30) < 0.35 from day 48).
"""

from __future__ import annotations

import math

HALF_LIFE_DAYS = 30.0
ACCESS_SATURATION = 10
COMPACT_BELOW = 0.35
DAY = 86_400.0


def importance_score(
    importance: float,
    occurred_at: float,
    last_accessed_at: float | None,
    access_count: int,
    helpful: int,
    unhelpful: int,
    now: float,
) -> float:
    """In [0, 1]: how much keeping this memory raw is worth (see the module docstring)."""
    last_seen = max(occurred_at, last_accessed_at or occurred_at)
    age_days = max(0.0, now - last_seen) / DAY
    recency = 0.5 ** (age_days / HALF_LIFE_DAYS)
    access = min(1.0, math.log1p(access_count) / math.log1p(ACCESS_SATURATION))
    feedback = 0.5 + 0.5 * math.tanh((helpful - unhelpful) / 2)
    return 0.4 * importance + 0.3 * recency + 0.2 * access + 0.1 * feedback
