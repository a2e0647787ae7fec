"""Five-field cron schedules, in UTC: minute, hour, day of month, month, day of week.

A field is `*`, a number, a name (jan-dec, sun-sat), a range (`1-5`), a step over either (`*/15`,
`10-50/20`, `5/15` = `5-59/15`) or a comma-separated list of those; day of week 0 and 7 are both
Sunday. As in Vixie cron, when both day fields are restricted (neither starts with `*`) a day
matches if either field does; otherwise it must match both. `@hourly`, `@daily`, `@weekly`,
`@monthly` and `@yearly` stand for their usual expressions.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from athena_mcp.errors import InvalidInput

_MINUTE = timedelta(minutes=1)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _FieldSpec("minute", 0, 59, {}),
    _FieldSpec("hour", 0, 23, {}),
    _FieldSpec("day-of-month", 1, 31, {}),
    _FieldSpec("month", 1, 12, {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}),
    _FieldSpec("day-of-week", 0, 7, {name: number for number, name in enumerate(_DAY_NAMES)}),
)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    either_day: bool  # both day fields restricted: a day matching either one is enough

    def matches_day(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        return in_month or in_week if self.either_day else in_month and in_week

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        t = _whole_minute(moment) + _MINUTE
        # Each failed check jumps to the start of the next month, day, hour or minute; parse()
        # has made sure some day of some allowed month matches, so this ends within a few years.
        while True:
            if t.month not in self.months:
                t = (t.replace(day=28, hour=0, minute=0) + timedelta(days=4)).replace(day=1)
            elif not self.matches_day(t.date()):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += _MINUTE
            else:
                return t

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last occurrence at or before `moment` (UTC): the mirror image of next_after."""
        t = _whole_minute(moment)
        while True:
            if t.month not in self.months:
                t = t.replace(day=1, hour=0, minute=0) - _MINUTE
            elif not self.matches_day(t.date()):
                t = t.replace(hour=0, minute=0) - _MINUTE
            elif t.hour not in self.hours:
                t = t.replace(minute=0) - _MINUTE
            elif t.minute not in self.minutes:
                t -= _MINUTE
            else:
                return t


def parse_cron(expression: str) -> CronSchedule:
    """Parse a cron expression; InvalidInput naming the field for anything malformed or never due."""
    text = _MACROS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise InvalidInput(
            f"cron: expected 5 fields (minute hour day-of-month month day-of-week) separated by spaces, "
            f"got {len(parts)} in {expression!r}; for example '0 9 * * mon-fri' is 09:00 UTC on weekdays."
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)
    )
    schedule = CronSchedule(
        expression=expression.strip(),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        either_day=not parts[2].startswith("*") and not parts[4].startswith("*"),
    )
    if not schedule.either_day and not any(day <= _longest_month(month) for month in months for day in days):
        raise InvalidInput(
            f"cron: {expression!r} never fires: day-of-month {parts[2]} does not occur in month {parts[3]}."
        )
    return schedule


def _parse_field(text: str, spec: _FieldSpec) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = _number(step_text, spec, item) if slash else 1
        if slash and step < 1:
            raise InvalidInput(f"cron: {spec.name} step in {item!r} must be at least 1.")
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, spec, item), _value(last, spec, item)
            if start > end:
                raise InvalidInput(
                    f"cron: {spec.name} range {item!r} runs backwards; write it low-high "
                    "(wrapping ranges are not supported, use a list)."
                )
        else:
            start = _value(base, spec, item)
            end = spec.high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(token: str, spec: _FieldSpec, item: str) -> int:
    lowered = token.lower()
    if lowered in spec.names:
        return spec.names[lowered]
    value = _number(token, spec, item)
    if not spec.low <= value <= spec.high:
        within = "" if item == token else f" in {item!r}"
        raise InvalidInput(f"cron: {spec.name} {value}{within} is out of range {spec.low}-{spec.high}.")
    return value


def _number(token: str, spec: _FieldSpec, item: str) -> int:
    if not (token.isascii() and token.isdigit()) or len(token) > 4:
        names = f" or a name ({', '.join(spec.names)})" if spec.names else ""
        raise InvalidInput(
            f"cron: {spec.name} {item!r} is not valid; use *, a number{names}, a range a-b, "
            "a step */n or a list."
        )
    return int(token)


def _longest_month(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _whole_minute(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
