"""The read models: their tables, and how a batch's rows are computed from the facts.

A read model never decides anything. The runner folds every contract event into that
contract's `ContractFacts` (`projections.facts`: the facts the rows need, folded from
the stored events' JSON), and the fold tells the batch (`Batch`) which rows the event
touched. At the end of a batch each model writes exactly those rows, computed from
the facts as they stand then -- so a row is a pure function of the events up to the
tracking position, never an accumulation of increments. Every row is "as of" the
contract's business clock (the latest business date of its events, moved by
`ClockAdvanced`): projections never read the wall clock.

Rows are tuples in column order with store-neutral values: text, int, bool, and ISO
text for dates, record times, money ("1266.67", from integer fen) and JSON. The
writer (`projections.runner.Writer`) has PostgreSQL cast them to its column types.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson

from ledger.domain.summary import summarize_fields
from ledger.rules.dates import parse_month
from ledger.rules.rent import fee_on
from projections.facts import (
    ContractFacts,
    Fields,
    OpenBill,
    fen_text,
    money_text,
    rate_text,
)
from projections.schema import Col, Table
from projections.source import ContractEntry

LINE_KINDS = ("internet", "circuit", "ipvpn")
#: Aging buckets of the oldest unpaid bill's days past due: (label, lowest day count).
AGING_BUCKETS = (("90+", 91), ("61-90", 61), ("31-60", 31), ("1-30", 1), ("current", 0))
Row = tuple[Any, ...]


def aging_bucket(days_past_due: int) -> str:
    """Receivables aging: current (not past due), 1-30, 31-60, 61-90, 90+ days."""
    return next(label for label, low in AGING_BUCKETS if days_past_due >= low)


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


class Writer(Protocol):
    def upsert(self, table: Table, rows: list[Row]) -> None: ...
    def insert_new(self, table: Table, rows: list[Row]) -> None: ...
    def set_bill_ids(self, rows: list[tuple[str, str, str]]) -> None: ...


class Batch:
    """What one batch of events touched; the fold reports to it (`facts.Changes`).

    Live catch-up marks what each event touched. A rebuild (`deferred`) marks nothing:
    it writes every row of every contract once, at its end (or when a contract leaves
    the runner's memory), and only what can never be computed again on the way --
    audit rows, charge items, the final row of a bill that settled."""

    def __init__(self, deferred: bool = False) -> None:
        self.deferred = deferred
        self.contracts: dict[str, ContractFacts] = {}  # rows of these are rewritten
        self.everything: set[str] = set()  # ... all of them, every month and bill
        self.audit: list[Row] = []
        self.charges: dict[tuple[str, str], list[Any]] = {}  # new charge items
        self.billed_earlier: list[tuple[str, str, str]] = []  # (bill, contract, charge)
        self.service_months: set[tuple[str, str]] = set()
        self.bills: dict[str, tuple[str, OpenBill]] = {}
        self.portfolio: dict[str, date] = {}  # contract -> first day whose month changed

    def rewrite(self, facts: ContractFacts) -> None:
        """Write every row of this contract with this batch (a rebuild's end, or the
        contract leaving memory during one)."""
        self.contracts[facts.contract_id] = facts
        self.everything.add(facts.contract_id)

    # ---------------------------------------------------------------- facts.Changes

    def charge(self, facts: ContractFacts, f: Fields, rent: bool) -> None:
        cid = facts.contract_id
        self.charges[(cid, f["charge_id"])] = charge_row(cid, f)
        if not self.deferred:
            self.service_month(facts, f["service_month"])
            if rent:
                self.portfolio_from(facts, parse_month(f["service_month"]))

    def billed(self, facts: ContractFacts, charge_id: str, bill_id: str) -> None:
        row = self.charges.get((facts.contract_id, charge_id))
        if row is not None:
            row[_CHARGE_BILL_ID] = bill_id
        else:
            self.billed_earlier.append((bill_id, facts.contract_id, charge_id))

    def service_month(self, facts: ContractFacts, month: str) -> None:
        if not self.deferred:
            self.service_months.add((facts.contract_id, month))

    def bill(self, facts: ContractFacts, bill: OpenBill) -> None:
        if bill.settled_on is not None or not self.deferred:  # a settled bill is final
            self.bills[bill.bill_id] = (facts.contract_id, bill)

    def portfolio_from(self, facts: ContractFacts, first: date) -> None:
        if not self.deferred:
            cid = facts.contract_id
            before = self.portfolio.get(cid)
            if before is None or first < before:
                self.portfolio[cid] = first


class ReadModel(ABC):
    name: str
    doc: str
    tables: tuple[Table, ...]

    @abstractmethod
    def write(self, batch: Batch, w: Writer, position: int) -> None:
        """Write the rows this batch changed (one transaction, with the tracking row);
        `position` is the model's position before the batch."""


# ------------------------------------------------------------------------ contracts

CONTRACT = Table(
    "proj_contract", "One row per contract: where does each contract stand today?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("customer", "text", "Who is Party A?"),
        Col("billing_mode", "text", "Prepaid or postpaid?"),
        Col("cross_border", "bool", "Is it a cross-border contract (1-month renewals)?"),
        Col("status", "text", "signed | active | suspended | terminated, as of `as_of`?"),
        Col("as_of", "date", "The contract's business clock: the date every column is true on."),
        Col("signed_on", "date", "When was it signed?"),
        Col("term_start", "date", "When did the term in force start?"),
        Col("term_end", "date", "When does the term in force end?"),
        Col("renewals", "int", "How many times has the term renewed (R9)?"),
        Col("notice_received_on", "date", "When was termination notice received (R9), if any?"),
        Col("notice_party", "text", "Who gave the notice (customer | operator)?"),
        Col("suspended_since", "date", "If suspended: since when?"),
        Col("suspension_reason", "text", "If suspended: prepaid_balance (R5) or arrears (R6)?"),
        Col("terminated_on", "date", "First day without service, if terminated (R8/R10)."),
        Col("termination_reason", "text", "expiry | breach | mutual | cancellation."),
        Col("accepted_on", "date", "When did Party A accept the service (R14)?"),
        Col("lines", "int", "How many lines does the contract have?"),
        Col("version", "int", "How many contract events have been applied (stream version)?"),
        Col("head_hash", "text", "Hash of the last applied event (tamper-evidence chain head)."),
    ),
    key=("contract_id",),
    indexes=(("status",),),
)

