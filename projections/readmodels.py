"""The read models: which rows each one keeps, and how an event marks them for rewriting.

A read model never decides anything. The runner folds every contract event into
that contract's `ContractState` with the event's own `apply` (the same code the
aggregate uses), so a row is always derived from the state the events produced,
and values that need rules (status, balance, unbilled, arrears) come from the
pure functions in `ledger.domain.views` / `ledger.rules`. Every row is "as of"
the contract's business clock (the latest business date of its events, moved by
`ClockAdvanced`): projections never read the wall clock.

Per batch, `observe` notes which rows an event touched; `write` rewrites exactly
those rows from the contract's state at the end of the batch. Writes are
state-derived upserts, so a row never accumulates increments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from ledger.domain import views
from ledger.domain.base import LedgerEvent
from ledger.domain.events import BillIssued, ChargePosted, PaymentReceived
from ledger.domain.state import RENT_KINDS, ContractState
from ledger.domain.summary import summarize
from ledger.rules.arrears import overdue_bills
from ledger.rules.dates import month_end, month_key, months_between, parse_month
from ledger.rules.money import ZERO
from ledger.rules.rent import FeeStep, fee_on
from projections.schema import Col, Table

LINE_KINDS = ("internet", "circuit", "ipvpn")
#: Aging buckets of the oldest unpaid bill's days past due: (label, lowest day count).
AGING_BUCKETS = (("90+", 91), ("61-90", 61), ("31-60", 31), ("1-30", 1), ("current", 0))


def aging_bucket(days_past_due: int) -> str:
    """Receivables aging: current (not past due), 1-30, 31-60, 61-90, 90+ days."""
    return next(label for label, low in AGING_BUCKETS if days_past_due >= low)


class Writer(Protocol):
    def upsert(self, table: Table, rows: Iterable[dict[str, Any]]) -> None: ...
    def insert_new(self, table: Table, rows: Iterable[dict[str, Any]]) -> None: ...
    def delete(self, table: Table, column: str, values: Iterable[Any]) -> None: ...


@dataclass
class Batch:
    """What one batch of events touched, for one read model."""

    contracts: dict[str, ContractState] = field(default_factory=dict)
    charges: set[tuple[str, str]] = field(default_factory=set)
    bills: set[tuple[str, str]] = field(default_factory=set)
    rows: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # contract -> last version seen


class ReadModel(ABC):
    name: str
    doc: str
    tables: tuple[Table, ...]

    def observe(self, batch: Batch, event: LedgerEvent, state: ContractState,
                notification_id: int) -> None:
        batch.contracts[state.contract_id] = state
        batch.versions[state.contract_id] = event.originator_version

    @abstractmethod
    def write(self, batch: Batch, w: Writer) -> None:
        """Write the rows this batch changed (one transaction, with the tracking row)."""


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


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class Contracts(ReadModel):
    name = "contracts"
    doc = "Contract status, term, billing start and fee in force, per contract and per line."
    tables = (CONTRACT, CONTRACT_LINE)

    def write(self, batch: Batch, w: Writer) -> None:
        heads, lines = [], []
        for s in batch.contracts.values():
            v = views.status_view(s, s.clock)
            suspension = s.suspensions[-1] if v["status"] == "suspended" else None
            heads.append({
                "contract_id": s.contract_id, "customer": s.customer,
                "billing_mode": s.billing_mode, "cross_border": s.cross_border,
                "status": v["status"], "as_of": s.clock, "signed_on": s.signed_on,
                "term_start": v["term_start"], "term_end": v["term_end"],
                "renewals": len(s.terms) - 1,
                "notice_received_on": s.notice.received_on if s.notice else None,
                "notice_party": s.notice.party if s.notice else None,
                "suspended_since": suspension.start if suspension else None,
                "suspension_reason": suspension.reason if suspension else None,
                "terminated_on": v["terminated_on"], "termination_reason": v["termination_reason"],
                "accepted_on": s.accepted_on, "lines": len(s.lines),
                "version": batch.versions[s.contract_id], "head_hash": s.head_hash,
            })
            for lv in v["lines"]:
                line = s.lines[lv["line_id"]]
                lines.append({
                    "contract_id": s.contract_id, "line_id": line.line_id, "kind": line.kind,
                    "status": lv["status"], "as_of": s.clock,
                    "billing_start": lv["billing_start"],
                    "start_decision": line.start_decision if lv["billing_start"] else None,
                    "report_date": line.report_date, "confirmed_on": line.confirmed_on,
                    "monthly_fee": lv["monthly_fee"],
                    "icp_filing_number": line.icp_filing_number,
                    "web_ports_open": line.web_ports_open,
                })
        w.upsert(CONTRACT, heads)
        w.upsert(CONTRACT_LINE, lines)


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

    def write(self, batch: Batch, w: Writer) -> None:
        w.upsert(BALANCE, [balance_row(s) for s in batch.contracts.values()])


def balance_row(s: ContractState) -> dict[str, Any]:
    as_of = s.clock
    v = views.status_view(s, as_of)
    items = views.open_items(s, as_of)
    unpaid = [i.due_on for i in items if i.settled_on is None]
    oldest = min(unpaid) if unpaid else None
    overdue = set(overdue_bills(items, as_of))
    owed = sum((b.total - b.paid for b in s.bills if b.bill_id in overdue), ZERO)
    days = (as_of - oldest).days if oldest is not None and oldest < as_of else 0
    return {
        "contract_id": s.contract_id, "customer": s.customer, "billing_mode": s.billing_mode,
        "status": v["status"], "as_of": as_of, "balance": v["balance"],
        "unbilled": v["unbilled"], "credit": s.credit,
        "paid_total": sum((p.amount for p in s.payments), ZERO),
        "overdue_bills": len(overdue), "overdue_amount": owed,
        "oldest_unpaid_due_on": oldest, "arrears_since": v["arrears_since"],
        "arrears_days": days, "aging_bucket": aging_bucket(days),
    }


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


class Charges(ReadModel):
    name = "charges"
    doc = "Charge items with rule and clause, per service month and per issued bill."
    tables = (CHARGE_ITEM, SERVICE_MONTH, BILL)

    def observe(self, batch: Batch, event: LedgerEvent, state: ContractState,
                notification_id: int) -> None:
        cid = state.contract_id
        if isinstance(event, ChargePosted):
            batch.contracts[cid] = state
            batch.charges.add((cid, event.charge_id))
        elif isinstance(event, BillIssued):
            batch.contracts[cid] = state
            batch.bills.add((cid, event.bill_id))
            batch.charges.update((cid, x) for x in event.charge_ids)
        elif isinstance(event, PaymentReceived):
            batch.contracts[cid] = state
            batch.bills.update((cid, a.bill_id) for a in event.allocations)

    def write(self, batch: Batch, w: Writer) -> None:
        charges, months, bills = [], [], []
        for cid, s in batch.contracts.items():
            by_id = {x.charge_id: x for x in s.charges}
            touched = [by_id[c] for k, c in batch.charges if k == cid]
            for x in touched:
                row = views.charge_item(x)
                row.update(contract_id=cid, service_month=x.service_month, quantity=x.quantity,
                           asset_id=x.asset_id, dispute_id=x.dispute_id)
                charges.append(row)
            for m in sorted({x.service_month for x in touched}):
                view = views.bill_view(s, parse_month(m), s.clock)
                items = view["items"]
                billed = sum((Decimal(i["amount"]) for i in items if i["bill_id"]), ZERO)
                months.append({
                    "contract_id": cid, "service_month": m, "items": len(items),
                    "total": view["total"], "billed": billed,
                    "unbilled": Decimal(view["total"]) - billed,
                    "rent": sum((Decimal(i["amount"]) for i in items
                                 if i["kind"] in RENT_KINDS), ZERO),
                })
            wanted = {b for k, b in batch.bills if k == cid}
            state_bills = {b.bill_id: b for b in s.bills}
            for bv in views.bills_issued(s, s.clock):
                if bv["bill_id"] in wanted:
                    b = state_bills[bv["bill_id"]]
                    settled = bv["settled_on"] is not None
                    bills.append({
                        **bv, "contract_id": cid, "items": len(b.charge_ids),
                        "credit_applied": b.credit_applied,
                        "outstanding": ZERO if settled else Decimal(bv["total"])
                        - Decimal(bv["paid"]),
                    })
        w.upsert(CHARGE_ITEM, charges)
        w.upsert(SERVICE_MONTH, months)
        w.upsert(BILL, bills)


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
)


class Audit(ReadModel):
    name = "audit"
    doc = "One row per contract event: record time, actor, command, hash, summary, payload."
    tables = (AUDIT,)

    def observe(self, batch: Batch, event: LedgerEvent, state: ContractState,
                notification_id: int) -> None:
        batch.rows.append({
            "contract_id": state.contract_id, "version": event.originator_version,
            "notification_id": notification_id, "event_type": type(event).__name__,
            "business_date": event.business_date, "recorded_at": event.timestamp,
            "actor": event.actor, "command_id": event.command_id,
            "command_type": event.command_type, "prev_hash": event.prev_hash,
            "hash": event.hash, "summary": summarize(event),
            "payload": event.model_dump(mode="json"),
        })

    def write(self, batch: Batch, w: Writer) -> None:
        w.insert_new(AUDIT, batch.rows)


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

    def write(self, batch: Batch, w: Writer) -> None:
        # A back-dated fact (e.g. a deemed start) can change earlier months: rewrite all.
        w.delete(PORTFOLIO, "contract_id", batch.contracts)
        w.upsert(PORTFOLIO, [row for s in batch.contracts.values() for row in portfolio_rows(s)])


def portfolio_rows(s: ContractState) -> list[dict[str, Any]]:
    rows = []
    schedules = {lid: [FeeStep(x.effective, x.fee) for x in ln.schedule]
                 for lid, ln in s.lines.items()}
    for first in months_between(s.signed_on, s.clock):
        as_of = min(month_end(first), s.clock)
        key = month_key(first)
        counts = dict.fromkeys(("active", "suspended", "pending", "terminated"), 0)
        mrr = dict.fromkeys(LINE_KINDS, ZERO)
        for lid, line in s.lines.items():
            st = views.line_status(s, lid, as_of)
            counts[st] += 1
            if st == "active":
                mrr[line.kind] += fee_on(schedules[lid], as_of)
        ended = s.terminated_on is not None and s.terminated_on <= as_of
        ended_here = ended and month_key(s.terminated_on) == key  # type: ignore[arg-type]

        rows.append({
            "month": key, "contract_id": s.contract_id, "as_of": as_of,
            "billing_mode": s.billing_mode, "status": views.contract_status(s, as_of),
            "lines_active": counts["active"], "lines_suspended": counts["suspended"],
            "lines_pending": counts["pending"], "lines_terminated": counts["terminated"],
            "mrr_internet": mrr["internet"], "mrr_circuit": mrr["circuit"],
            "mrr_ipvpn": mrr["ipvpn"],
            "rent_charged": sum((x.amount for x in s.charges
                                 if x.service_month == key and x.kind in RENT_KINDS), ZERO),
            "renewed": sum(1 for t in s.terms[1:] if month_key(t.start) == key
                           and t.start <= as_of),
            "terminated": int(ended_here),
            "cancelled": int(ended_here and s.termination_reason == "cancellation"),
            "equipment_outstanding": sum(
                1 for a in s.equipment.values()
                if a.resolved_on is None or a.resolved_on > as_of) if ended else 0,
            "equipment_recovered": _resolved_in(s, "recovered", key, as_of),
            "equipment_lost": _resolved_in(s, "lost", key, as_of),
        })
    return rows


def _resolved_in(s: ContractState, status: str, month: str, as_of: date) -> int:
    """Assets recovered/lost in `month` (by `as_of`)."""
    return sum(1 for a in s.equipment.values() if a.status == status
               and a.resolved_on is not None and a.resolved_on <= as_of
               and month_key(a.resolved_on) == month)


MODELS: dict[str, ReadModel] = {m.name: m for m in
                                (Contracts(), Balances(), Charges(), Audit(), Portfolio())}
TABLES: dict[str, Table] = {t.name: t for m in MODELS.values() for t in m.tables}
