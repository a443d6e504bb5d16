"""Rent: which days a line is in service and what each month's rent item is.

R1 (Art.4.2): one item per line, service month and rate; its in-service days at
that rate are summed and `fee x days / days_in_month` is rounded once.
R3 (Art.4.1): the activation month is charged by day, later months in full.
R7 (Art.4.4, policy): no rent for suspended days; months where a suspension
starts or ends are charged by day. R10: rent up to the day before termination.
R12 (Art.3.5): a month straddling a tariff change is charged by day at each rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.rules.dates import days_in_month, month_end, month_key, month_start
from ledger.rules.money import fmt, prorate


@dataclass(frozen=True)
class FeeStep:
    effective: date
    fee: Decimal


def fee_on(schedule: Sequence[FeeStep], d: date) -> Decimal:
    """The monthly fee in force on `d` (R12). The first step covers everything before it."""
    fee = schedule[0].fee
    for step in schedule:
        if step.effective <= d:
            fee = step.fee
        else:
            break
    return fee


@dataclass(frozen=True)
class Suspension:
    start: date
    end: date | None  # first day back in service (reinstatement), None while ongoing

    def covers(self, d: date) -> bool:
        return self.start <= d and (self.end is None or d < self.end)


@dataclass(frozen=True)
class LineService:
    line_id: str
    billing_start: date | None
    schedule: tuple[FeeStep, ...]


@dataclass(frozen=True)
class AccountService:
    suspensions: tuple[Suspension, ...]
    service_end: date | None  # first day without service (termination), if known

    def in_service(self, line: LineService, d: date) -> bool:
        if line.billing_start is None or d < line.billing_start:
            return False
        if self.service_end is not None and d >= self.service_end:
            return False
        return not any(s.covers(d) for s in self.suspensions)


@dataclass(frozen=True)
class RentItem:
    """Expected rent of one line for one month at one rate."""

    line_id: str
    month: date  # first day of the service month
    rate: Decimal
    days: int
    days_in_month: int
    service_from: date
    service_to: date
    amount: Decimal
    rule: str
    clause: str

    @property
    def key(self) -> tuple[str, str, Decimal]:
        return (self.line_id, month_key(self.month), self.rate)

    @property
    def kind(self) -> str:
        return "monthly" if self.days == self.days_in_month else "prorated"

    @property
    def formula(self) -> str:
        return rent_formula(self.rate, self.days, self.days_in_month, self.amount)


def rent_formula(rate: Decimal, days: int, dim: int, amount: Decimal) -> str:
    return f"{fmt(rate)} x {days}/{dim} = {fmt(amount)} (rounded half-up to 0.01 per item, R1)"


def _attribution(line: LineService, account: AccountService, month: date, days: int,
                 dim: int, rates: int) -> tuple[str, str]:
    """The rule and clause that explain why an item is what it is."""
    last = month_end(month)
    if days == dim:
        return "R3", "Art.4.1"
    if line.billing_start is not None and month <= line.billing_start <= last:
        return "R3", "Art.4.1"
    if account.service_end is not None and month <= account.service_end <= last:
        return "R10", "Art.4.1"
    if any(s.start <= last and (s.end is None or s.end > month) for s in account.suspensions):
        return "R7", "Art.4.4"
    if rates > 1:
        return "R12", "Art.3.5"
    return "R3", "Art.4.1"


def _whole_month_at_one_rate(line: LineService, account: AccountService, first: date,
                             last: date) -> bool:
    """In service every day of [first, last] (no start, end or suspension inside) and no
    tariff step effective inside it (so `fee_on` is the same on every day)."""
    return (line.billing_start is not None and line.billing_start <= first
            and (account.service_end is None or account.service_end > last)
            and not any(s.start <= last and (s.end is None or s.end > first)
                        for s in account.suspensions)
            and all(step.effective <= first or step.effective > last for step in line.schedule))


def month_rent(line: LineService, account: AccountService, month: date) -> list[RentItem]:
    """Rent items of one line for one whole service month (day by day, then by rate)."""
    month = month_start(month)
    dim = days_in_month(month)
    last = month.replace(day=dim)
    if _whole_month_at_one_rate(line, account, month, last):
        # The common case, without the day-by-day walk below (same item, see benchmarks.md).
        rate = fee_on(line.schedule, month)
        return [RentItem(line.line_id, month, rate, dim, dim, month, last,
                         prorate(rate, dim, dim), "R3", "Art.4.1")]
    by_rate: dict[Decimal, list[date]] = {}
    d = month
    for day in range(dim):
        d = month.replace(day=day + 1)
        if account.in_service(line, d):
            by_rate.setdefault(fee_on(line.schedule, d), []).append(d)
    items = []
    for rate, served in by_rate.items():
        rule, clause = _attribution(line, account, month, len(served), dim, len(by_rate))
        items.append(RentItem(line.line_id, month, rate, len(served), dim, served[0], served[-1],
                              prorate(rate, len(served), dim), rule, clause))
    return items


def rent_due(lines: Iterable[LineService], account: AccountService,
             months: Iterable[date]) -> dict[tuple[str, str, Decimal], RentItem]:
    """All expected rent items for the given months, keyed by (line, month, rate)."""
    months = list(months)
    due: dict[tuple[str, str, Decimal], RentItem] = {}
    for line in lines:
        if line.billing_start is None:
            continue
        for m in months:
            if month_end(m) < line.billing_start:
                continue
            for item in month_rent(line, account, m):
                due[item.key] = item
    return due


@dataclass(frozen=True)
class Posted:
    """What has been posted so far for one (line, month, rate) key."""

    days: int
    amount: Decimal
    service_from: date
    service_to: date
    days_in_month: int


@dataclass(frozen=True)
class RentPosting:
    """A rent charge to post: a new item, or the difference to what was posted."""

    item: RentItem
    days: int
    amount: Decimal
    is_correction: bool
    corrects_amount: Decimal  # what was posted before for the same key


def rent_postings(due: Mapping[tuple[str, str, Decimal], RentItem],
                  posted: Mapping[tuple[str, str, Decimal], Posted],
                  months: Iterable[str],
                  correction_rule: tuple[str, str] = ("R7", "Art.4.4")) -> list[RentPosting]:
    """Charges that bring what was posted for `months` to what is due (R13: never edit,
    post the difference). Keys posted but no longer due are reversed."""
    month_set = set(months)
    out: list[RentPosting] = []
    for key, item in due.items():
        if key[1] not in month_set:
            continue
        before = posted.get(key)
        if before is None:
            out.append(RentPosting(item, item.days, item.amount, False, Decimal("0.00")))
        elif before.amount != item.amount or before.days != item.days:
            out.append(RentPosting(item, item.days - before.days, item.amount - before.amount,
                                   True, before.amount))
    for key, before in posted.items():
        if key[1] in month_set and key not in due and (before.amount or before.days):
            line_id, _, rate = key
            rule, clause = correction_rule
            gone = RentItem(line_id, before.service_from.replace(day=1), rate, 0,
                            before.days_in_month, before.service_from, before.service_to,
                            Decimal("0.00"), rule, clause)
            out.append(RentPosting(gone, -before.days, -before.amount, True, before.amount))
    out.sort(key=lambda p: (p.item.month, p.item.line_id, -p.item.rate))
    return out
