"""The contract's events: immutable facts, past tense, versioned, never edited.

Each event's `apply` evolves `ContractState`; deciding what happens is done by
`ledger.domain.contract.Contract`, never here. Corrections are new events
(a correcting `ChargePosted`), never edits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from ledger.domain.base import LedgerCreated, LedgerEvent
from ledger.domain.state import (
    AllocationState,
    AssetState,
    BillingMode,
    BillState,
    ChargeKind,
    ChargeState,
    ContractState,
    DisputeState,
    FeeStepState,
    LineKind,
    LineState,
    NoticeState,
    PaymentState,
    PostedRent,
    SuspensionState,
    TerminationReason,
    TermState,
    add_charge_run,
)
from ledger.rules.policy import Policy

if TYPE_CHECKING:
    from ledger.domain.contract import Contract


class LineSpec(BaseModel):
    line_id: str
    kind: LineKind
    monthly_fee: Decimal


class AssetSpec(BaseModel):
    asset_id: str
    description: str
    value: Decimal


class ContractEvent(LedgerEvent):
    def apply(self, aggregate: Contract) -> None:
        state = aggregate.state
        if self.business_date > state.clock:
            state.clock = self.business_date
        self.evolve(state)
        state.head_hash = self.hash  # events are chained when made (`LedgerEvent.chained`)

    def evolve(self, state: ContractState) -> None:
        """Apply this fact to the state (no decisions here)."""


class ContractSigned(LedgerCreated):
    contract_id: str
    customer: str
    term_start: date
    term_end: date
    billing_mode: BillingMode
    cross_border: bool
    lines: list[LineSpec]
    sms_quota: int
    sms_overage_rate: Decimal
    equipment: list[AssetSpec]
    policy: Policy

    def apply(self, aggregate: Contract) -> None:
        aggregate.state = ContractState(
            contract_id=self.contract_id,
            customer=self.customer,
            billing_mode=self.billing_mode,
            cross_border=self.cross_border,
            signed_on=self.business_date,
            policy=self.policy,
            terms=[TermState(start=self.term_start, end=self.term_end,
                             effective_on=self.business_date)],
            lines={
                spec.line_id: LineState(
                    line_id=spec.line_id,
                    kind=spec.kind,
                    schedule=[FeeStepState(effective=self.term_start, fee=spec.monthly_fee,
                                           recorded_version=self.originator_version)],
                )
                for spec in self.lines
            },
            sms_quota=self.sms_quota,
            sms_overage_rate=self.sms_overage_rate,
            equipment={a.asset_id: AssetState(asset_id=a.asset_id, description=a.description,
                                              value=a.value) for a in self.equipment},
            clock=self.business_date,
            head_hash=self.hash,
        )


class TestReportSubmitted(ContractEvent):
    """R2: Party B submitted the delivery test report; the confirmation window opened."""

    __test__ = False  # not a pytest test class
    line_id: str
    report_date: date
    window_days: list[date]
    decided_on: date
    deemed_start: date
    calendar: str

    def evolve(self, state: ContractState) -> None:
        line = state.lines[self.line_id]
        line.report_date = self.report_date
        line.window_days = list(self.window_days)
        line.decided_on = self.decided_on
        line.deemed_start = self.deemed_start
        line.calendar = self.calendar


class ActivationConfirmed(ContractEvent):
    """R2: Party A signed the confirmation (in the window or late)."""

    line_id: str
    confirmed_on: date
    in_window: bool

    def evolve(self, state: ContractState) -> None:
        state.lines[self.line_id].confirmed_on = self.confirmed_on


class LineActivated(ContractEvent):
    """R2/R3: billing starts for a line, confirmed or deemed (possibly back-dated)."""

    line_id: str
    billing_start: date
    decided_by: Literal["confirmed", "deemed"]
    report_date: date
    confirmed_on: date | None
    window_days: list[date]
    calendar: str

    def evolve(self, state: ContractState) -> None:
        line = state.lines[self.line_id]
        line.billing_start = self.billing_start
        line.start_decision = self.decided_by
        line.start_recorded_on = self.business_date
        line.start_recorded_version = self.originator_version


class ChargePosted(ContractEvent):
    """A charge item (R1): rent, SMS overage, compensation or adjustment."""

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
    rent_key: str | None = None  # "line|YYYY-MM|rate" for rent and rent corrections
    asset_id: str | None = None
    dispute_id: str | None = None

    def evolve(self, state: ContractState) -> None:
        state.charge_count += 1
        state.charged_total += self.amount
        add_charge_run(state.charge_months, self.service_month, self.line_id,
                       state.charge_count)
        state.charges.append(ChargeState(
            charge_id=self.charge_id, kind=self.kind, line_id=self.line_id,
            service_month=self.service_month, service_from=self.service_from,
            service_to=self.service_to, days=self.days, days_in_month=self.days_in_month,
            quantity=self.quantity, rate=self.rate, amount=self.amount, rule=self.rule,
            clause=self.clause, formula=self.formula, posted_on=self.business_date,
            asset_id=self.asset_id, dispute_id=self.dispute_id,
        ))
        if self.rent_key is not None:
            assert self.days is not None and self.days_in_month is not None
            before = state.rent_posted.get(self.rent_key)
            if before is None:
                state.rent_posted[self.rent_key] = PostedRent(
                    days=self.days, amount=self.amount, service_from=self.service_from,
                    service_to=self.service_to, days_in_month=self.days_in_month)
            else:
                before.days += self.days
                before.amount += self.amount
                before.service_from = min(before.service_from, self.service_from)
                before.service_to = max(before.service_to, self.service_to)
            if state.rent_posted_through is None or self.service_month > state.rent_posted_through:
                state.rent_posted_through = self.service_month
            state.last_rent_version = self.originator_version


class BillIssued(ContractEvent):
    """R4: a postpaid bill, issued on the 1st for everything not yet billed."""

    bill_id: str
    period: str
    issued_on: date
    due_on: date
    charge_ids: list[str]
    total: Decimal
    credit_applied: Decimal

    def evolve(self, state: ContractState) -> None:
        ids = set(self.charge_ids)
        for charge in state.charges:
            if charge.charge_id in ids:
                charge.bill_id = self.bill_id
        settled = self.credit_applied >= self.total
        state.billed_total += self.total
        state.credit -= self.credit_applied
        if self.total < 0:  # a credit bill (adjustments): the surplus becomes credit
            state.credit += -self.total
        state.bills.append(BillState(
            bill_id=self.bill_id, period=self.period, issued_on=self.issued_on,
            due_on=self.due_on, charge_ids=list(self.charge_ids), total=self.total,
            credit_applied=self.credit_applied, paid=self.credit_applied,
            settled_on=self.issued_on if settled else None,
        ))


class Allocation(BaseModel):
    bill_id: str
    amount: Decimal


#: R6 policy (DOMAIN.md): how a payment is allocated; the only rule so far.
OLDEST_BILL_FIRST = "R6: oldest open bill first, surplus kept as credit"


class PaymentReceived(ContractEvent):
    """A payment, and how it was allocated (R6 policy: oldest open bill first).

    Version 2 records the allocation rule applied; version 1 events (stored without
    it) were all allocated oldest-bill-first, which the upcaster says explicitly.
    """

    class_version: ClassVar[int] = 2
    amount: Decimal
    reference: str
    allocations: list[Allocation]
    credit: Decimal
    allocation_rule: str = OLDEST_BILL_FIRST

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["allocation_rule"] = OLDEST_BILL_FIRST

    def evolve(self, state: ContractState) -> None:
        by_id = {b.bill_id: b for b in state.bills}
        for a in self.allocations:
            bill = by_id[a.bill_id]
            bill.paid += a.amount
            if bill.paid >= bill.total and bill.settled_on is None:
                bill.settled_on = self.business_date
        state.credit += self.credit
        state.paid_total += self.amount
        state.payments.append(PaymentState(
            received_on=self.business_date, amount=self.amount, reference=self.reference,
            allocations=[AllocationState(bill_id=a.bill_id, amount=a.amount)
                         for a in self.allocations],
            credit=self.credit,
        ))


class TariffAdjusted(ContractEvent):
    """R12 (Art.3.5): a line's monthly fee changes from an effective date."""

    line_id: str
    monthly_fee: Decimal
    previous_fee: Decimal
    effective: date

    def evolve(self, state: ContractState) -> None:
        line = state.lines[self.line_id]
        line.schedule = [s for s in line.schedule if s.effective < self.effective]
        line.schedule.append(FeeStepState(effective=self.effective, fee=self.monthly_fee,
                                          recorded_version=self.originator_version))


