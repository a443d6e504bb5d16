"""Calendar-month arithmetic used by every rule (no I/O)."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(d: date) -> int:
    # Not calendar.monthrange: it also computes the weekday, and rent asks this a lot.
    if d.month == 2 and calendar.isleap(d.year):
        return 29
    return _DAYS[d.month - 1]


def month_start(d: date) -> date:
    return d.replace(day=1)


def month_end(d: date) -> date:
    return d.replace(day=days_in_month(d))


def next_month_start(d: date) -> date:
    return month_end(d) + ONE_DAY


def add_months(d: date, months: int) -> date:
    """Same day-of-month `months` later, clamped to the month's last day."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def month_key(d: date) -> str:
    """`YYYY-MM`, the service-month key used in charges, bills and the CLI."""
    return f"{d.year:04d}-{d.month:02d}"


def parse_month(key: str) -> date:
    """`YYYY-MM` -> the month's first day; ValueError on anything else."""
    parts = key.split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"{key!r} is not a month in the form YYYY-MM")
    return date(int(parts[0]), int(parts[1]), 1)


def months_between(first: date, last: date) -> Iterator[date]:
    """First days of every month from `first`'s month to `last`'s, inclusive."""
    m = month_start(first)
    while m <= last:
        yield m
        m = next_month_start(m)


def days(first: date, last: date) -> Iterator[date]:
    """Every date from `first` to `last`, inclusive."""
    d = first
    while d <= last:
        yield d
        d += ONE_DAY
