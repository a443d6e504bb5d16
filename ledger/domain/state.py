"""The contract's state: one pydantic model, evolved only by events.

Keeping the whole state in one typed model means a snapshot restores every
attribute with its type, and the read-side views (`ledger.domain.views`) are
pure functions of (state, as_of date).

Replayed from event 1 the state holds the whole history (every charge, bill and
payment). Running totals and counters (`paid_total`, `charge_count`, ...) let
decisions and `status` work without summing that history, so a snapshot keeps
only the part still needed to decide (`Contract.compact_state`): unbilled
charges, bills that can still count towards arrears (R6), rent postings of months
that can still be reconciled (R3/R7/R10/R12), plus the totals. Such a state says
so in `compacted_on`; views that need the closed part refuse it
(`views.HistoryNeeded`) and callers read `LedgerApplication.load_history`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from ledger.rules.money import ZERO
from ledger.rules.policy import Policy

LineKind = Literal["internet", "circuit", "ipvpn"]
BillingMode = Literal["prepaid", "postpaid"]
ChargeKind = Literal["prorated", "monthly", "overage", "compensation", "adjustment"]
TerminationReason = Literal["expiry", "breach", "mutual", "cancellation"]
RENT_KINDS = frozenset({"prorated", "monthly"})
#: Consecutive charge numbers of one service month and line: (line_id, first, last).
ChargeRun = tuple[str | None, int, int]


class FeeStepState(BaseModel):
    effective: date
    fee: Decimal
    recorded_version: int


class LineState(BaseModel):
    line_id: str
    kind: LineKind
    schedule: list[FeeStepState]
    report_date: date | None = None
    window_days: list[date] = Field(default_factory=list)
    decided_on: date | None = None  # the day the confirmation window's outcome takes effect
    deemed_start: date | None = None
    confirmed_on: date | None = None
    billing_start: date | None = None
    start_decision: Literal["confirmed", "deemed"] | None = None
    start_recorded_on: date | None = None  # business date the start became known
    start_recorded_version: int | None = None
    calendar: str | None = None
    icp_filing_number: str | None = None
    web_ports_open: bool = False


class ChargeState(BaseModel):
    charge_id: str
    kind: ChargeKind
    line_id: str | None
    service_month: str
    service_from: date
    service_to: date
    days: int | None
    days_in_month: int | None
    quantity: int | None = None
    rate: Decimal
    amount: Decimal
    rule: str
    clause: str
    formula: str
    posted_on: date
    bill_id: str | None = None
    asset_id: str | None = None
    dispute_id: str | None = None


class BillState(BaseModel):
    bill_id: str
    period: str
    issued_on: date
    due_on: date
    charge_ids: list[str]
    total: Decimal
    credit_applied: Decimal
    paid: Decimal
    settled_on: date | None


class AllocationState(BaseModel):
    bill_id: str
    amount: Decimal


class PaymentState(BaseModel):
    received_on: date
    amount: Decimal
    reference: str
    allocations: list[AllocationState]
    credit: Decimal


class SuspensionState(BaseModel):
    start: date
    end: date | None = None
    reason: Literal["prepaid_balance", "arrears"]
    recorded_version: int
    end_recorded_version: int | None = None


class TermState(BaseModel):
    start: date
    end: date
    effective_on: date


class NoticeState(BaseModel):
    party: Literal["customer", "operator"]
    received_on: date
    term_end: date
    in_window: bool


class AssetState(BaseModel):
    asset_id: str
    description: str
    value: Decimal
    status: Literal["placed", "recovered", "lost"] = "placed"
    resolved_on: date | None = None


class PostedRent(BaseModel):
    days: int
    amount: Decimal
    service_from: date
    service_to: date
    days_in_month: int


class DisputeState(BaseModel):
    """R13 (Art.3.6): a question about a month's charges and, once resolved, its outcome."""

    dispute_id: str
    month: str
    line_id: str | None
    question: str
    charge_ids: list[str]
    opened_on: date
    outcome: str | None = None
    reason: str | None = None
    adjustment: Decimal | None = None
    adjustment_charge_id: str | None = None
    corrects: list[str] = Field(default_factory=list)
    resolved_on: date | None = None


class ContractState(BaseModel):
    contract_id: str
    customer: str
    billing_mode: BillingMode
    cross_border: bool
    signed_on: date
    policy: Policy
    terms: list[TermState]
    lines: dict[str, LineState]
    sms_quota: int
    sms_overage_rate: Decimal
    sms_used_in_term: int = 0
    equipment: dict[str, AssetState]
    clock: date
    charges: list[ChargeState] = Field(default_factory=list)
    bills: list[BillState] = Field(default_factory=list)
    payments: list[PaymentState] = Field(default_factory=list)
    credit: Decimal = Decimal("0.00")
    suspensions: list[SuspensionState] = Field(default_factory=list)
    notice: NoticeState | None = None
    terminated_on: date | None = None
    termination_reason: TerminationReason | None = None
    termination_recorded_version: int | None = None
    accepted_on: date | None = None
    # Rent bookkeeping, derived from ChargePosted events ("line|YYYY-MM|rate" -> posted).
    rent_posted: dict[str, PostedRent] = Field(default_factory=dict)
    rent_posted_through: str | None = None
    last_rent_version: int = 0
    head_hash: str = ""  # hash of the last event (tamper-evidence chain)
    disputes: list[DisputeState] = Field(default_factory=list)  # R13
    # Running totals over the whole history (R1: exact sums of the recorded amounts),
    # so deciding and `status` never sum lists a compact state no longer holds.
    charge_count: int = 0  # charge n is `charge_id(contract_id, n)`
    charged_total: Decimal = ZERO  # every charge posted (prepaid: deducted)
    billed_total: Decimal = ZERO  # every postpaid bill's total
    paid_total: Decimal = ZERO  # every payment received
    # R13: which charges each service month holds, as runs of charge numbers per line,
    # so a dispute about any month finds its items without the closed history.
    charge_months: dict[str, list[ChargeRun]] = Field(default_factory=dict)
    # Set when closed history was left out (the clock then): views as of an earlier
    # date, and views of past bills, need the history (`views.HistoryNeeded`).
    compacted_on: date | None = None
    # Rent of service months before this one can no longer change and is no longer
    # held in `rent_posted`; rent is never posted for them again.
    rent_open_from: str | None = None

    @property
    def term(self) -> TermState:
        return self.terms[-1]

    @property
    def open_suspension(self) -> SuspensionState | None:
        if self.suspensions and self.suspensions[-1].end is None:
            return self.suspensions[-1]
        return None

    @property
    def is_terminated(self) -> bool:
        return self.terminated_on is not None


def charge_id(contract_id: str, number: int) -> str:
    """The id of a contract's `number`th charge (`REF-2025/CH00005`)."""
    return f"{contract_id}/CH{number:05d}"


def charge_number(contract_id: str, cid: str) -> int | None:
    """The number of `cid` if it is a charge id of this contract (`charge_id`), else None."""
    prefix = f"{contract_id}/CH"
    tail = cid[len(prefix):] if cid.startswith(prefix) else ""
    if not (tail.isascii() and tail.isdigit()) or charge_id(contract_id, int(tail)) != cid:
        return None
    return int(tail)


def add_charge_run(months: dict[str, list[ChargeRun]], month: str, line_id: str | None,
                   number: int) -> None:
    """Record charge `number` (the next one) under its service month and line."""
    runs = months.setdefault(month, [])
    if runs and runs[-1][0] == line_id and runs[-1][2] == number - 1:
        runs[-1] = (line_id, runs[-1][1], number)
    else:
        runs.append((line_id, number, number))
