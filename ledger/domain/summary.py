"""One line saying what an event records, for people (history, audit trail).

The lines are built from the event's JSON-mode fields (dates ISO, money as decimal
strings, nested models as dicts), so the projections can summarise stored events
without rebuilding pydantic events: `summarize_fields` takes the stored dict,
`summarize` a domain event (dumped first); both give the same line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ledger.domain.base import LedgerEvent

Fields = Mapping[str, Any]


def _amount_list(allocs: Iterable[Fields]) -> str:
    return ", ".join(f"{a['bill_id']} {a['amount']}" for a in allocs) or "none"


def _line_fee(line: Fields) -> str:
    return f"{line['line_id']} {line['monthly_fee']}"


_SUMMARIES: dict[str, Callable[[Fields], str]] = {
    "ContractSigned": lambda e: (
        f"signed with {e['customer']}: {e['billing_mode']}, term "
        f"{e['term_start']}..{e['term_end']}, lines "
        f"{', '.join(_line_fee(x) for x in e['lines'])}"),
    "TestReportSubmitted": lambda e: (
        f"{e['line_id']}: test report {e['report_date']}, confirmation window "
        f"{', '.join(e['window_days'])}"),
    "ActivationConfirmed": lambda e: (
        f"{e['line_id']}: activation confirmed {e['confirmed_on']}"
        + ("" if e["in_window"] else " (after the window)")),
    "LineActivated": lambda e: (
        f"{e['line_id']}: billing starts {e['billing_start']} ({e['decided_by']})"),
    "ChargePosted": lambda e: (
        f"{e['kind']} {e['line_id'] or e['asset_id'] or ''} {e['service_month']} "
        f"{e['service_from']}..{e['service_to']}: {e['amount']} ({e['rule']} {e['clause']})"
        .replace("  ", " ")),
    "BillIssued": lambda e: (
        f"bill {e['bill_id']} issued {e['issued_on']}, due {e['due_on']}: {e['total']} "
        f"({len(e['charge_ids'])} items, credit applied {e['credit_applied']})"),
    "PaymentReceived": lambda e: (
        f"payment {e['amount']} ({e['reference']}) allocated to "
        f"{_amount_list(e['allocations'])}; credit {e['credit']}"),
    "TariffAdjusted": lambda e: (
        f"{e['line_id']}: monthly fee {e['previous_fee']} -> {e['monthly_fee']} from "
        f"{e['effective']}"),
    "Suspended": lambda e: (
        f"suspended {e['suspended_on']} ({e['reason']}), balance {e['balance']}, "
        f"cancellation on {e['cancellation_on']}"),
    "Reinstated": lambda e: f"reinstated {e['reinstated_on']}: {e['reason']}",
    "TerminationNoticeGiven": lambda e: (
        f"termination notice from the {e['party']} received {e['received_on']}, term ends "
        f"{e['term_end']}" + ("" if e["in_window"] else " (outside the notice window)")),
    "ContractRenewed": lambda e: f"renewed: term {e['term_start']}..{e['term_end']}",
    "ContractTerminated": lambda e: f"terminated {e['terminated_on']} ({e['reason']})",
    "AcceptanceRecorded": lambda e: f"service accepted {e['accepted_on']}",
    "EquipmentRecovered": lambda e: f"equipment {e['asset_id']} recovered",
    "EquipmentReportedLost": lambda e: (
        f"equipment {e['asset_id']} reported lost (value {e['value']})"),
    "SmsUsageRecorded": lambda e: (
        f"SMS: {e['messages']} messages, {e['used_in_term']} of {e['quota']} used this term, "
        f"{e['overage_messages']} overage"),
    "IcpFilingRecorded": lambda e: (
        f"{e['line_id']}: ICP filing {e['filing_number']} for {e['address']}"),
    "WebPortsOpened": lambda e: (
        f"{e['line_id']}: web ports {', '.join(str(p) for p in e['ports'])} opened"),
    "ClockAdvanced": lambda e: f"clock advanced to {e['business_date']}",
}
_HEADER = {"originator_id", "originator_version", "timestamp", "business_date", "actor",
           "command_id", "command_type", "prev_hash", "hash", "originator_topic"}


def summarize_fields(event_type: str, fields: Fields) -> str:
    """One line saying what an event of `event_type` with these JSON-mode fields
    records (an unknown type lists its fields)."""
    describe = _SUMMARIES.get(event_type)
    if describe is not None:
        return describe(fields)
    body = ", ".join(f"{k}={v}" for k, v in fields.items() if k not in _HEADER)
    return f"{event_type}: {body}"


def summarize(event: LedgerEvent) -> str:
    """One line saying what the event records."""
    return summarize_fields(type(event).__name__, event.model_dump(mode="json"))
