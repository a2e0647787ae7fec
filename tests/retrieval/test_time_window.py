"""The time a query names, and search ranking the memories of that time first."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from athena_mcp.retrieval.time_window import named_window
from tests.conftest import call, open_client

# A Monday.
NOW = datetime(2023, 3, 20, 11, 50, tzinfo=UTC).timestamp()


def days(query: str) -> tuple[date, date, str] | None:
    window = named_window(query, NOW)
    if window is None:
        return None
    start, end = (datetime.fromtimestamp(t, tz=UTC).date() for t in (window.start, window.end))
    return start, end, window.phrase


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A day is widened by a day either side: events are often told the day after.
        (
            "What did Gina find on 1 February, 2023?",
            (date(2023, 1, 31), date(2023, 2, 3), "1 february, 2023"),
        ),
        (
            "What did she show on October 13th, 2023?",
            (date(2023, 10, 12), date(2023, 10, 15), "october 13th, 2023"),
        ),
        ("deploys on 2023-03-02", (date(2023, 3, 1), date(2023, 3, 4), "2023-03-02")),
        ("What setback came in Oct 2023?", (date(2023, 10, 1), date(2023, 11, 1), "oct 2023")),
        ("the launch in Sept 2023", (date(2023, 9, 1), date(2023, 10, 1), "sept 2023")),
        ("What happened in December 2022?", (date(2022, 12, 1), date(2023, 1, 1), "december 2022")),
        ("What did I share 5 days ago?", (date(2023, 3, 14), date(2023, 3, 17), "5 days ago")),
        ("What broke two weeks ago?", (date(2023, 3, 3), date(2023, 3, 10), "two weeks ago")),
        ("What did I do yesterday?", (date(2023, 3, 18), date(2023, 3, 21), "yesterday")),
        ("a gift last Saturday", (date(2023, 3, 17), date(2023, 3, 20), "last saturday")),
        ("the call last Monday", (date(2023, 3, 12), date(2023, 3, 15), "last monday")),
        (
            "trips in the past three months",
            (date(2022, 12, 20), date(2023, 3, 21), "in the past three months"),
        ),
        ("errors in the last week", (date(2023, 3, 13), date(2023, 3, 21), "in the last week")),
        ("what we decided last month", (date(2023, 2, 1), date(2023, 3, 1), "last month")),
        (
            "pieces written since I started again three weeks ago",
            (date(2023, 2, 26), date(2023, 3, 21), "since i started again three weeks ago"),
        ),
        # A full date wins over a relative phrase in the same query.
        ("yesterday, or on 1 March 2023?", (date(2023, 2, 28), date(2023, 3, 3), "1 march 2023")),
    ],
)
def test_the_time_a_query_names_is_read_as_a_window(query, expected):
    assert days(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "What is in the 2023 budget?",  # a year alone is often a name, not a time
        "How many days ago did I watch the Super Bowl?",
        "May I ask about the deploy?",
        "What happened on February 30, 2023?",  # no such day
        "in December 9999",  # past the calendar's end
        "on December 31, 9999",
        "the last day of the trip",  # a last, not a time
        "what I learnt in the last year of college",
        "Where is the staging database?",
    ],
)
def test_a_query_naming_no_time_has_no_window(query):
    assert named_window(query, NOW) is None


async def test_recall_ranks_the_memories_of_the_named_day_first_and_says_why(settings, minilm):
    events = [
        {
            "content": "Deployed the billing service to production",
            "timestamp": f"2023-03-{day:02d}T10:00:00+00:00",
        }
        for day in (1, 8, 15)
    ]
    async with open_client(settings, minilm) as client:
        ids = (await call(client, "record_events", events=events))["ids"]
        plain = await call(client, "recall", query="What did we deploy?", explain=True)
        assert plain["results"][0]["id"] == ids[2]  # the newest, all else equal
        assert all(hit["explain"]["window"] is None for hit in plain["results"])
        named = await call(client, "recall", query="What did we deploy on March 8, 2023?", explain=True)
        first = named["results"][0]
        assert first["id"] == ids[1]
        assert first["explain"]["window"] == "march 8, 2023: 2023-03-07 to 2023-03-09"
        assert [hit["explain"]["window"] for hit in named["results"][1:]] == [None, None]