CONTRACT_LINE = Table(
    "proj_contract_line", "One row per line: is each line billing, and at what fee?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("line_id", "text", "Which line (e.g. INT-1)?"),
        Col("kind", "text", "internet | circuit | ipvpn."),
        Col("status", "text", "pending | active | suspended | terminated, as of `as_of`?"),
        Col("as_of", "date", "The contract's business clock."),
        Col("billing_start", "date", "When did billing start (R2/R3), if it has?"),
        Col("start_decision", "text", "Was the start confirmed or deemed (R2)?"),
        Col("report_date", "date", "When was the delivery test report submitted?"),
        Col("confirmed_on", "date", "When did Party A confirm activation, if it did?"),
        Col("monthly_fee", "money", "Monthly fee in force on `as_of` (R12)."),
        Col("icp_filing_number", "text", "ICP filing of an internet line (R16), if recorded."),
        Col("web_ports_open", "bool", "Are web ports open (R16)?"),
    ),
    key=("contract_id", "line_id"),
    indexes=(("kind", "status"),),
)


class Contracts(ReadModel):
    name = "contracts"
    doc = "Contract status, term, billing start and fee in force, per contract and per line."
    tables = (CONTRACT, CONTRACT_LINE)

    def write(self, batch: Batch, w: Writer, position: int) -> None:
        w.upsert(CONTRACT, [contract_row(c) for c in batch.contracts.values()])
        w.upsert(CONTRACT_LINE, [row for c in batch.contracts.values() for row in line_rows(c)])


