"""R2 Billing start per line (Art.4.1, Art.4.3): confirmed or deemed.

Party B submits a delivery test report on T. Party A has N working days after T
(T not counted) to sign the confirmation. Confirmed on C within the window:
billing starts on C. Otherwise billing starts on T + 5 calendar days, decided at
the end of the window's last day (so effective the day after), even if that
start is earlier than the decision (a back-dated, *deemed* start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ledger.rules.calendar import WorkingCalendar, working_days_after
from ledger.rules.policy import Policy


@dataclass(frozen=True)
class ConfirmationWindow:
    report_date: date
    working_days: tuple[date, ...]
    deemed_start: date

    @property
    def last_day(self) -> date:
        return self.working_days[-1]

    @property
    def decided_on(self) -> date:
        """A check at the end of the window's last day takes effect the next day."""
        return self.last_day + timedelta(days=1)

    def confirmed_in_window(self, confirmed_on: date) -> bool:
        return self.report_date <= confirmed_on <= self.last_day


def confirmation_window(report_date: date, cal: WorkingCalendar, policy: Policy
                        ) -> ConfirmationWindow:
    """R2: the working days of the confirmation window and the deemed start date."""
    return ConfirmationWindow(
        report_date=report_date,
        working_days=tuple(working_days_after(cal, report_date, policy.confirmation_working_days)),
        deemed_start=report_date + timedelta(days=policy.deemed_start_calendar_days),
    )


def billing_start(window: ConfirmationWindow, confirmed_on: date | None) -> tuple[date, str]:
    """R2: (billing_start, "confirmed" | "deemed"). A late confirmation changes nothing."""
    if confirmed_on is not None and window.confirmed_in_window(confirmed_on):
        return confirmed_on, "confirmed"
    return window.deemed_start, "deemed"


def billing_start_known(start: date | None, recorded_on: date | None, as_of: date
                        ) -> date | None:
    """R2 in business time: the billing start as of `as_of`. A start is in force from
    its own date (a back-dated deemed start counts from then); one that lies ahead
    is shown from the day it was decided (`recorded_on`)."""
    if start is None:
        return None
    if start <= as_of or (recorded_on is not None and recorded_on <= as_of):
        return start
    return None