class Suspended(ContractEvent):
    """R5 (prepaid balance short) or R6 (arrears): every line suspended."""

    suspended_on: date
    reason: Literal["prepaid_balance", "arrears"]
    balance: Decimal
    required: Decimal | None = None
    overdue_bill_ids: list[str] = Field(default_factory=list)
    arrears_since: date | None = None
    cancellation_on: date

    def evolve(self, state: ContractState) -> None:
        state.suspensions.append(SuspensionState(
            start=self.suspended_on, reason=self.reason,
            recorded_version=self.originator_version))


class Reinstated(ContractEvent):
    """R7: service resumes (postpaid: overdue bills paid; prepaid: balance covers the month)."""

    reinstated_on: date
    reason: str

    def evolve(self, state: ContractState) -> None:
        current = state.suspensions[-1]
        current.end = self.reinstated_on
        current.end_recorded_version = self.originator_version


class TerminationNoticeGiven(ContractEvent):
    """R9: written notice of termination at the end of the current term."""

    party: Literal["customer", "operator"]
    received_on: date
    term_end: date
    in_window: bool

    def evolve(self, state: ContractState) -> None:
        state.notice = NoticeState(party=self.party, received_on=self.received_on,
                                   term_end=self.term_end, in_window=self.in_window)


class ContractRenewed(ContractEvent):
    """R9 (Art.7.3): no notice; the term extends (1 year, cross-border 1 month)."""

    previous_term_end: date
    term_start: date
    term_end: date

    def evolve(self, state: ContractState) -> None:
        state.terms.append(TermState(start=self.term_start, end=self.term_end,
                                     effective_on=self.term_start))
        if state.policy.sms_quota_per_term:
            state.sms_used_in_term = 0


