"""A deliberately naive, independent reference model of the billing rules (a test oracle).

It imports nothing from ``ledger``: it is the second opinion the real ledger is compared
with. It simulates one calendar day at a time, keeps a per-day service record, and derives
every money figure from day counts per (line, service month, rate), rounded half-up to the
fen once per item (R1). Clarity is preferred over speed.

Public API
----------
``run(commands, end) -> dict[contract_id, OracleResult]``
    Simulate every contract found in ``commands`` up to and including ``end`` (state "as of
    the end of ``end``"). ``commands`` is a list of dicts in the ledger's JSON Lines command
    format (``type``, ``at`` ISO date, ``command_id``, fields at top level, money as decimal
    strings), in order, dates non-decreasing per contract. Commands dated after ``end`` are
    ignored. ``end`` is a ``date`` or an ISO string.
``run_one(commands, end) -> OracleResult``
    Same, for a command list holding exactly one contract.
``is_working_day(d)``, ``confirmation_window(report_date) -> list[date]``
    The R2 calendar helpers (official PRC calendar from ``holidays.China``; years outside
    ``OFFICIAL_YEARS`` are refused).

Daily order for day d (the ledger's documented choice): deemed billing starts whose window
ended d-1; prepaid month-end check (d a 1st); postpaid arrears suspension (d a 1st); R8
cancellation; term end (renewal / expiry); postings (prepaid deductions and corrections,
postpaid bill on the 1st); then d's commands in file order.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

import holidays

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ONE_DAY = timedelta(days=1)

#: Years for which ``holidays.China`` carries the official (announced) calendar. R2 says a
#: year without official data must not be guessed silently: the oracle refuses it.
OFFICIAL_YEARS = frozenset({2025, 2026})

WINDOW_WORKING_DAYS = 3
DEEMED_START_OFFSET = timedelta(days=5)


# --------------------------------------------------------------------------- helpers


def money(x: Any) -> Decimal:
    """A decimal string (or int/Decimal) as an exact Decimal; floats are refused."""
    if isinstance(x, float):
        raise TypeError("money must not be a float")
    return Decimal(str(x))


def round_fen(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def as_date(x: Any) -> date:
    if isinstance(x, date):
        return x
    return date.fromisoformat(str(x))


def days_in_month(year: int, month: int) -> int:
    return _calendar.monthrange(year, month)[1]


def month_key(d: date) -> tuple[int, int]:
    return (d.year, d.month)


def month_str(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def month_days(ym: tuple[int, int]) -> list[date]:
    y, m = ym
    return [date(y, m, i) for i in range(1, days_in_month(y, m) + 1)]


def last_day_of_month(d: date) -> date:
    return date(d.year, d.month, days_in_month(d.year, d.month))


def add_months(d: date, n: int) -> date:
    """Same day-of-month n months later, clamped to the target month's last day."""
    y, m0 = divmod(d.month - 1 + n, 12)
    y += d.year
    m = m0 + 1
    return date(y, m, min(d.day, days_in_month(y, m)))


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def prev_month(ym: tuple[int, int]) -> tuple[int, int]:
    y, m = ym
    return (y - 1, 12) if m == 1 else (y, m - 1)


# --------------------------------------------------------------------------- calendar


@cache
def _china_calendar(year: int):
    return holidays.China(years=[year])


def is_working_day(d: date) -> bool:
    """Official PRC calendar: public holidays off, make-up weekend days (调休) working."""
    if d.year not in OFFICIAL_YEARS:
        raise ValueError(f"no official PRC calendar data configured for {d.year}")
    return _china_calendar(d.year).is_working_day(d)


def confirmation_window(report_date: date) -> list[date]:
    """The first 3 working days after the test report date (the date itself not counted)."""
    out: list[date] = []
    d = report_date
    while len(out) < WINDOW_WORKING_DAYS:
        d += ONE_DAY
        if is_working_day(d):
            out.append(d)
    return out


# --------------------------------------------------------------------------- results


