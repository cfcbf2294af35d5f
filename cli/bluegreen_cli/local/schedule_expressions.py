"""EventBridge schedule expressions: what PutRule accepts, and when a schedule fires next.

From the User Guide ("Rate expressions reference", "Cron expressions reference"):

- ``rate(value unit)``: a positive whole number and ``minute | minutes | hour | hours | day |
  days``, singular for 1 and plural above (``rate(1 hours)`` and ``rate(5 hour)`` are not
  valid). It starts when the rule is created: firings come one period apart from then.
- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, six fields, in UTC. Ranges
  ``0-59``, ``0-23``, ``1-31``, ``1-12`` or ``JAN-DEC``, ``1-7`` or ``SUN-SAT`` (Sunday is 1),
  ``1970-2199``. Wildcards ``, - * /`` everywhere; ``?`` in exactly one of Day-of-month and
  Day-of-week (a value or ``*`` in one needs ``?`` in the other); ``L`` (last day of the month
  or week) and ``W`` (the weekday nearest a day, ``LW`` the last weekday) in Day-of-month;
  ``L`` (``5L``: the month's last Thursday) and ``#`` (``3#2``: its second Tuesday, alone in
  the field) in Day-of-week.

Anything else is refused with PutRule's ``ValidationException`` "Parameter ScheduleExpression
is not valid." (:class:`InvalidSchedule`). An increment beyond its field's range (``*/60``
in Minutes) is refused too, as EventBridge refuses ``cron(*/60 * * * ? *)``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

INVALID_MESSAGE = "Parameter ScheduleExpression is not valid."

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
# Fixed English names: calendar.month_abbr follows the process's locale.
_MONTHS = {
    name: i
    for i, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_LAST_YEAR = 2199


class InvalidSchedule(ValueError):
    """PutRule refuses this ScheduleExpression."""


class Schedule(Protocol):
    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        """The first firing strictly after ``moment``; None when there is none.

        ``anchor``: when the rule was created (a rate counts its periods from it).
        """
        ...


def parse(expression: str) -> Schedule:
    """The schedule of a ScheduleExpression, or :class:`InvalidSchedule`."""
    if rate := _RATE.match(expression):
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise InvalidSchedule(INVALID_MESSAGE)
        return Rate(value * _UNITS[unit.removesuffix("s")])
    if cron := _CRON.match(expression):
        return Cron.parse(cron.group(1))
    raise InvalidSchedule(INVALID_MESSAGE)


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime, anchor: datetime) -> datetime:
        if moment < anchor:
            return anchor + self.period
        return anchor + ((moment - anchor) // self.period + 1) * self.period


# -- cron ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    low: int
    high: int
    names: dict[str, int]


_MINUTES = _Field(0, 59, {})
_HOURS = _Field(0, 23, {})
_DAYS_OF_MONTH = _Field(1, 31, {})
_MONTH_FIELD = _Field(1, 12, _MONTHS)
_DAYS_OF_WEEK = _Field(1, 7, _WEEKDAYS)
_YEARS = _Field(1970, _LAST_YEAR, {})


def _value(text: str, field: _Field) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.names[upper]
    if not text.isdigit():
        raise InvalidSchedule(INVALID_MESSAGE)
    number = int(text)
    if not field.low <= number <= field.high:
        raise InvalidSchedule(INVALID_MESSAGE)
    return number


def _values(text: str, field: _Field) -> frozenset[int]:
    """A field of ``, - * /`` wildcards, names and numbers: the values it includes."""
    found: set[int] = set()
    for item in text.split(","):
        span, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not 1 <= int(step_text) <= field.high:
                raise InvalidSchedule(INVALID_MESSAGE)
            step = int(step_text)
        if span == "*":
            low, high = field.low, field.high
        elif "-" in span:
            first, _, last = span.partition("-")
            low, high = _value(first, field), _value(last, field)
            if low > high:
                raise InvalidSchedule(INVALID_MESSAGE)
        else:
            low = _value(span, field)
            # "a/s": from a, every s to the field's end.
            high = field.high if slash else low
        found.update(range(low, high + 1, step))
    return frozenset(found)


def _aws_weekday(day: date) -> int:
    """Day-of-week as EventBridge numbers it: Sunday 1 ... Saturday 7."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """``nW``: the weekday nearest day ``day``, never in another month."""
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    weekday = date(year, month, day).weekday()  # Monday 0 ... Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or Monday when that is last month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or Friday when that is next month
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class _DaysOfMonth:
    values: frozenset[int] = frozenset()
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: int | None = None  # nW

    @classmethod
    def parse(cls, text: str) -> _DaysOfMonth:
        upper = text.upper()
        if upper == "L":
            return cls(last=True)
        if upper == "LW":
            return cls(last_weekday=True)
        if upper.endswith("W"):
            return cls(nearest_weekday=_value(upper[:-1], _DAYS_OF_MONTH))
        return cls(values=_values(text, _DAYS_OF_MONTH))

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        if self.last:
            return [last]
        if self.last_weekday:
            day = last
            while date(year, month, day).weekday() >= 5:
                day -= 1
            return [day]
        if self.nearest_weekday is not None:
            found = _nearest_weekday(year, month, self.nearest_weekday)
            return [] if found is None else [found]
        return sorted(d for d in self.values if d <= last)


@dataclass(frozen=True)
class _DaysOfWeek:
    values: frozenset[int] = frozenset()
    last_of_month: int | None = None  # nL
    nth: tuple[int, int] | None = None  # d#k

    @classmethod
    def parse(cls, text: str) -> _DaysOfWeek:
        upper = text.upper()
        if upper == "L":  # the last day of the week
            return cls(values=frozenset({7}))
        if upper.endswith("L"):
            return cls(last_of_month=_value(upper[:-1], _DAYS_OF_WEEK))
        if "#" in upper:
            weekday, _, nth = upper.partition("#")
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise InvalidSchedule(INVALID_MESSAGE)
            return cls(nth=(_value(weekday, _DAYS_OF_WEEK), int(nth)))
        return cls(values=_values(text, _DAYS_OF_WEEK))

    def days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        month_days = [date(year, month, d) for d in range(1, last + 1)]
        if self.last_of_month is not None:
            matching = [d.day for d in month_days if _aws_weekday(d) == self.last_of_month]
            return matching[-1:]
        if self.nth is not None:
            weekday, nth = self.nth
            matching = [d.day for d in month_days if _aws_weekday(d) == weekday]
            return matching[nth - 1 : nth]
        return [d.day for d in month_days if _aws_weekday(d) in self.values]


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: _DaysOfMonth | _DaysOfWeek
    months: frozenset[int]
    years: frozenset[int]

    @classmethod
    def parse(cls, fields_text: str) -> Cron:
        fields = fields_text.split()
        if len(fields) != 6:
            raise InvalidSchedule(INVALID_MESSAGE)
        minutes, hours, day_of_month, month, day_of_week, year = fields
        # One of the two day fields, and exactly one, is "?".
        if (day_of_month == "?") == (day_of_week == "?"):
            raise InvalidSchedule(INVALID_MESSAGE)
        days = (
            _DaysOfWeek.parse(day_of_week)
            if day_of_month == "?"
            else _DaysOfMonth.parse(day_of_month)
        )
        return cls(
            minutes=_values(minutes, _MINUTES),
            hours=_values(hours, _HOURS),
            days=days,
            months=_values(month, _MONTH_FIELD),
            years=_values(year, _YEARS),
        )

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in sorted(y for y in self.years if y >= start.year):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days.days(year, month):
                    when = date(year, month, day)
                    if when < start.date():
                        continue
                    for hour in sorted(self.hours):
                        if when == start.date() and hour < start.hour:
                            continue
                        for minute in sorted(self.minutes):
                            candidate = datetime(year, month, day, hour, minute, tzinfo=UTC)
                            if candidate >= start:
                                return candidate
        return None