class ContractTerminated(ContractEvent):
    """R8/R10: the first day without service; equipment recovery opens (R11)."""

    terminated_on: date
    reason: TerminationReason

    def evolve(self, state: ContractState) -> None:
        state.terminated_on = self.terminated_on
        state.termination_reason = self.reason
        state.termination_recorded_version = self.originator_version
        if state.open_suspension is not None:
            state.suspensions[-1].end = self.terminated_on
            state.suspensions[-1].end_recorded_version = self.originator_version


class AcceptanceRecorded(ContractEvent):
    """R14 (Art.4.5): Party A's acceptance after a month of normal running."""

    accepted_on: date

    def evolve(self, state: ContractState) -> None:
        state.accepted_on = self.accepted_on


class EquipmentRecovered(ContractEvent):
    """R11 (Art.2.8): an asset came back to Party B after termination."""

    asset_id: str

    def evolve(self, state: ContractState) -> None:
        asset = state.equipment[self.asset_id]
        asset.status, asset.resolved_on = "recovered", self.business_date


class EquipmentReportedLost(ContractEvent):
    """R11 (Art.2.8): an asset was lost through Party A; compensation is charged."""

    asset_id: str
    value: Decimal

    def evolve(self, state: ContractState) -> None:
        asset = state.equipment[self.asset_id]
        asset.status, asset.resolved_on = "lost", self.business_date


class SmsUsageRecorded(ContractEvent):
    """SMS bundle usage; messages beyond the term's quota are overage (policy)."""

    messages: int
    used_in_term: int
    quota: int
    overage_messages: int

    def evolve(self, state: ContractState) -> None:
        state.sms_used_in_term = self.used_in_term


class IcpFilingRecorded(ContractEvent):
    """R16 (Art.8.7): the ICP filing for an internet line's address."""

    line_id: str
    address: str
    filing_number: str

    def evolve(self, state: ContractState) -> None:
        state.lines[self.line_id].icp_filing_number = self.filing_number


class WebPortsOpened(ContractEvent):
    """R16 (Art.8.7): web ports 80/8080/443/8443 opened after the ICP filing."""

    line_id: str
    ports: list[int]

    def evolve(self, state: ContractState) -> None:
        state.lines[self.line_id].web_ports_open = True


class DisputeOpened(ContractEvent):
    """R13 (Art.3.6): Party A questioned a month's charges; `charge_ids` are the items in
    question when it was opened."""

    dispute_id: str
    month: str
    line_id: str | None
    question: str
    charge_ids: list[str]

    def evolve(self, state: ContractState) -> None:
        state.disputes.append(DisputeState(
            dispute_id=self.dispute_id, month=self.month, line_id=self.line_id,
            question=self.question, charge_ids=list(self.charge_ids),
            opened_on=self.business_date))


class DisputeResolved(ContractEvent):
    """R13 (Art.3.6): the outcome; an adjustment is the separate `ChargePosted`
    `adjustment_charge_id` (nothing recorded is edited), correcting `corrects`."""

    dispute_id: str
    outcome: Literal["upheld", "partly_upheld", "rejected"]
    reason: str
    adjustment: Decimal | None
    adjustment_charge_id: str | None
    corrects: list[str]

    def evolve(self, state: ContractState) -> None:
        d = next(x for x in state.disputes if x.dispute_id == self.dispute_id)
        d.outcome, d.reason, d.resolved_on = self.outcome, self.reason, self.business_date
        d.adjustment, d.adjustment_charge_id = self.adjustment, self.adjustment_charge_id
        d.corrects = list(self.corrects)


class ClockAdvanced(ContractEvent):
    """The contract's business clock moved to `business_date` (rules up to it fired)."""
