"""R6 Postpaid arrears and suspension (Art.4.4); payment allocation (policy).

The account is in arrears on every day on which some bill is past its due date
and not fully paid; an arrears period is an unbroken run of such days. With the
month the period begins in as month 1, the lines are suspended on the 1st of
month 3 if the period is still unbroken then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ledger.rules.dates import add_months, month_start

_NEVER = date.max


@dataclass(frozen=True)
class OpenItem:
    """A bill as arrears sees it: overdue on days [due_on + 1, settled_on)."""

    bill_id: str
    due_on: date
    settled_on: date | None


def overdue_bills(bills: Sequence[OpenItem], d: date) -> list[str]:
    """Bills past their due date and not fully paid on day `d`."""
    return [b.bill_id for b in bills
            if b.due_on < d and (b.settled_on is None or b.settled_on > d)]


def arrears_since(bills: Sequence[OpenItem], d: date) -> date | None:
    """First day of the unbroken arrears period that includes `d`, or None (R6)."""
    spans = [(b.due_on + timedelta(days=1), b.settled_on or _NEVER) for b in bills]
    covering = [s for s, e in spans if s <= d < e]
    if not covering:
        return None
    start = min(covering)
    extended = True
    while extended:  # join spans that touch or overlap the run, going back in time
        extended = False
        for s, e in spans:
            if s < start <= e:
                start, extended = s, True
    return start


def open_run_start(bills: Sequence[OpenItem]) -> date | None:
    """First day of the earliest arrears period an unpaid bill belongs to, on any day
    from now on (None if every bill is paid). A bill settled before that day can
    never join an arrears period again: later periods go back only through bills
    that are unpaid now, or were settled on or after that day (R6)."""
    return arrears_since(bills, _NEVER - timedelta(days=1))


def arrears_suspension_date(since: date, suspension_month: int) -> date:
    """R6: the 1st of month `suspension_month`, counting `since`'s month as month 1."""
    return add_months(month_start(since), suspension_month - 1)


@dataclass(frozen=True)
class Allocation:
    bill_id: str
    amount: Decimal


def allocate_oldest_first(amount: Decimal, open_bills: Sequence[tuple[str, Decimal]]
                          ) -> tuple[list[Allocation], Decimal]:
    """Policy (R6): a payment settles the oldest open bill first; the rest is credit.

    `open_bills` are (bill_id, amount still owed), oldest first.
    """
    assert amount >= 0
    allocations = []
    left = amount
    for bill_id, owed in open_bills:
        if left <= 0:
            break
        take = min(left, owed)
        if take > 0:
            allocations.append(Allocation(bill_id, take))
            left -= take
    return allocations, left
