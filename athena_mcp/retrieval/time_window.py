"""The time a query names: "on 16 November 2023", "in June 2023", "yesterday", "3 days ago", "last
Saturday", "in the past two weeks". Search ranks the memories of that time first (search.py).

English only, read in UTC (the store's own clock), and only when the query says it: a question about
"the 2023 budget" names no time. A day is widened to the day before and after it, since an event is
often recorded a day from when it happened ("I shared it yesterday"). Relative phrases count back
from the time of the search. When a query names several times, the first found in the order of
PATTERNS wins (full dates before months, months before relative phrases).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DAY_SLACK = timedelta(days=1)
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
_WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
_NUMBERS = {
    word: number
    for number, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
} | {"a": 1, "an": 1, "a couple of": 2, "a few": 3, "few": 3}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_COUNT = r"(\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNIT = r"(day|week|month|year)s?"


@dataclass(frozen=True)
class TimeWindow:
    start: float  # seconds since the epoch, inclusive
    end: float  # exclusive
    phrase: str  # the words of the query that named it

    def describe(self) -> str:
        """The phrase and the days it covers: "june 2023: 2023-06-01 to 2023-06-30"."""
        first = datetime.fromtimestamp(self.start, tz=UTC).date()
        last = datetime.fromtimestamp(self.end, tz=UTC).date() - timedelta(days=1)
        return f"{self.phrase}: {first.isoformat()} to {last.isoformat()}"


def named_window(query: str, now: float) -> TimeWindow | None:
    """The window of time the query names, or None."""
    text = query.lower()
    today = datetime.fromtimestamp(now, tz=UTC).date()
    for pattern, read in PATTERNS:
        for match in pattern.finditer(text):
            try:
                start, end = read(match, today)
            except (ValueError, OverflowError):  # "February 30", "May 0000", "a million years ago"
                continue
            return TimeWindow(_seconds(start), _seconds(end), match.group(0).strip())
    return None


Span = tuple[date, date]


def _seconds(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _around(day: date) -> Span:
    return day - DAY_SLACK, day + timedelta(days=1) + DAY_SLACK


def _month_span(year: int, month: int) -> Span:
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date(year, month, 1), end


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def _back(today: date, count: int, unit: str) -> date:
    if unit == "day":
        return today - timedelta(days=count)
    if unit == "week":
        return today - timedelta(weeks=count)
    months = count * (12 if unit == "year" else 1)
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def _month_day_year(match: re.Match[str], today: date) -> Span:
    return _around(date(int(match[3]), _MONTHS[match[1]], int(match[2])))


def _day_month_year(match: re.Match[str], today: date) -> Span:
    return _around(date(int(match[3]), _MONTHS[match[2]], int(match[1])))


def _iso_day(match: re.Match[str], today: date) -> Span:
    return _around(date(int(match[1]), int(match[2]), int(match[3])))


def _month_year(match: re.Match[str], today: date) -> Span:
    return _month_span(int(match[2]), _MONTHS[match[1]])


def _ago(match: re.Match[str], today: date) -> Span:
    count, unit = _count(match[1]), match[2]
    then = _back(today, count, unit)
    if unit == "day":
        return _around(then)
    # "two weeks ago" is roughly then: half a unit either side.
    half = (today - _back(today, 1, unit)) / 2
    return then - half, then + half + timedelta(days=1)


def _since_ago(match: re.Match[str], today: date) -> Span:
    """ "since I started again three weeks ago": from then until now."""
    return _back(today, _count(match[1]), match[2]) - DAY_SLACK, today + timedelta(days=1)


def _yesterday(match: re.Match[str], today: date) -> Span:
    return _around(today - timedelta(days=1) if match[1] == "yesterday" else today)


def _last_weekday(match: re.Match[str], today: date) -> Span:
    back = (today.weekday() - _WEEKDAYS[match[1]]) % 7 or 7
    return _around(today - timedelta(days=back))


def _past(match: re.Match[str], today: date) -> Span:
    count = _count(match[1]) if match[1] else 1
    return _back(today, count, match[2]), today + timedelta(days=1)


def _last_period(match: re.Match[str], today: date) -> Span:
    unit = match[1]
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(weeks=1), monday
    if unit == "month":
        previous = _back(today.replace(day=1), 1, "month")
        return _month_span(previous.year, previous.month)
    return date(today.year - 1, 1, 1), date(today.year, 1, 1)


Reader = Callable[[re.Match[str], date], Span]
PATTERNS: tuple[tuple[re.Pattern[str], Reader], ...] = (
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"), _month_day_year),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b"), _day_month_year),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), _iso_day),
    (re.compile(rf"\b{_MONTH},?\s+(?:of\s+)?(\d{{4}})\b"), _month_year),
    (re.compile(rf"\bsince\b[^.?!]*?\b{_COUNT}\s+{_UNIT}\s+ago\b"), _since_ago),
    (re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b"), _ago),
    (re.compile(r"\b(yesterday|today)\b"), _yesterday),
    (re.compile(r"\blast\s+(" + "|".join(_WEEKDAYS) + r")\b"), _last_weekday),
    # Not followed by "of": "the last day of the trip", "the last year of college" name no time.
    (re.compile(rf"\b(?:in\s+)?the\s+(?:past|last)\s+(?:{_COUNT}\s+)?{_UNIT}\b(?!\s+of\b)"), _past),
    (re.compile(r"\blast\s+(week|month|year)\b(?!\s+of\b)"), _last_period),
)
