"""The cron parser and its search for the next and the latest occurrence, against worked examples and
against a minute-by-minute scan of schedules hypothesis makes up."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from athena_mcp.errors import InvalidInput
from athena_mcp.memory.cron import parse_cron


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("*/15 * * * *", utc(2025, 3, 1, 10, 7), utc(2025, 3, 1, 10, 15)),
        ("*/15 * * * *", utc(2025, 3, 1, 10, 15), utc(2025, 3, 1, 10, 30)),  # strictly after
        ("*/15 * * * *", utc(2025, 3, 1, 10, 14, 59, 999), utc(2025, 3, 1, 10, 15)),
        ("0 9 * * mon-fri", utc(2025, 3, 7, 10, 0), utc(2025, 3, 10, 9, 0)),  # Friday -> Monday
        ("30 23 31 * *", utc(2025, 2, 1), utc(2025, 3, 31, 23, 30)),  # skips the short month
        ("0 0 29 2 *", utc(2025, 3, 1), utc(2028, 2, 29)),  # the next leap day
        ("0 0 1 1 *", utc(2025, 12, 31, 23, 59), utc(2026, 1, 1)),  # over the year's end
        ("0 12 * * 7", utc(2025, 3, 3), utc(2025, 3, 9, 12, 0)),  # 7 is Sunday
        ("0 12 * * sun", utc(2025, 3, 3), utc(2025, 3, 9, 12, 0)),
        ("5/20 8-9 * * *", utc(2025, 3, 1, 8, 46), utc(2025, 3, 1, 9, 5)),  # 5-59/20
        ("0 0,12 * jan,jul *", utc(2025, 3, 1), utc(2025, 7, 1)),
        ("10-50/20 * * * *", utc(2025, 3, 1, 1, 31), utc(2025, 3, 1, 1, 50)),
        ("@hourly", utc(2025, 3, 1, 1, 31), utc(2025, 3, 1, 2, 0)),
        ("@weekly", utc(2025, 3, 5), utc(2025, 3, 9)),
        ("@yearly", utc(2025, 3, 5), utc(2026, 1, 1)),
    ],
)
def test_next_after_finds_the_first_occurrence_strictly_later(
    expression: str, moment: datetime, expected: datetime
) -> None:
    assert parse_cron(expression).next_after(moment) == expected


def test_both_day_fields_restricted_means_either_may_match() -> None:
    # The 13th or any Friday: from Monday 2025-03-10 the Friday (14th) comes after the 13th.
    schedule = parse_cron("0 0 13 * fri")
    assert schedule.next_after(utc(2025, 3, 10)) == utc(2025, 3, 13)
    assert schedule.next_after(utc(2025, 3, 13)) == utc(2025, 3, 14)


def test_a_star_day_field_leaves_the_other_one_alone() -> None:
    # Day of month starts with '*': Vixie cron then wants both, so odd days that are Mondays.
    schedule = parse_cron("0 0 */2 * mon")
    assert schedule.next_after(utc(2025, 3, 1)) == utc(2025, 3, 3)
    assert schedule.next_after(utc(2025, 3, 3)) == utc(2025, 3, 17)  # skips Monday the 10th


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("*/15 * * * *", utc(2025, 3, 1, 10, 15), utc(2025, 3, 1, 10, 15)),  # the moment itself counts
        ("*/15 * * * *", utc(2025, 3, 1, 10, 14), utc(2025, 3, 1, 10, 0)),
        ("0 9 * * mon-fri", utc(2025, 3, 10, 8, 0), utc(2025, 3, 7, 9, 0)),  # Monday -> Friday
        ("0 0 31 * *", utc(2025, 3, 30), utc(2025, 1, 31)),
        ("0 0 29 2 *", utc(2027, 1, 1), utc(2024, 2, 29)),
    ],
)
def test_latest_at_or_before_is_the_mirror_image(
    expression: str, moment: datetime, expected: datetime
) -> None:
    assert parse_cron(expression).latest_at_or_before(moment) == expected


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        ("* * * *", ("expected 5 fields", "got 4")),
        ("* * * * * *", ("expected 5 fields", "got 6")),
        ("", ("expected 5 fields", "got 0")),
        ("60 * * * *", ("minute", "60", "0-59")),
        ("0 24 * * *", ("hour", "24", "0-23")),
        ("0 0 0 * *", ("day-of-month", "1-31")),
        ("0 0 * 13 *", ("month", "1-12")),
        ("0 0 * * 8", ("day-of-week", "0-7")),
        ("0 0 * * mon-sun", ("day-of-week", "backwards")),
        ("*/0 * * * *", ("minute", "at least 1")),
        ("1,,2 * * * *", ("minute", "not valid")),
        ("0 0 * * funday", ("day-of-week", "not valid", "sun")),
        ("0 0 * smarch *", ("month", "not valid", "jan")),
        ("0 0 * * ½", ("day-of-week", "not valid")),
        ("99999 * * * *", ("minute", "not valid")),
        ("0 0 30 2 *", ("never fires", "day-of-month 30", "month 2")),
        ("0 0 31 4,6,9,11 *", ("never fires",)),
    ],
)
def test_a_bad_expression_is_refused_naming_the_field(expression: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cron(expression)
    message = str(refused.value)
    assert message.startswith("cron: ")
    for fragment in fragments:
        assert fragment in message, message


def test_february_the_30th_fires_when_it_may_also_match_a_weekday() -> None:
    # Both day fields restricted: the Mondays of February still fire.
    assert parse_cron("0 0 30 2 mon").next_after(utc(2025, 1, 1)) == utc(2025, 2, 3)


# A made-up schedule: each field None (`*`) or the set of values it lists.
Fields = tuple[set[int] | None, set[int] | None, set[int] | None, set[int] | None, set[int] | None]


def field_values(low: int, high: int) -> st.SearchStrategy[set[int] | None]:
    return st.none() | st.sets(st.integers(low, high), min_size=1, max_size=4)


def render(values: set[int] | None) -> str:
    return "*" if values is None else ",".join(map(str, sorted(values)))


def matches(fields: Fields, moment: datetime) -> bool:
    """The cron rules written out plainly, independently of the module under test."""
    minutes, hours, days, months, weekdays = fields
    weekday = moment.isoweekday() % 7
    in_month = days is None or moment.day in days
    in_week = weekdays is None or weekday in {day % 7 for day in weekdays}
    day_ok = (in_month or in_week) if days is not None and weekdays is not None else (in_month and in_week)
    return (
        (minutes is None or moment.minute in minutes)
        and (hours is None or moment.hour in hours)
        and (months is None or moment.month in months)
        and day_ok
    )


HORIZON = timedelta(days=2)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.tuples(
        field_values(0, 59), field_values(0, 23), field_values(1, 31), field_values(1, 12), field_values(0, 7)
    ),
    start=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 12, 31)),
)
def test_the_search_agrees_with_a_minute_by_minute_scan(fields: Fields, start: datetime) -> None:
    expression = " ".join(render(values) for values in fields)
    start = start.replace(tzinfo=UTC)
    days, months = fields[2], fields[3]
    try:
        schedule = parse_cron(expression)
    except InvalidInput:
        # Refused only when no allowed month has any of the listed days and no weekday can rescue it.
        assert days is not None and fields[4] is None
        assert not any(
            day <= (29 if month == 2 else calendar.monthrange(2001, month)[1])
            for month in (months or range(1, 13))
            for day in days
        )
        return
    following = schedule.next_after(start)
    latest = schedule.latest_at_or_before(start)
    assert matches(fields, following) and following > start
    assert matches(fields, latest) and latest <= start
    minute = start.replace(second=0, microsecond=0)
    scanned_after = next(
        (
            t
            for n in range(1, int(HORIZON / timedelta(minutes=1)) + 1)
            if matches(fields, t := minute + n * timedelta(minutes=1))
        ),
        None,
    )
    scanned_before = next(
        (
            t
            for n in range(int(HORIZON / timedelta(minutes=1)))
            if matches(fields, t := minute - n * timedelta(minutes=1))
        ),
        None,
    )
    assert scanned_after == (following if following - minute <= HORIZON else None)
    assert scanned_before == (latest if minute - latest < HORIZON else None)