@dataclass
class Charge:
    """One posted money movement (a charge, or for prepaid a rent deduction/correction)."""

    posted_on: date
    kind: str  # rent | rent_correction | sms_overage | compensation
    service_month: str
    amount: Decimal
    line_id: str | None = None
    rate: Decimal | None = None
    days: int | None = None
    detail: str = ""


@dataclass
class Bill:
    issued_on: date
    due_on: date
    items: list[Charge]
    total: Decimal
    paid: Decimal = ZERO
    paid_on: date | None = None  # day it became fully paid


@dataclass
class LineResult:
    line_id: str
    kind: str
    status: str  # pending | active | suspended | terminated
    billing_start: date | None
    monthly_fee: Decimal  # the fee in force on the end date
    test_report_on: date | None = None
    window: list[date] = field(default_factory=list)
    confirmed_on: date | None = None  # the confirmation that fixed the start (in window)
    start_learned_on: date | None = None


@dataclass
class OracleResult:
    contract_id: str
    as_of: date
    billing_mode: str
    status: str  # signed | active | suspended | terminated
    #: rent charged per (service month "YYYY-MM", line_id); postpaid: on issued bills;
    #: prepaid: net deducted (deductions minus corrections). Zero entries omitted.
    rent: dict[tuple[str, str], Decimal]
    #: all charges per service month (rent + SMS overage + compensation), same basis as
    #: ``rent``. Zero entries omitted.
    month_totals: dict[str, Decimal]
    #: day-by-day rent for days up to and including ``as_of`` (whether posted or not), per
    #: (service month, line_id), as known on ``as_of``. Zero entries omitted.
    accrued_rent: dict[tuple[str, str], Decimal]
    bills: list[Bill]  # postpaid only
    balance: Decimal  # payments - bill totals (postpaid) / payments - deductions (prepaid)
    lines: dict[str, LineResult]
    arrears_since: date | None
    terminated_on: date | None
    termination_reason: str | None  # expiry | breach | mutual | cancellation
    term_start: date
    term_end: date
    suspended_since: date | None
    #: closed and open suspension periods: (first suspended day, reinstatement day or None)
    suspensions: list[tuple[date, date | None]]
    renewals: list[tuple[date, date]]  # (new term_start, new term_end) per renewal
    sms_used_in_term: int
    payments_total: Decimal
    charges: list[Charge]  # every posted charge (prepaid: deductions and corrections)
    unbilled: list[Charge]  # postpaid: non-rent charges recorded but not yet on a bill
    rejected: list[tuple[str, str]]  # (command_id, reason) of commands the oracle refused
    notice_given_on: date | None = None

    def bill_totals(self) -> list[tuple[date, date, Decimal]]:
        return [(b.issued_on, b.due_on, b.total) for b in self.bills]


# --------------------------------------------------------------------------- model


class Rejected(Exception):
    pass


class _Line:
    def __init__(self, line_id: str, kind: str, fee: Decimal):
        self.line_id = line_id
        self.kind = kind
        self.initial_fee = fee
        self.tariffs: list[tuple[date, Decimal]] = []  # (effective, fee) in command order
        self.report_on: date | None = None
        self.window: list[date] = []
        self.confirmed_on: date | None = None
        self.billing_start: date | None = None  # as known to the simulation so far
        self.start_learned_on: date | None = None

    def fee_on(self, x: date) -> Decimal:
        fee = self.initial_fee
        best: date | None = None
        for eff, f in self.tariffs:  # latest effective <= x; same date: later command wins
            if eff <= x and (best is None or eff >= best):
                best, fee = eff, f
        return fee


