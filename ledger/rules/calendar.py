"""R2 (Art.4.1, Art.4.3): the official PRC working-day calendar.

Working days follow the State Council's announced schedule: public holidays are
off and the announced make-up weekend days (调休) are working days. The
`holidays` package carries that schedule year by year. For a year it has no
announced schedule for, it would *estimate* holidays and know no make-up days;
R2 forbids guessing silently, so such a year is refused unless the deployment
configures an explicit calendar (`ExplicitCalendar`), whose name is then
recorded on every event that used it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import holidays
from holidays.countries.china import ChinaStaticHolidays


class CalendarError(ValueError):
    """A date's year has no official working-day data and none was configured."""


class WorkingCalendar(Protocol):
    name: str
    version: str

    def is_working_day(self, d: date) -> bool: ...

    def describe(self, d: date) -> str: ...


def _official_years() -> frozenset[int]:
    # Years for which the package holds the announced schedule (special days
    # and make-up working days); later years are only estimates.
    return frozenset(ChinaStaticHolidays.special_public_holidays)


@lru_cache(maxsize=64)
def _china(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year)


@dataclass(frozen=True)
class PrcCalendar:
    """The official PRC calendar as published in the `holidays` package."""

    name: str = "holidays.China"
    version: str = holidays.__version__
    official_years: frozenset[int] = field(default_factory=_official_years)

    def _year(self, d: date) -> holidays.HolidayBase:
        if d.year not in self.official_years:
            first, last = min(self.official_years), max(self.official_years)
            raise CalendarError(
                f"no official PRC working-day calendar for {d.year} in {self.name} "
                f"{self.version} (it has {first}-{last}); configure an explicit calendar "
                "with LEDGER_CALENDAR_FILE rather than guess (R2)"
            )
        return _china(d.year)

    def is_working_day(self, d: date) -> bool:
        return self._year(d).is_working_day(d)

    def describe(self, d: date) -> str:
        """Why a day is or is not working, for explanations."""
        cal = self._year(d)
        if d in cal.weekend_workdays:
            return "make-up working day (调休)"
        if d in cal:
            return f"public holiday: {cal.get(d)}"
        return "weekend" if d.weekday() >= 5 else "working day"


@dataclass(frozen=True)
class ExplicitCalendar:
    """A deployment-supplied calendar for years the official data lacks.

    JSON file: {"name": ..., "version": ..., "years": [2027],
    "holidays": ["2027-01-01", ...], "workdays": ["2027-02-13", ...]}.
    Years it does not list fall back to the official calendar.
    """

    name: str
    version: str
    years: frozenset[int]
    holiday_dates: frozenset[date]
    workday_dates: frozenset[date]
    fallback: PrcCalendar = field(default_factory=PrcCalendar)

    @classmethod
    def from_file(cls, path: str | Path) -> ExplicitCalendar:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            name=str(raw["name"]),
            version=str(raw["version"]),
            years=frozenset(int(y) for y in raw["years"]),
            holiday_dates=frozenset(date.fromisoformat(x) for x in raw.get("holidays", [])),
            workday_dates=frozenset(date.fromisoformat(x) for x in raw.get("workdays", [])),
        )

    def is_working_day(self, d: date) -> bool:
        if d.year not in self.years:
            return self.fallback.is_working_day(d)
        if d in self.workday_dates:
            return True
        return d.weekday() < 5 and d not in self.holiday_dates

    def describe(self, d: date) -> str:
        if d.year not in self.years:
            return self.fallback.describe(d)
        if d in self.workday_dates:
            return "make-up working day (configured)"
        if d in self.holiday_dates:
            return "holiday (configured)"
        return "weekend" if d.weekday() >= 5 else "working day"


def working_days_after(cal: WorkingCalendar, start: date, count: int) -> list[date]:
    """The first `count` working days strictly after `start` (R2: T itself not counted)."""
    assert count > 0
    found: list[date] = []
    d = start
    for _ in range(366):  # explicit bound: no real schedule has a year-long holiday
        d += timedelta(days=1)
        if cal.is_working_day(d):
            found.append(d)
            if len(found) == count:
                return found
    raise CalendarError(f"fewer than {count} working days in the year after {start}")
