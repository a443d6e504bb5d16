"""R8 cancellation, R9 renewal and notice (Art.4.4, Art.7.3)."""

from __future__ import annotations

from datetime import date, timedelta

from ledger.rules.dates import add_months
from ledger.rules.policy import Policy


def cancellation_date(suspended_on: date, policy: Policy) -> date:
    """R8: a suspension lasting N months (same day-of-month N months later)
    cancels the service and terminates the contract on that day."""
    return add_months(suspended_on, policy.cancellation_after_months)


def renewed_term(term_end: date, cross_border: bool, policy: Policy) -> tuple[date, date]:
    """R9: the term extends by 1 year (cross-border: 1 month), again and again."""
    months = policy.cross_border_renewal_months if cross_border else policy.renewal_months
    start = term_end + timedelta(days=1)
    return start, add_months(start, months) - timedelta(days=1)


def notice_in_window(received_on: date, term_end: date, policy: Policy) -> bool:
    """R9 policy: "期满前30日内" = on or after term_end - 30 days. Earlier notices are
    honoured too, but flagged as outside the window."""
    return term_end - timedelta(days=policy.notice_window_days) <= received_on <= term_end