def contract_row(c: ContractFacts) -> Row:
    as_of = c.clock
    status, _ = c.statuses(as_of)
    start, end, _ = c.term_on(as_of)
    suspension = c.suspensions[-1] if status == "suspended" else None
    ended = c.terminated_by(as_of)
    party, notice_on = c.notice if c.notice is not None else (None, None)
    return (c.contract_id, c.customer, c.billing_mode, c.cross_border, status, _iso(as_of),
            _iso(c.signed_on), _iso(start), _iso(end), len(c.terms) - 1, _iso(notice_on),
            party, _iso(suspension[0]) if suspension else None,
            suspension[2] if suspension else None, _iso(c.terminated_on) if ended else None,
            c.termination_reason if ended else None, _iso(c.accepted_on), len(c.lines),
            c.version, c.head_hash)


def line_rows(c: ContractFacts) -> list[Row]:
    as_of, rows = c.clock, []
    for line, status in zip(c.lines.values(), c.statuses(as_of)[1], strict=True):
        start = c.known_billing_start(line, as_of)
        rows.append((c.contract_id, line.line_id, line.kind, status, _iso(as_of), _iso(start),
                     line.start_decision if start else None, _iso(line.report_date),
                     _iso(line.confirmed_on), fen_text(fee_on(line.schedule, as_of)),
                     line.icp_filing_number, line.web_ports_open))
    return rows


# ------------------------------------------------------------------------ balances

BALANCE = Table(
    "proj_balance", "One row per contract: who owes what, and for how long?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("customer", "text", "Who is Party A?"),
        Col("billing_mode", "text", "Prepaid or postpaid?"),
        Col("status", "text", "Contract status as of `as_of`."),
        Col("as_of", "date", "The contract's business clock: the date the figures are true on."),
        Col("balance", "money", "Payments minus billed charges (negative: the customer owes)."),
        Col("unbilled", "money", "Postpaid charges posted but not yet on an issued bill."),
        Col("credit", "money", "Unallocated payments held as credit."),
        Col("paid_total", "money", "Everything the customer has paid so far."),
        Col("overdue_bills", "int", "How many bills are past due and not fully paid?"),
        Col("overdue_amount", "money", "How much is owed on those bills?"),
        Col("oldest_unpaid_due_on", "date", "Due date of the oldest issued bill not settled."),
        Col("arrears_since", "date", "First day of the unbroken arrears period (R6), if any."),
        Col("arrears_days", "int", "Days the oldest unpaid bill is past its due date (0 if not)."),
        Col("aging_bucket", "text", "current | 1-30 | 31-60 | 61-90 | 90+ (from arrears_days)."),
    ),
    key=("contract_id",),
    indexes=(("aging_bucket",),),
)


class Balances(ReadModel):
    name = "balances"
    doc = "Balance, unbilled charges, overdue bills and arrears aging per contract."
    tables = (BALANCE,)

    def write(self, batch: Batch, w: Writer, position: int) -> None:
        w.upsert(BALANCE, [balance_row(c) for c in batch.contracts.values()])


def balance_row(c: ContractFacts) -> Row:
    as_of = c.clock
    since, overdue, owed, oldest = c.arrears()
    days = (as_of - oldest).days if oldest is not None and oldest < as_of else 0
    return (c.contract_id, c.customer, c.billing_mode, c.statuses(as_of)[0], _iso(as_of),
            fen_text(c.balance()), fen_text(c.unbilled_total()), fen_text(c.credit),
            fen_text(c.paid_total), len(overdue), fen_text(owed), _iso(oldest), _iso(since),
            days, aging_bucket(days))


# ------------------------------------------------------------------------ charges and bills

