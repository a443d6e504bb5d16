"""Read-side answers computed from a contract's state: pure, no I/O.

"As of D" means everything effective on or before business date D, D's
commands included: a back-dated deemed start counts from its start date.
Money leaves here as strings with two decimals, dates as ISO strings.

A state loaded from a snapshot may be compact (`ContractState.compacted_on`):
closed history was left out. It answers `status` as of its clock or any date
since `compacted_on` from running totals, in time that does not grow with the
history; a view it cannot answer exactly raises `HistoryNeeded`, never a figure
from incomplete data. The caller then reads the full state
(`LedgerApplication.load_history`); `needs_history` says so in advance.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledger.domain.state import ChargeState, ContractState, TermState
from ledger.rules.arrears import OpenItem, arrears_since
from ledger.rules.billing_start import billing_start_known
from ledger.rules.dates import month_key
from ledger.rules.money import ZERO, fmt
from ledger.rules.rent import FeeStep, fee_on


class HistoryNeeded(LookupError):
    """The view needs history a compact state left out: read `load_history`."""


def needs_history(s: ContractState, as_of: date | None = None) -> bool:
    """Whether `s` lacks history a view needs: any view of past bills (`as_of` None),
    or a status as of a date before the state was compacted."""
    return s.compacted_on is not None and (as_of is None or as_of < s.compacted_on)


def _require(s: ContractState, as_of: date | None, what: str) -> None:
    if needs_history(s, as_of):
        when = "" if as_of is None else f" as of {as_of}"
        raise HistoryNeeded(f"{what}{when} of contract {s.contract_id} needs its history "
                            f"(the state loaded was compacted on {s.compacted_on})")


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def term_on(s: ContractState, as_of: date) -> TermState:
    term = s.terms[0]
    for t in s.terms:
        if t.effective_on <= as_of:
            term = t
    return term


def _suspended_on(s: ContractState, d: date) -> bool:
    return any(x.start <= d and (x.end is None or d < x.end) for x in s.suspensions)


def known_billing_start(s: ContractState, line_id: str, as_of: date) -> date | None:
    """The billing start as of `as_of`: in force from its own date when back-dated
    (business time, R2), and shown from the day it was decided when it lies ahead."""
    line = s.lines[line_id]
    return billing_start_known(line.billing_start, line.start_recorded_on, as_of)


def line_status(s: ContractState, line_id: str, as_of: date) -> str:
    line = s.lines[line_id]
    if s.terminated_on is not None and s.terminated_on <= as_of:
        return "terminated"
    if line.billing_start is None or line.billing_start > as_of:
        return "pending"
    if _suspended_on(s, as_of):
        return "suspended"
    return "active"


def contract_status(s: ContractState, as_of: date) -> str:
    if s.terminated_on is not None and s.terminated_on <= as_of:
        return "terminated"
    if _suspended_on(s, as_of):
        return "suspended"
    if any(line_status(s, lid, as_of) == "active" for lid in s.lines):
        return "active"
    return "signed"


def balance(s: ContractState, as_of: date) -> Decimal:
    """Payments and credits minus billed charges (postpaid: bills issued; prepaid:
    deductions made), as of the end of `as_of`. Negative: the customer owes.

    The running totals less what was recorded after `as_of`: every item dated after
    `compacted_on` is still held, so this is exact as of any date since then."""
    _require(s, as_of, "the balance")
    paid = s.paid_total - sum((p.amount for p in s.payments if p.received_on > as_of), ZERO)
    if s.billing_mode == "prepaid":
        return paid - (s.charged_total
                       - sum((x.amount for x in s.charges if x.posted_on > as_of), ZERO))
    return paid - (s.billed_total - sum((b.total for b in s.bills if b.issued_on > as_of), ZERO))


def unbilled(s: ContractState, as_of: date) -> Decimal:
    """Postpaid charges posted but not on a bill issued by `as_of` (prepaid: 0.00).
    A compact state holds every charge not yet billed when it was compacted."""
    _require(s, as_of, "the unbilled amount")
    if s.billing_mode == "prepaid":
        return ZERO
    issued = {b.bill_id for b in s.bills if b.issued_on <= as_of}
    return sum((x.amount for x in s.charges
                if x.posted_on <= as_of and x.bill_id not in issued), ZERO)


def open_items(s: ContractState, as_of: date) -> list[OpenItem]:
    """Bills issued by `as_of`, settled only if settled by then. A compact state
    holds every bill that can still count towards arrears (R6)."""
    _require(s, as_of, "arrears")
    return [OpenItem(b.bill_id, b.due_on,
                     b.settled_on if b.settled_on and b.settled_on <= as_of else None)
            for b in s.bills if b.issued_on <= as_of]


def status_view(s: ContractState, as_of: date) -> dict[str, Any]:
    term = term_on(s, as_of)
    terminated = s.terminated_on is not None and s.terminated_on <= as_of
    since = None if s.billing_mode == "prepaid" else arrears_since(open_items(s, as_of), as_of)
    return {
        "contract_id": s.contract_id,
        "as_of": as_of.isoformat(),
        "status": contract_status(s, as_of),
        "term_start": term.start.isoformat(),
        "term_end": term.end.isoformat(),
        "billing_mode": s.billing_mode,
        "balance": fmt(balance(s, as_of)),
        "unbilled": fmt(unbilled(s, as_of)),
        "arrears_since": _iso(since),
        "terminated_on": _iso(s.terminated_on) if terminated else None,
        "termination_reason": s.termination_reason if terminated else None,
        "lines": [
            {
                "line_id": line.line_id,
                "kind": line.kind,
                "status": line_status(s, line.line_id, as_of),
                "billing_start": _iso(known_billing_start(s, line.line_id, as_of)),
                "monthly_fee": fmt(fee_on([FeeStep(x.effective, x.fee) for x in line.schedule],
                                          as_of)),
            }
            for line in s.lines.values()
        ],
    }


def charge_item(x: ChargeState) -> dict[str, Any]:
    return {
        "charge_id": x.charge_id,
        "line_id": x.line_id,
        "kind": x.kind,
        "service_from": x.service_from.isoformat(),
        "service_to": x.service_to.isoformat(),
        "days": x.days,
        "days_in_month": x.days_in_month,
        "rate": fmt(x.rate),
        "amount": fmt(x.amount),
        "rule": x.rule,
        "clause": x.clause,
        "formula": x.formula,
        "posted_on": x.posted_on.isoformat(),
        "bill_id": x.bill_id,
    }


def bill_view(s: ContractState, month: date, as_of: date) -> dict[str, Any]:
    """Every charge item whose service period lies in `month`, whenever it was posted
    (up to `as_of`): the service-month view of a bill. Needs the full history."""
    _require(s, None, "a bill")
    key = month_key(month)
    items = [x for x in s.charges if x.service_month == key and x.posted_on <= as_of]
    issued = {b.bill_id for b in s.bills if b.issued_on <= as_of}
    rows = []
    for x in items:
        row = charge_item(x)
        row["bill_id"] = x.bill_id if x.bill_id in issued else None
        rows.append(row)
    return {
        "contract_id": s.contract_id,
        "month": key,
        "items": rows,
        "total": fmt(sum((x.amount for x in items), ZERO)),
    }


def bills_issued(s: ContractState, as_of: date) -> list[dict[str, Any]]:
    """Issued postpaid bills (the issue-date view) and what was paid on them by `as_of`.
    Needs the full history."""
    _require(s, None, "the bills issued")
    out = []
    for b in s.bills:
        if b.issued_on > as_of:
            continue
        paid = b.credit_applied + sum((a.amount for p in s.payments if p.received_on <= as_of
                                       for a in p.allocations if a.bill_id == b.bill_id), ZERO)
        settled = b.settled_on if b.settled_on and b.settled_on <= as_of else None
        out.append({"bill_id": b.bill_id, "period": b.period,
                    "issued_on": b.issued_on.isoformat(), "due_on": b.due_on.isoformat(),
                    "total": fmt(b.total), "paid": fmt(paid), "settled_on": _iso(settled)})
    return out
