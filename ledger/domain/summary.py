"""One line saying what an event records, for people (history, audit trail)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ledger.domain.base import LedgerEvent


def _amount_list(allocs: Iterable[Any]) -> str:
    return ", ".join(f"{a.bill_id} {a.amount}" for a in allocs) or "none"

_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "ContractSigned": lambda e: (
        f"signed with {e.customer}: {e.billing_mode}, term {e.term_start}..{e.term_end}, "
        f"lines {', '.join(f'{x.line_id} {x.monthly_fee}' for x in e.lines)}"),
    "TestReportSubmitted": lambda e: (
        f"{e.line_id}: test report {e.report_date}, confirmation window "
        f"{', '.join(str(d) for d in e.window_days)}"),
    "ActivationConfirmed": lambda e: (
        f"{e.line_id}: activation confirmed {e.confirmed_on}"
        + ("" if e.in_window else " (after the window)")),
    "LineActivated": lambda e: f"{e.line_id}: billing starts {e.billing_start} ({e.decided_by})",
    "ChargePosted": lambda e: (
        f"{e.kind} {e.line_id or e.asset_id or ''} {e.service_month} "
        f"{e.service_from}..{e.service_to}: {e.amount} ({e.rule} {e.clause})"
        .replace("  ", " ")),
    "BillIssued": lambda e: (
        f"bill {e.bill_id} issued {e.issued_on}, due {e.due_on}: {e.total} "
        f"({len(e.charge_ids)} items, credit applied {e.credit_applied})"),
    "PaymentReceived": lambda e: (
        f"payment {e.amount} ({e.reference}) allocated to {_amount_list(e.allocations)}; "
        f"credit {e.credit}"),
    "TariffAdjusted": lambda e: (
        f"{e.line_id}: monthly fee {e.previous_fee} -> {e.monthly_fee} from {e.effective}"),
    "Suspended": lambda e: (
        f"suspended {e.suspended_on} ({e.reason}), balance {e.balance}, "
        f"cancellation on {e.cancellation_on}"),
    "Reinstated": lambda e: f"reinstated {e.reinstated_on}: {e.reason}",
    "TerminationNoticeGiven": lambda e: (
        f"termination notice from the {e.party} received {e.received_on}, term ends "
        f"{e.term_end}" + ("" if e.in_window else " (outside the notice window)")),
    "ContractRenewed": lambda e: f"renewed: term {e.term_start}..{e.term_end}",
    "ContractTerminated": lambda e: f"terminated {e.terminated_on} ({e.reason})",
    "AcceptanceRecorded": lambda e: f"service accepted {e.accepted_on}",
    "EquipmentRecovered": lambda e: f"equipment {e.asset_id} recovered",
    "EquipmentReportedLost": lambda e: f"equipment {e.asset_id} reported lost (value {e.value})",
    "SmsUsageRecorded": lambda e: (
        f"SMS: {e.messages} messages, {e.used_in_term} of {e.quota} used this term, "
        f"{e.overage_messages} overage"),
    "IcpFilingRecorded": lambda e: f"{e.line_id}: ICP filing {e.filing_number} for {e.address}",
    "WebPortsOpened": lambda e: (
        f"{e.line_id}: web ports {', '.join(str(p) for p in e.ports)} opened"),
    "ClockAdvanced": lambda e: f"clock advanced to {e.business_date}",
}
_HEADER = {"originator_id", "originator_version", "timestamp", "business_date", "actor",
           "command_id", "command_type", "prev_hash", "hash", "originator_topic"}


def summarize(event: LedgerEvent) -> str:
    """One line saying what the event records (an unknown type lists its fields)."""
    describe = _SUMMARIES.get(type(event).__name__)
    if describe is not None:
        return describe(event)
    body = event.model_dump(mode="json", exclude=_HEADER)
    return type(event).__name__ + ": " + ", ".join(f"{k}={v}" for k, v in body.items())