CHARGE_ITEM = Table(
    "proj_charge_item", "One row per charge item: what was charged, for which service "
    "period, under which rule, and on which bill?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("charge_id", "text", "Which charge item (unique within the contract)?"),
        Col("service_month", "text", "Which service month (YYYY-MM) does it belong to?"),
        Col("line_id", "text", "Which line (rent items), if any?"),
        Col("kind", "text", "prorated | monthly | overage | compensation | adjustment."),
        Col("service_from", "date", "First day of service charged."),
        Col("service_to", "date", "Last day of service charged."),
        Col("days", "int", "Days charged (rent items)."),
        Col("days_in_month", "int", "Days in the service month (proration denominator)."),
        Col("quantity", "int", "Messages (SMS overage), if any."),
        Col("rate", "decimal", "Rate applied (monthly fee, per-message rate, value)."),
        Col("amount", "money", "Amount charged (R1: rounded half-up to the fen once)."),
        Col("rule", "text", "The rule that produced it (e.g. R3)."),
        Col("clause", "text", "The contract clause (e.g. Art.3.2)."),
        Col("formula", "text", "How the amount was computed, in words."),
        Col("posted_on", "date", "Business date the item was posted."),
        Col("bill_id", "text", "Issued bill carrying the item (postpaid), if billed yet."),
        Col("asset_id", "text", "Equipment item (compensation), if any."),
        Col("dispute_id", "text", "Dispute an adjustment settles, if any."),
    ),
    key=("contract_id", "charge_id"),
    indexes=(("contract_id", "service_month"), ("bill_id",)),
)

SERVICE_MONTH = Table(
    "proj_service_month", "One row per contract and service month: what does the month's "
    "service cost, however many bills it was spread over?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("service_month", "text", "Which service month (YYYY-MM)?"),
        Col("items", "int", "How many charge items belong to the month?"),
        Col("total", "money", "Sum of the month's items (the service month of `ledger bill`)."),
        Col("rent", "money", "Of which rent (prorated and monthly items)."),
        Col("billed", "money", "Of which already on issued bills."),
        Col("unbilled", "money", "Of which not yet billed."),
    ),
    key=("contract_id", "service_month"),
    indexes=(("service_month",),),
)

BILL = Table(
    "proj_bill", "One row per issued bill (postpaid, R4): what was billed, when is it due, "
    "is it paid?",
    (
        Col("bill_id", "text", "Which bill (<contract>/<YYYY-MM>)?"),
        Col("contract_id", "text", "Which contract?"),
        Col("period", "text", "Billing period (YYYY-MM)."),
        Col("issued_on", "date", "When was it issued (the 1st, R4)?"),
        Col("due_on", "date", "When is it due?"),
        Col("items", "int", "How many charge items does it carry?"),
        Col("total", "money", "Bill total (negative: a credit bill)."),
        Col("credit_applied", "money", "Credit applied at issue."),
        Col("paid", "money", "Paid so far (credit applied plus allocated payments)."),
        Col("outstanding", "money", "Still owed (0.00 once settled)."),
        Col("settled_on", "date", "When was it fully paid, if it is?"),
    ),
    key=("bill_id",),
    indexes=(("contract_id", "period"),),
)

_CHARGE_BILL_ID = CHARGE_ITEM.names.index("bill_id")


class Charges(ReadModel):
    name = "charges"
    doc = "Charge items with rule and clause, per service month and per issued bill."
    tables = (CHARGE_ITEM, SERVICE_MONTH, BILL)

    def write(self, batch: Batch, w: Writer, position: int) -> None:
        # in key order: each contract's new items go into the same index pages
        w.upsert(CHARGE_ITEM, sorted(tuple(row) for row in batch.charges.values()))
        w.set_bill_ids(batch.billed_earlier)
        months = [(batch.contracts[cid], m) for cid, m in sorted(batch.service_months)]
        bills = [bill_row(cid, b) for cid, b in batch.bills.values()]
        for cid in batch.everything:
            c = batch.contracts[cid]
            months.extend((c, m) for m in c.months.charged_months())
            bills.extend(bill_row(cid, b) for b in c.open_bills.values())
        w.upsert(SERVICE_MONTH, [service_month_row(c, m) for c, m in months])
        w.upsert(BILL, bills)


def charge_row(contract_id: str, f: Fields) -> list[Any]:
    """A charge item, as posted (its bill is set when it is billed)."""
    return [contract_id, f["charge_id"], f["service_month"], f["line_id"], f["kind"],
            f["service_from"], f["service_to"], f["days"], f["days_in_month"], f["quantity"],
            rate_text(f["rate"]), money_text(f["amount"]), f["rule"], f["clause"],
            f["formula"], f["business_date"], None, f["asset_id"], f["dispute_id"]]