class _Contract:
    def __init__(self, cmd: dict, d: date):
        self.contract_id = cmd["contract_id"]
        self.signed_on = d
        self.mode = cmd["billing_mode"]
        if self.mode not in ("prepaid", "postpaid"):
            raise Rejected(f"unknown billing_mode {self.mode!r}")
        self.cross_border = bool(cmd.get("cross_border", False))
        self.term_start = as_date(cmd["term_start"])
        self.term_end = as_date(cmd["term_end"])
        self.lines: dict[str, _Line] = {}
        for ln in cmd["lines"]:
            self.lines[ln["line_id"]] = _Line(ln["line_id"], ln["kind"], money(ln["monthly_fee"]))
        self.sms_quota = int(cmd.get("sms_quota", 0) or 0)
        self.sms_rate = money(cmd.get("sms_overage_rate", "0"))
        self.sms_used = 0
        self.assets = {a["asset_id"]: money(a["value"]) for a in cmd.get("equipment", [])}
        self.asset_state: dict[str, str] = {}  # asset_id -> lost | recovered
        self.notice_on: date | None = None
        self.renewals: list[tuple[date, date]] = []

        self.suspended = False
        self.suspended_since: date | None = None
        self.cancel_on: date | None = None
        self.suspensions: list[list[date | None]] = []
        self.suspended_days: set[date] = set()
        self.arrears_days: set[date] = set()
        self.terminated_on: date | None = None
        self.termination_reason: str | None = None

        self.payments = ZERO
        self.charges: list[Charge] = []
        # prepaid: net rent charged per (line_id, ym)
        self.prepaid_rent: dict[tuple[str, tuple[int, int]], Decimal] = {}
        self.prepaid_other = ZERO
        self._opened: set[tuple[str, tuple[int, int]]] = set()
        # postpaid
        self.bills: list[Bill] = []
        self.billed_rent: dict[tuple[str, tuple[int, int], Decimal], Decimal] = {}
        self.unbilled: list[Charge] = []
        self.credit = ZERO

        self.today = d
        self._dirty = True

    # ------------------------------------------------------------------ service days

    def in_service(self, line: _Line, x: date, today: date) -> bool:
        """Whether ``line`` is in service on day ``x`` as known on ``today``. Days before
        ``today`` use the recorded suspension; ``today`` and later assume the current
        suspension state persists (the prepaid "assume service to month end")."""
        b = line.billing_start
        if b is None or x < b:
            return False
        if self.terminated_on is not None and x >= self.terminated_on:
            return False
        if x < today:
            return x not in self.suspended_days
        return not self.suspended

    def rent_items(
        self, line: _Line, ym: tuple[int, int], today: date, first: date | None = None,
        last: date | None = None,
    ) -> dict[Decimal, tuple[int, Decimal]]:
        """rate -> (days, rounded amount) for the line's days in service in month ``ym``
        (optionally only days in first..last)."""
        counts: dict[Decimal, int] = {}
        for x in month_days(ym):
            if first is not None and x < first:
                continue
            if last is not None and x > last:
                break
            if self.in_service(line, x, today):
                r = line.fee_on(x)
                counts[r] = counts.get(r, 0) + 1
        dim = days_in_month(*ym)
        return {r: (n, round_fen(r * n / dim)) for r, n in counts.items()}

    # ------------------------------------------------------------------ balance

    def balance(self) -> Decimal:
        if self.mode == "prepaid":
            return self.payments - sum(self.prepaid_rent.values(), ZERO) - self.prepaid_other
        return self.payments - sum((b.total for b in self.bills), ZERO)

    # ------------------------------------------------------------------ state changes

    def suspend(self, d: date) -> None:
        self.suspended = True
        self.suspended_since = d
        self.cancel_on = add_months(d, 3)
        self.suspensions.append([d, None])
        self._dirty = True

    def reinstate(self, d: date) -> None:
        self.suspended = False
        self.suspended_since = None
        self.cancel_on = None
        self.suspensions[-1][1] = d
        self._dirty = True

    def terminate(self, d: date, reason: str) -> None:
        self.terminated_on = d
        self.termination_reason = reason
        self._dirty = True

    def post_other(self, d: date, kind: str, amount: Decimal, detail: str) -> None:
        ch = Charge(d, kind, month_str(month_key(d)), amount, detail=detail)
        if self.mode == "prepaid":
            self.prepaid_other += amount
            self.charges.append(ch)
        else:
            self.unbilled.append(ch)

    # ------------------------------------------------------------------ prepaid

    def prepaid_sync(self, d: date) -> None:
        """Make the net rent charged per (line, month) equal to the day-by-day amount known
        on d (assuming today's state to month end), for the previous and current month,
        for every line whose billing start is on or before d. This performs the 1st-of-month
        deduction, the activation-month deduction, reinstatement deductions and the
        corrections after a termination or tariff change."""
        cur = month_key(d)
        for line in self.lines.values():
            b = line.billing_start
            if b is None or b > d:
                continue
            for ym in (prev_month(cur), cur):
                if ym < month_key(b):
                    continue
                items = self.rent_items(line, ym, d)
                new = sum((a for _, a in items.values()), ZERO)
                old = self.prepaid_rent.get((line.line_id, ym), ZERO)
                if new != old:
                    self.prepaid_rent[(line.line_id, ym)] = new
                    kind = "rent" if (line.line_id, ym) not in self._opened else "rent_correction"
                    self._opened.add((line.line_id, ym))
                    self.charges.append(
                        Charge(d, kind, month_str(ym), new - old, line.line_id,
                               detail=f"net now {new} from items {items}")
                    )
        self._dirty = False

    def prepaid_reinstatement_rent(self, d: date) -> Decimal:
        """Rent for days d..month end for every started line, as if in service."""
        end = last_day_of_month(d)
        total = ZERO
        dim = days_in_month(d.year, d.month)
        for line in self.lines.values():
            b = line.billing_start
            if b is None or b > d:
                continue
            counts: dict[Decimal, int] = {}
            x = d
            while x <= end:
                r = line.fee_on(x)
                counts[r] = counts.get(r, 0) + 1
                x += ONE_DAY
            total += sum((round_fen(r * n / dim) for r, n in counts.items()), ZERO)
        return total

    # ------------------------------------------------------------------ postpaid

    def allocate_credit(self, d: date) -> None:
        for bill in self.bills:  # oldest first
            if self.credit <= 0:
                break
            open_amt = bill.total - bill.paid
            if open_amt <= 0:
                continue
            pay = min(open_amt, self.credit)
            bill.paid += pay
            self.credit -= pay
            if bill.paid == bill.total:
                bill.paid_on = d

    def issue_bill(self, d: date) -> None:
        cur = month_key(d)
        items: list[Charge] = []
        for line in self.lines.values():
            b = line.billing_start
            if b is None:
                continue
            # every month up to the previous one; months older than three back are final
            # (only a back-dated deemed start, at most ~2 weeks back, changes past days)
            ym = max(month_key(b), prev_month(prev_month(prev_month(cur))))
            while ym < cur:
                for rate, (n, amount) in self.rent_items(line, ym, d).items():
                    key = (line.line_id, ym, rate)
                    delta = amount - self.billed_rent.get(key, ZERO)
                    if delta != 0:
                        self.billed_rent[key] = amount
                        items.append(
                            Charge(d, "rent", month_str(ym), delta, line.line_id, rate, n,
                                   detail=f"{rate} x {n} / {days_in_month(*ym)}")
                        )
                ym = (ym[0] + 1, 1) if ym[1] == 12 else (ym[0], ym[1] + 1)
        items.extend(self.unbilled)
        self.unbilled = []
        if not items:
            return
        total = sum((c.amount for c in items), ZERO)
        bill = Bill(d, last_day_of_month(d), items, total)
        self.bills.append(bill)
        self.charges.extend(items)
        if total == 0 and bill.paid_on is None:
            bill.paid_on = d
        self.allocate_credit(d)

    def overdue_unpaid(self, x: date) -> bool:
        """Some issued bill is past due on day x and not fully paid (as of now)."""
        return any(b.due_on < x and b.paid_on is None for b in self.bills)

    def arrears_run_start(self, x: date) -> date:
        s = x
        y = x - ONE_DAY
        while y in self.arrears_days:
            s = y
            y -= ONE_DAY
        return s

    # ------------------------------------------------------------------ the day

    def time_rules(self, d: date) -> None:
        # 1. deemed billing starts whose confirmation window ended on d-1
        for line in self.lines.values():
            if (
                line.report_on is not None
                and line.billing_start is None
                and line.window
                and line.window[-1] == d - ONE_DAY
                and self.terminated_on is None
            ):
                line.billing_start = line.report_on + DEEMED_START_OFFSET
                line.start_learned_on = d
                self._dirty = True
        if self.terminated_on is None:
            # 2. prepaid month-end check (end of the previous month, effective on the 1st)
            if self.mode == "prepaid" and d.day == 1 and not self.suspended:
                prev = d - ONE_DAY
                in_service = [ln for ln in self.lines.values() if self.in_service(ln, prev, d)]
                if in_service:
                    need = sum((ln.fee_on(d) for ln in in_service), ZERO)
                    if self.balance() < need:
                        self.suspend(d)
            # 3. postpaid arrears suspension on the 1st of month 3 of an unbroken period
            if (
                self.mode == "postpaid" and d.day == 1 and not self.suspended
                and self.overdue_unpaid(d)
                and month_index(d) - month_index(self.arrears_run_start(d)) == 2
            ):
                self.suspend(d)
            # 4. R8 automatic cancellation
            if self.suspended and self.cancel_on == d:
                self.terminate(d, "cancellation")
        # 5. end of term: expiry after notice, or renewal
        if self.terminated_on is None and d == self.term_end + ONE_DAY:
            if self.notice_on is not None:
                self.terminate(d, "expiry")
            else:
                self.term_start = d
                months = 1 if self.cross_border else 12
                self.term_end = add_months(d, months) - ONE_DAY
                self.sms_used = 0
                self.notice_on = None
                self.renewals.append((self.term_start, self.term_end))
        # 6. postings
        if self.mode == "prepaid":
            if d.day == 1 or any(ln.billing_start == d for ln in self.lines.values()):
                self._dirty = True
            if self._dirty:
                self.prepaid_sync(d)
        elif d.day == 1:
            self.issue_bill(d)

    def end_of_day(self, d: date) -> None:
        if self.suspended and self.terminated_on is None:
            self.suspended_days.add(d)
        if self.mode == "postpaid" and self.overdue_unpaid(d):
            self.arrears_days.add(d)

    # ------------------------------------------------------------------ commands

    def apply(self, cmd: dict, d: date) -> None:
        t = cmd["type"]
        handler = getattr(self, "cmd_" + t, None)
        if handler is None:
            raise Rejected(f"unknown command type {t!r}")
        handler(cmd, d)
        if self.mode == "prepaid":
            self.prepaid_sync(d)

    def _line(self, cmd: dict) -> _Line:
        lid = cmd.get("line_id")
        if lid not in self.lines:
            raise Rejected(f"unknown line {lid!r}")
        return self.lines[lid]

    def _live(self) -> None:
        if self.terminated_on is not None:
            raise Rejected("contract is terminated")

    def cmd_sign_contract(self, cmd: dict, d: date) -> None:
        raise Rejected("contract already signed")

    def cmd_submit_test_report(self, cmd: dict, d: date) -> None:
        self._live()
        line = self._line(cmd)
        if line.report_on is not None:
            raise Rejected("test report already submitted")
        line.report_on = d
        line.window = confirmation_window(d)

    def cmd_confirm_activation(self, cmd: dict, d: date) -> None:
        self._live()
        line = self._line(cmd)
        if line.report_on is None:
            raise Rejected("no test report")
        if line.confirmed_on is not None:
            raise Rejected("already confirmed")
        if d <= line.window[-1]:
            line.confirmed_on = d
            line.billing_start = d
            line.start_learned_on = d
        # a confirmation after the window changes nothing

    def cmd_record_payment(self, cmd: dict, d: date) -> None:
        amount = money(cmd["amount"])
        if amount <= 0:
            raise Rejected("payment must be positive")
        self.payments += amount
        if self.mode == "postpaid":
            self.credit += amount
            self.allocate_credit(d)
            if self.suspended and self.terminated_on is None and not self.overdue_unpaid(d):
                self.reinstate(d)
        elif (
            self.suspended and self.terminated_on is None
            and self.balance() >= self.prepaid_reinstatement_rent(d)
        ):
            self.reinstate(d)

    def cmd_adjust_tariff(self, cmd: dict, d: date) -> None:
        self._live()
        line = self._line(cmd)
        eff = as_date(cmd["effective"])
        if eff < d:
            raise Rejected("tariff change cannot be back-dated")
        line.tariffs.append((eff, money(cmd["monthly_fee"])))
        self._dirty = True

    def cmd_record_sms_usage(self, cmd: dict, d: date) -> None:
        self._live()
        n = int(cmd["messages"])
        if n < 0:
            raise Rejected("negative usage")
        before = self.sms_used
        self.sms_used += n
        over = max(0, self.sms_used - self.sms_quota) - max(0, before - self.sms_quota)
        if over > 0:
            amount = round_fen(over * self.sms_rate)
            if amount != 0:
                self.post_other(d, "sms_overage", amount, f"{over} x {self.sms_rate}")

    def cmd_give_termination_notice(self, cmd: dict, d: date) -> None:
        self._live()
        if self.notice_on is None:
            self.notice_on = d

    def cmd_terminate(self, cmd: dict, d: date) -> None:
        self._live()
        reason = cmd.get("reason")
        if reason not in ("breach", "mutual"):
            raise Rejected(f"bad termination reason {reason!r}")
        self.terminate(d, reason)

    def cmd_report_equipment_lost(self, cmd: dict, d: date) -> None:
        if self.terminated_on is None:
            raise Rejected("equipment loss is charged only after termination")
        aid = cmd.get("asset_id")
        if aid not in self.assets:
            raise Rejected(f"unknown asset {aid!r}")
        if aid in self.asset_state:
            raise Rejected(f"asset already {self.asset_state[aid]}")
        self.asset_state[aid] = "lost"
        self.post_other(d, "compensation", self.assets[aid], f"asset {aid}")

    def cmd_recover_equipment(self, cmd: dict, d: date) -> None:
        aid = cmd.get("asset_id")
        if aid in self.assets and aid not in self.asset_state and self.terminated_on is not None:
            self.asset_state[aid] = "recovered"

    def cmd_record_acceptance(self, cmd: dict, d: date) -> None:
        pass

    def cmd_record_icp_filing(self, cmd: dict, d: date) -> None:
        pass

    # ------------------------------------------------------------------ result

    def result(self, end: date, rejected: list[tuple[str, str]]) -> OracleResult:
        after = end + ONE_DAY  # every day <= end uses the recorded flags
        if self.mode == "prepaid":
            rent = {
                (month_str(ym), lid): a for (lid, ym), a in self.prepaid_rent.items() if a != 0
            }
            totals: dict[str, Decimal] = {}
            for ch in self.charges:
                totals[ch.service_month] = totals.get(ch.service_month, ZERO) + ch.amount
        else:
            rent = {}
            totals = {}
            for bill in self.bills:
                for ch in bill.items:
                    totals[ch.service_month] = totals.get(ch.service_month, ZERO) + ch.amount
                    if ch.kind == "rent":
                        k = (ch.service_month, ch.line_id)
                        rent[k] = rent.get(k, ZERO) + ch.amount
            rent = {k: v for k, v in rent.items() if v != 0}
        totals = {k: v for k, v in totals.items() if v != 0}

        accrued: dict[tuple[str, str], Decimal] = {}
        for line in self.lines.values():
            if line.billing_start is None or line.billing_start > end:
                continue
            ym = month_key(line.billing_start)
            while ym <= month_key(end):
                items = self.rent_items(line, ym, after, last=end)
                a = sum((amt for _, amt in items.values()), ZERO)
                if a != 0:
                    accrued[(month_str(ym), line.line_id)] = a
                ym = (ym[0] + 1, 1) if ym[1] == 12 else (ym[0], ym[1] + 1)

        terminated = self.terminated_on is not None
        lines: dict[str, LineResult] = {}
        any_in_service = False
        for line in self.lines.values():
            if terminated:
                st = "terminated"
            elif line.billing_start is None or line.billing_start > end:
                st = "pending"
            elif self.suspended:
                st = "suspended"
            else:
                st = "active"
                any_in_service = True
            lines[line.line_id] = LineResult(
                line.line_id, line.kind, st, line.billing_start, line.fee_on(end),
                line.report_on, list(line.window), line.confirmed_on, line.start_learned_on,
            )
        if terminated:
            status = "terminated"
        elif self.suspended:
            status = "suspended"
        elif any_in_service:
            status = "active"
        else:
            status = "signed"

        arrears_since = self.arrears_run_start(end) if end in self.arrears_days else None
        return OracleResult(
            contract_id=self.contract_id,
            as_of=end,
            billing_mode=self.mode,
            status=status,
            rent=rent,
            month_totals=totals,
            accrued_rent=accrued,
            bills=list(self.bills),
            balance=self.balance(),
            lines=lines,
            arrears_since=arrears_since,
            terminated_on=self.terminated_on,
            termination_reason=self.termination_reason,
            term_start=self.term_start,
            term_end=self.term_end,
            suspended_since=self.suspended_since if not terminated else None,
            suspensions=[(s, e) for s, e in self.suspensions],
            renewals=list(self.renewals),
            sms_used_in_term=self.sms_used,
            payments_total=self.payments,
            charges=list(self.charges),
            unbilled=list(self.unbilled),
            rejected=rejected,
            notice_given_on=self.notice_on,
        )


