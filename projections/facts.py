"""What the read models need to know about one contract, folded from its stored events.

This is not the aggregate's `ContractState`: it holds only what the projection rows
are computed from, compactly, so that every contract of a large portfolio fits in
memory during a rebuild -- money as integer fen, dates as shared `date` objects,
service-month totals in one integer array, and of the bills only those still open
(a settled bill's row is final when it settles; for arrears (R6) only its overdue
span is kept, and only if it has one). Events arrive as the JSON-mode dicts of
`projections.source`; each fold function mirrors the event's `evolve` for the facts
kept here and tells `changes` which rows the event touched.

"As of" a date means what `ledger.domain.views` means: every read model row is as
of the contract's business clock (the latest business date of its events).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ledger.rules.arrears import OpenItem, arrears_since, overdue_bills
from ledger.rules.billing_start import billing_start_known
from ledger.rules.dates import ONE_DAY, month_end, month_key, month_start
from ledger.rules.money import fmt
from ledger.rules.rent import FeeStep

Fields = dict[str, Any]
#: Charge kinds that are rent (R3): prorated and whole-month items.
RENT_KINDS = frozenset({"prorated", "monthly"})

# ------------------------------------------------------------------ values

_DAYS: dict[str, date] = {}


def day(iso: str | None) -> date | None:
    """A stored ISO date as a `date`; one shared object per distinct date."""
    if iso is None:
        return None
    d = _DAYS.get(iso)
    if d is None:
        d = _DAYS[iso] = date.fromisoformat(iso)
    return d


def fen(amount: str) -> int:
    """A stored money string ("1266.67", "-0.50") in fen. Amounts are rounded to the
    fen when posted (R1), so the fast path is exact; anything else goes through
    Decimal and must still be a whole number of fen."""
    point = amount.find(".")
    if point >= 0 and len(amount) - point == 3:
        return int(amount[:point] + amount[point + 1:])
    value = Decimal(amount).scaleb(2)
    if value != value.to_integral_value():
        raise ValueError(f"money amount {amount!r} is not a whole number of fen")
    return int(value)


def money_text(amount: str) -> str:
    """A stored money string as the tables hold it: `fen_text(fen(amount))`, and
    usually just `amount` (posted amounts already have two decimals)."""
    point = amount.find(".")
    if point > 0 and len(amount) - point == 3 and amount != "-0.00":
        return amount
    return fen_text(fen(amount))


def fen_text(amount: int) -> str:
    """Fen as the two-decimal text the tables hold ("1266.67"; never "-0.00")."""
    if not amount:
        return "0.00"
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    return f"{sign}{amount // 100}.{amount % 100:02d}"


_RATES: dict[str, str] = {}


def rate_text(rate: str) -> str:
    """A charge's rate as `views.charge_item` shows it (two decimals, R1's `fmt`)."""
    text = _RATES.get(rate)
    if text is None:
        text = _RATES[rate] = fmt(Decimal(rate))
    return text


_MONTH_INDEX: dict[str, int] = {}


def _month_index(key: str) -> int:
    """Months since year 0 of a `YYYY-MM` key (memoised: keys repeat)."""
    index = _MONTH_INDEX.get(key)
    if index is None:
        index = _MONTH_INDEX[key] = int(key[:4]) * 12 + int(key[5:7]) - 1
    return index


def _month_of_index(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{year:04d}-{month + 1:02d}"


# ------------------------------------------------------------------ per-contract facts


class Line:
    """A line: kind, fee schedule (R12, fees in fen), billing start (R2), R16 flags."""

    __slots__ = ("billing_start", "confirmed_on", "icp_filing_number", "kind", "line_id",
                 "report_date", "schedule", "start_decision", "start_recorded_on",
                 "web_ports_open")

    def __init__(self, line_id: str, kind: str, schedule: list[FeeStep]) -> None:
        self.line_id, self.kind, self.schedule = line_id, kind, schedule
        self.report_date: date | None = None
        self.confirmed_on: date | None = None
        self.billing_start: date | None = None
        self.start_decision: str | None = None
        self.start_recorded_on: date | None = None
        self.icp_filing_number: str | None = None
        self.web_ports_open = False


class OpenBill:
    """An issued bill not yet settled (R4/R6); amounts in fen."""

    __slots__ = ("bill_id", "credit_applied", "due_on", "issued_on", "items", "paid",
                 "period", "settled_on", "total")

    def __init__(self, f: Fields) -> None:
        self.bill_id: str = f["bill_id"]
        self.period: str = f["period"]
        self.issued_on = day(f["issued_on"])
        self.due_on = day(f["due_on"])
        self.items = len(f["charge_ids"])
        self.total = fen(f["total"])
        self.credit_applied = fen(f["credit_applied"])
        self.paid = self.credit_applied
        self.settled_on: date | None = None


class MonthTotals:
    """Per service month: items, total, rent, billed (fen), in one array of 4 slots
    per calendar month from the earliest month seen."""

    __slots__ = ("first", "values")

    def __init__(self) -> None:
        self.first = 0
        self.values = array("q")

    def _slot(self, key: str) -> int:
        index = _month_index(key)
        if not self.values:
            self.first = index
        elif index < self.first:
            self.values[0:0] = array("q", bytes(8 * 4 * (self.first - index)))
            self.first = index
        at = (index - self.first) * 4
        if at >= len(self.values):
            self.values.frombytes(bytes(8 * (at + 4 - len(self.values))))
        return at

    def charge(self, key: str, amount: int, rent: bool) -> None:
        at = self._slot(key)
        v = self.values
        v[at] += 1
        v[at + 1] += amount
        if rent:
            v[at + 2] += amount

    def bill(self, key: str, amount: int) -> None:
        self.values[self._slot(key) + 3] += amount

    def get(self, key: str) -> tuple[int, int, int, int]:
        at = (_month_index(key) - self.first) * 4
        if not self.values or at < 0 or at >= len(self.values):
            return (0, 0, 0, 0)
        v = self.values
        return (v[at], v[at + 1], v[at + 2], v[at + 3])

    def charged_months(self) -> Iterator[str]:
        v = self.values
        for at in range(0, len(v), 4):
            if v[at]:
                yield _month_of_index(self.first + at // 4)


class ContractFacts:
    """One contract as the read models see it (see the module docstring)."""

    __slots__ = ("accepted_on", "billed_total", "billing_mode", "charged_total", "clock",
                 "contract_id", "credit", "cross_border", "customer", "equipment",
                 "head_hash", "late_spans", "lines", "months", "notice", "open_bills",
                 "originator_id",
                 "paid_total", "signed_on", "suspensions", "terminated_on",
                 "termination_reason", "terms", "unbilled", "version")

    def __init__(self, f: Fields, version: int) -> None:
        signed_on = day(f["business_date"])
        assert signed_on is not None
        term_start = day(f["term_start"])
        self.contract_id: str = f["contract_id"]
        self.originator_id = ""  # the aggregate id as the audit payload shows it
        self.customer: str = f["customer"]
        self.billing_mode: str = f["billing_mode"]
        self.cross_border: bool = f["cross_border"]
        self.signed_on: date = signed_on
        self.clock: date = signed_on
        self.version = version
        self.head_hash: str = f["hash"]
        # (start, end, effective_on) of each term, renewals appended (R9)
        self.terms: list[tuple[date, date, date]] = [
            (term_start, day(f["term_end"]), signed_on)]  # type: ignore[list-item]
        self.lines = {x["line_id"]: Line(x["line_id"], x["kind"],
                                         [FeeStep(term_start, fen(x["monthly_fee"]))])  # type: ignore[arg-type]
                      for x in f["lines"]}
        # [start, end or None, reason] of each suspension (R5/R6/R7)
        self.suspensions: list[list[Any]] = []
        self.notice: tuple[str, date] | None = None  # (party, received_on), R9
        self.terminated_on: date | None = None
        self.termination_reason: str | None = None
        self.accepted_on: date | None = None
        # asset_id -> (status, resolved_on), R11
        self.equipment: dict[str, tuple[str, date | None]] = {
            a["asset_id"]: ("placed", None) for a in f["equipment"]}
        self.paid_total = self.credit = self.charged_total = self.billed_total = 0
        self.open_bills: dict[str, OpenBill] = {}
        # (due_on, settled_on) of settled bills that were overdue for a day or more (R6)
        self.late_spans: list[tuple[date, date]] = []
        # postpaid charges not yet on a bill: charge_id -> (service month, fen)
        self.unbilled: dict[str, tuple[str, int]] = {}
        self.months = MonthTotals()

    # ---------------------------------------------------------------- as of a date

    def suspended_on(self, d: date) -> bool:
        return any(s <= d and (e is None or d < e) for s, e, _ in self.suspensions)

    def terminated_by(self, d: date) -> bool:
        return self.terminated_on is not None and self.terminated_on <= d

    def statuses(self, d: date) -> tuple[str, list[str]]:
        """The contract's status on `d` and each line's, in line order (as
        `views.contract_status` and `views.line_status` say)."""
        if self.terminated_by(d):
            return "terminated", ["terminated"] * len(self.lines)
        in_service = "suspended" if self.suspended_on(d) else "active"
        lines = ["pending" if line.billing_start is None or line.billing_start > d
                 else in_service for line in self.lines.values()]
        if in_service == "suspended":
            return "suspended", lines
        return ("active" if "active" in lines else "signed"), lines

    def term_on(self, d: date) -> tuple[date, date, date]:
        term = self.terms[0]
        for t in self.terms:
            if t[2] <= d:
                term = t
        return term

    def known_billing_start(self, line: Line, d: date) -> date | None:
        """In force from its own date when back-dated (R2); shown from the day it was
        decided when it lies ahead (as `views.known_billing_start`)."""
        return billing_start_known(line.billing_start, line.start_recorded_on, d)

    def arrears(self) -> tuple[date | None, list[str], int, date | None]:
        """(arrears_since, overdue bill ids, fen owed on them, oldest unpaid due date),
        as of the clock. Bills are issued on their business date (the bill run), so
        every recorded bill is issued by the clock, and a settled one is settled by it:
        only open bills can be overdue, and a settled bill counts for the arrears
        period (R6) only through its overdue span."""
        if not self.open_bills:  # a span ended by the clock covers no day from it on
            return None, [], 0, None
        items = [OpenItem(b.bill_id, b.due_on, None) for b in self.open_bills.values()]
        overdue = overdue_bills(items, self.clock)
        owed = sum(self.open_bills[b].total - self.open_bills[b].paid for b in overdue)
        oldest = min(b.due_on for b in self.open_bills.values())
        if self.billing_mode == "prepaid":
            return None, overdue, owed, oldest
        items.extend(OpenItem("", due_on, settled_on) for due_on, settled_on in self.late_spans)
        return arrears_since(items, self.clock), overdue, owed, oldest

    def balance(self) -> int:
        """Payments minus billed charges (prepaid: deductions), in fen, as of the clock."""
        billed = self.charged_total if self.billing_mode == "prepaid" else self.billed_total
        return self.paid_total - billed

    def unbilled_total(self) -> int:
        if self.billing_mode == "prepaid":
            return 0
        return sum(amount for _, amount in self.unbilled.values())

    def months_to_clock(self, since: date) -> Iterator[tuple[str, date]]:
        """(YYYY-MM, as_of) of every month from `since`'s (not before signing) to the
        clock's: as_of is the month's last day, or the clock if that is earlier."""
        first = month_start(max(since, self.signed_on))
        while first <= self.clock:
            key, last, first = _month_span(first)
            yield key, min(last, self.clock)


_SPANS: dict[date, tuple[str, date, date]] = {}


def _month_span(first: date) -> tuple[str, date, date]:
    """(YYYY-MM, last day, next month's first day) of the month starting `first`."""
    span = _SPANS.get(first)
    if span is None:
        last = month_end(first)
        span = _SPANS[first] = (month_key(first), last, last + ONE_DAY)
    return span


# ------------------------------------------------------------------ folding


class Changes(Protocol):
    """Told by the fold which rows an event touched (see `projections.readmodels`)."""

    def charge(self, facts: ContractFacts, f: Fields, rent: bool) -> None:
        """A charge item was posted: its service month changed (and, for `rent`,
        the portfolio's month)."""
    def billed(self, facts: ContractFacts, charge_id: str, bill_id: str) -> None: ...
    def service_month(self, facts: ContractFacts, month: str) -> None: ...
    def bill(self, facts: ContractFacts, bill: OpenBill) -> None: ...
    def portfolio_from(self, facts: ContractFacts, first: date) -> None: ...


class NoChanges:
    """For folding events whose rows are already written (re-folding a contract)."""

    def charge(self, facts: ContractFacts, f: Fields, rent: bool) -> None:
        pass

    def billed(self, facts: ContractFacts, charge_id: str, bill_id: str) -> None:
        pass

    def service_month(self, facts: ContractFacts, month: str) -> None:
        pass

    def bill(self, facts: ContractFacts, bill: OpenBill) -> None:
        pass

    def portfolio_from(self, facts: ContractFacts, first: date) -> None:
        pass


def fold(facts: ContractFacts | None, event_type: str, f: Fields, version: int,
         changes: Changes) -> ContractFacts:
    """`facts` after the event (version `version`) with fields `f`."""
    if facts is None:
        if event_type != "ContractSigned":
            raise ValueError(f"{event_type} v{version} before the contract was signed")
        facts = ContractFacts(f, version)
        changes.portfolio_from(facts, facts.signed_on)
        return facts
    business_date = _DAYS.get(f["business_date"]) or day(f["business_date"])
    assert business_date is not None
    if business_date > facts.clock:
        changes.portfolio_from(facts, facts.clock)  # the month the clock was in moves on
        facts.clock = business_date
    evolve = _EVOLVE.get(event_type)
    if evolve is not None:
        evolve(facts, f, changes)
    facts.version = version
    if f["hash"]:
        facts.head_hash = f["hash"]
    return facts


def _test_report(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.lines[f["line_id"]].report_date = day(f["report_date"])


def _confirmed(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.lines[f["line_id"]].confirmed_on = day(f["confirmed_on"])


def _activated(c: ContractFacts, f: Fields, changes: Changes) -> None:
    line = c.lines[f["line_id"]]
    before = line.billing_start
    line.billing_start = day(f["billing_start"])
    line.start_decision = f["decided_by"]
    line.start_recorded_on = day(f["business_date"])
    changes.portfolio_from(c, min(before or date.max, line.billing_start))  # type: ignore[type-var]


def _charge(c: ContractFacts, f: Fields, changes: Changes) -> None:
    amount, month = fen(f["amount"]), f["service_month"]
    rent = f["kind"] in RENT_KINDS
    c.months.charge(month, amount, rent)
    c.charged_total += amount
    if c.billing_mode != "prepaid":  # prepaid deductions are never billed
        c.unbilled[f["charge_id"]] = (month, amount)
    changes.charge(c, f, rent)


def _bill_issued(c: ContractFacts, f: Fields, changes: Changes) -> None:
    bill = OpenBill(f)
    for charge_id in f["charge_ids"]:
        entry = c.unbilled.pop(charge_id, None)
        if entry is not None:
            c.months.bill(*entry)
            changes.service_month(c, entry[0])
        changes.billed(c, charge_id, bill.bill_id)
    c.credit -= bill.credit_applied
    if bill.total < 0:  # a credit bill (adjustments): the surplus becomes credit
        c.credit -= bill.total
    c.billed_total += bill.total
    if bill.credit_applied >= bill.total:
        bill.settled_on = bill.issued_on
        _settled(c, bill)
    else:
        c.open_bills[bill.bill_id] = bill
    changes.bill(c, bill)


def _settled(c: ContractFacts, bill: OpenBill) -> None:
    """A settled bill's row is final; arrears keep its overdue span if it has one
    (overdue on days [due_on + 1, settled_on), see `ledger.rules.arrears`)."""
    c.open_bills.pop(bill.bill_id, None)
    if bill.due_on + ONE_DAY < bill.settled_on:  # type: ignore[operator]
        c.late_spans.append((bill.due_on, bill.settled_on))  # type: ignore[arg-type]


def _payment(c: ContractFacts, f: Fields, changes: Changes) -> None:
    for a in f["allocations"]:
        bill = c.open_bills[a["bill_id"]]
        bill.paid += fen(a["amount"])
        if bill.paid >= bill.total:
            bill.settled_on = day(f["business_date"])
            _settled(c, bill)
        changes.bill(c, bill)
    c.credit += fen(f["credit"])
    c.paid_total += fen(f["amount"])


def _tariff(c: ContractFacts, f: Fields, changes: Changes) -> None:
    line = c.lines[f["line_id"]]
    effective = day(f["effective"])
    assert effective is not None
    kept = [s for s in line.schedule if s.effective < effective]
    line.schedule = [*kept, FeeStep(effective, fen(f["monthly_fee"]))]  # type: ignore[arg-type]
    # A new first step also sets the fee before it (`fee_on`): every month may change.
    changes.portfolio_from(c, effective if kept else c.signed_on)


def _suspended(c: ContractFacts, f: Fields, changes: Changes) -> None:
    start = day(f["suspended_on"])
    c.suspensions.append([start, None, f["reason"]])
    changes.portfolio_from(c, start)  # type: ignore[arg-type]


def _reinstated(c: ContractFacts, f: Fields, changes: Changes) -> None:
    end = day(f["reinstated_on"])
    c.suspensions[-1][1] = end
    changes.portfolio_from(c, end)  # type: ignore[arg-type]


def _notice(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.notice = (f["party"], day(f["received_on"]))  # type: ignore[assignment]


def _renewed(c: ContractFacts, f: Fields, changes: Changes) -> None:
    start = day(f["term_start"])
    c.terms.append((start, day(f["term_end"]), start))  # type: ignore[arg-type]
    changes.portfolio_from(c, start)  # type: ignore[arg-type]


def _terminated(c: ContractFacts, f: Fields, changes: Changes) -> None:
    before = c.terminated_on
    c.terminated_on = day(f["terminated_on"])
    c.termination_reason = f["reason"]
    if c.suspensions and c.suspensions[-1][1] is None:
        c.suspensions[-1][1] = c.terminated_on
    changes.portfolio_from(c, min(before or date.max, c.terminated_on))  # type: ignore[type-var]


def _accepted(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.accepted_on = day(f["accepted_on"])


def _equipment(status: str) -> Callable[[ContractFacts, Fields, Changes], None]:
    def resolve(c: ContractFacts, f: Fields, changes: Changes) -> None:
        on = day(f["business_date"])
        c.equipment[f["asset_id"]] = (status, on)
        changes.portfolio_from(c, on)  # type: ignore[arg-type]
    return resolve


def _icp_filing(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.lines[f["line_id"]].icp_filing_number = f["filing_number"]


def _web_ports(c: ContractFacts, f: Fields, changes: Changes) -> None:
    c.lines[f["line_id"]].web_ports_open = True


#: What each event type changes in the facts; other types only move the clock (SMS
#: usage, disputes, ClockAdvanced: nothing any read model shows).
_EVOLVE: dict[str, Callable[[ContractFacts, Fields, Changes], None]] = {
    "TestReportSubmitted": _test_report,
    "ActivationConfirmed": _confirmed,
    "LineActivated": _activated,
    "ChargePosted": _charge,
    "BillIssued": _bill_issued,
    "PaymentReceived": _payment,
    "TariffAdjusted": _tariff,
    "Suspended": _suspended,
    "Reinstated": _reinstated,
    "TerminationNoticeGiven": _notice,
    "ContractRenewed": _renewed,
    "ContractTerminated": _terminated,
    "AcceptanceRecorded": _accepted,
    "EquipmentRecovered": _equipment("recovered"),
    "EquipmentReportedLost": _equipment("lost"),
    "IcpFilingRecorded": _icp_filing,
    "WebPortsOpened": _web_ports,
}