def service_month_row(c: ContractFacts, month: str) -> Row:
    items, total, rent, billed = c.months.get(month)
    return (c.contract_id, month, items, fen_text(total), fen_text(rent), fen_text(billed),
            fen_text(total - billed))


def bill_row(contract_id: str, b: OpenBill) -> Row:
    settled = b.settled_on is not None
    return (b.bill_id, contract_id, b.period, _iso(b.issued_on), _iso(b.due_on), b.items,
            fen_text(b.total), fen_text(b.credit_applied), fen_text(b.paid),
            fen_text(0 if settled else b.total - b.paid), _iso(b.settled_on))


# ------------------------------------------------------------------------ audit trail

AUDIT = Table(
    "proj_audit", "One row per contract event: who recorded what, when, and can it be "
    "verified?",
    (
        Col("contract_id", "text", "Which contract?"),
        Col("version", "int", "Position in the contract's stream (1 = signing)."),
        Col("notification_id", "int", "Position in the store's notification log."),
        Col("event_type", "text", "Event class (e.g. ChargePosted)."),
        Col("business_date", "date", "The contract's business date when it was recorded."),
        Col("recorded_at", "ts", "Record time (UTC) set when the event was created."),
        Col("actor", "text", "Who caused it (a user, or system:clock for time rules)."),
        Col("command_id", "text", "The command that caused it."),
        Col("command_type", "text", "That command's type."),
        Col("prev_hash", "text", "Hash of the previous event of the contract."),
        Col("hash", "text", "This event's SHA-256 chain hash."),
        Col("summary", "text", "One line saying what happened."),
        Col("payload", "json", "The whole event, as JSON."),
    ),
    key=("contract_id", "version"),
    indexes=(("notification_id",), ("business_date",)),
    appended_by_rebuild=True,
)


class Audit(ReadModel):
    name = "audit"
    doc = "One row per contract event: record time, actor, command, hash, summary, payload."
    tables = (AUDIT,)

    def write(self, batch: Batch, w: Writer, position: int) -> None:
        w.insert_new(AUDIT, [r for r in batch.audit if r[2] > position])


def audit_row(entry: ContractEntry, facts: ContractFacts) -> Row:
    """One event as the audit trail shows it. Its fields get their id fields back, so
    the payload is the whole event as JSON (what `model_dump(mode="json")` gives)."""
    notification_id, _, version, event_type, f = entry
    summary = summarize_fields(event_type, f)
    f["originator_id"] = facts.originator_id
    f["originator_version"] = version
    recorded_at = f["timestamp"]  # "...Z" -> the ISO UTC text the table holds
    if recorded_at[-1] == "Z" and len(recorded_at) in (20, 27):
        recorded_at = recorded_at[:-1] + "+00:00"
    else:
        recorded_at = datetime.fromisoformat(recorded_at).astimezone(UTC).isoformat()
    return (facts.contract_id, version, notification_id, event_type, f["business_date"],
            recorded_at, f["actor"], f["command_id"], f["command_type"], f["prev_hash"],
            f["hash"], summary, orjson.dumps(f, option=orjson.OPT_SORT_KEYS).decode())


# ------------------------------------------------------------------------ portfolio