# --------------------------------------------------------------------------- driver


def _normalise(cmd: dict) -> dict:
    if isinstance(cmd.get("payload"), dict):  # tolerate {"type", "at", "payload": {...}}
        merged = dict(cmd["payload"])
        merged.update({k: v for k, v in cmd.items() if k != "payload"})
        return merged
    return cmd


def _simulate_contract(cmds: list[dict], end: date) -> OracleResult:
    rejected: list[tuple[str, str]] = []
    contract: _Contract | None = None
    pending = list(cmds)
    # the contract's clock starts with its sign_contract command
    while pending and contract is None:
        cmd = pending.pop(0)
        d = as_date(cmd["at"])
        if cmd["type"] != "sign_contract":
            rejected.append((cmd.get("command_id", "?"), "contract not signed"))
            continue
        try:
            contract = _Contract(cmd, d)
        except Rejected as e:
            rejected.append((cmd.get("command_id", "?"), str(e)))
    if contract is None:
        raise ValueError("no valid sign_contract command")

    by_day: dict[date, list[dict]] = {}
    clock = contract.signed_on
    for cmd in pending:
        d = as_date(cmd["at"])
        if d < clock:
            rejected.append((cmd.get("command_id", "?"), "dated before the contract clock"))
            continue
        clock = d
        by_day.setdefault(d, []).append(cmd)

    d = contract.signed_on
    while d <= end:
        contract.today = d
        contract.time_rules(d)
        for cmd in by_day.get(d, []):
            try:
                contract.apply(cmd, d)
            except Rejected as e:
                rejected.append((cmd.get("command_id", "?"), str(e)))
        contract.end_of_day(d)
        d += ONE_DAY
    return contract.result(end, rejected)


def run(commands: list[dict], end: date | str) -> dict[str, OracleResult]:
    """Simulate every contract in ``commands`` up to the end of ``end``."""
    end = as_date(end)
    per_contract: dict[str, list[dict]] = {}
    for raw in commands:
        cmd = _normalise(raw)
        if as_date(cmd["at"]) > end:
            continue
        per_contract.setdefault(cmd["contract_id"], []).append(cmd)
    return {cid: _simulate_contract(cmds, end) for cid, cmds in per_contract.items()}


def run_one(commands: list[dict], end: date | str) -> OracleResult:
    results = run(commands, end)
    if len(results) != 1:
        raise ValueError(f"expected exactly one contract, got {sorted(results)}")
    return next(iter(results.values()))