PORTFOLIO = Table(
    "proj_portfolio_month", "One row per contract and calendar month (signing month to the "
    "contract's clock): what did each contract contribute to the portfolio that month? "
    "`ledger report portfolio` sums a month's rows.",
    (
        Col("month", "text", "Which month (YYYY-MM)?"),
        Col("contract_id", "text", "Which contract?"),
        Col("as_of", "date", "Day the row describes: the month's last day, or the contract's "
                             "clock if that is earlier (the month is then still open)."),
        Col("billing_mode", "text", "Prepaid or postpaid?"),
        Col("status", "text", "Contract status on `as_of` (signed|active|suspended|terminated)."),
        Col("lines_active", "int", "Lines in service on `as_of`."),
        Col("lines_suspended", "int", "Lines suspended on `as_of`."),
        Col("lines_pending", "int", "Lines not yet billing on `as_of`."),
        Col("lines_terminated", "int", "Lines of a contract terminated by `as_of`."),
        Col("mrr_internet", "money", "Monthly fees in force of active internet lines."),
        Col("mrr_circuit", "money", "Monthly fees in force of active circuit lines."),
        Col("mrr_ipvpn", "money", "Monthly fees in force of active IP-VPN lines."),
        Col("rent_charged", "money", "Rent items (prorated + monthly) for the month's service."),
        Col("renewed", "int", "1 if a renewed term started in the month (R9)."),
        Col("terminated", "int", "1 if the contract's service ended in the month."),
        Col("cancelled", "int", "1 if it ended by cancellation (R5/R6) in the month."),
        Col("equipment_outstanding", "int", "Assets still with Party A after termination, on "
                                            "`as_of` (R11)."),
        Col("equipment_recovered", "int", "Assets recovered in the month."),
        Col("equipment_lost", "int", "Assets reported lost in the month."),
    ),
    key=("month", "contract_id"),
    indexes=(("contract_id",),),
)


class Portfolio(ReadModel):
    name = "portfolio"
    doc = "Per contract and month: recurring revenue by line kind, statuses, renewals, " \
          "cancellations, equipment."
    tables = (PORTFOLIO,)

    def write(self, batch: Batch, w: Writer, position: int) -> None:
        rows = [row for cid, first in batch.portfolio.items() if cid not in batch.everything
                for row in portfolio_rows(batch.contracts[cid], first)]
        rows.extend(row for cid in batch.everything
                    for row in portfolio_rows(batch.contracts[cid], date.min))
        w.upsert(PORTFOLIO, rows)


def portfolio_rows(c: ContractFacts, since: date) -> list[Row]:
    """The contract's rows for every month from `since`'s to the clock's (a back-dated
    fact, e.g. a deemed billing start, changes the months from its date on)."""
    rows = []
    lines = list(c.lines.values())
    renewals = [(t[0].isoformat()[:7], t[0]) for t in c.terms[1:]]
    equipment = [(status, on, on.isoformat()[:7] if on else None)
                 for status, on in c.equipment.values()]
    resolved = any(on is not None for _, on, _ in equipment)
    ended_in = c.terminated_on.isoformat()[:7] if c.terminated_on else None
    for key, as_of in c.months_to_clock(since):
        status, line_statuses = c.statuses(as_of)
        counts = dict.fromkeys(("active", "suspended", "pending", "terminated"), 0)
        mrr = dict.fromkeys(LINE_KINDS, 0)
        for line, st in zip(lines, line_statuses, strict=True):
            counts[st] += 1
            if st == "active":
                mrr[line.kind] += fee_on(line.schedule, as_of)
        ended = status == "terminated"
        ended_here = ended and ended_in == key
        rows.append((
            key, c.contract_id, as_of.isoformat(), c.billing_mode, status,
            counts["active"], counts["suspended"], counts["pending"], counts["terminated"],
            fen_text(mrr["internet"]), fen_text(mrr["circuit"]), fen_text(mrr["ipvpn"]),
            fen_text(c.months.get(key)[2]),
            sum(1 for month, start in renewals if month == key and start <= as_of)
            if renewals else 0,
            int(ended_here), int(ended_here and c.termination_reason == "cancellation"),
            sum(1 for _, on, _ in equipment if on is None or on > as_of) if ended else 0,
            _resolved_in(equipment, "recovered", key, as_of) if resolved else 0,
            _resolved_in(equipment, "lost", key, as_of) if resolved else 0,
        ))
    return rows


def _resolved_in(equipment: list[tuple[str, date | None, str | None]], status: str,
                 month: str, as_of: date) -> int:
    """Assets recovered/lost in `month` (by `as_of`)."""
    return sum(1 for st, on, in_month in equipment
               if st == status and in_month == month and on <= as_of)  # type: ignore[operator]


MODELS: dict[str, ReadModel] = {m.name: m for m in
                                (Contracts(), Balances(), Charges(), Audit(), Portfolio())}
TABLES: dict[str, Table] = {t.name: t for m in MODELS.values() for t in m.tables}
