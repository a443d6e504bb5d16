"""`ledger demo`: the reference contract of DOMAIN.md and two others, signing to today.

- REF-2025 (postpaid): the four billing-start cases, every bill paid on the 20th,
  INT-1's tariff cut from 2025-11-16, a fee question about DL-2's deemed start
  (answered from the record, no adjustment), SMS overage once the 200,000 quota runs
  out, acceptance, ICP filing, renewal on 2026-09-01.
- ARR-2025 (postpaid): never pays; arrears from 2025-11-01, suspended 2026-01-01,
  cancelled 2026-04-01 (R8); one asset recovered, one lost (compensation charged).
- PRE-2025 (prepaid): a deposit that runs out; suspended (R5), reinstated by a top-up (R7).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger.domain import views
from ledger.domain.commands import parse_command
from ledger.rules.dates import months_between

REFERENCE_LINES = [
    {"line_id": "INT-1", "kind": "internet", "monthly_fee": "3000.00"},
    {"line_id": "DL-1", "kind": "circuit", "monthly_fee": "2000.00"},
    {"line_id": "DL-2", "kind": "circuit", "monthly_fee": "2000.00"},
    {"line_id": "DL-3", "kind": "ipvpn", "monthly_fee": "1500.00"},
]
REFERENCE_ASSETS = [
    *({"asset_id": f"ONT-000{i}", "description": "optical network terminal", "value": "1200.00"}
      for i in range(1, 5)),
    {"asset_id": "RTR-0001", "description": "access router", "value": "6000.00"},
]


def reference_contract(contract_id: str = "REF-2025", at: str = "2025-08-25",
                       billing_mode: str = "postpaid", cross_border: bool = False
                       ) -> dict[str, Any]:
    """The `sign_contract` command of DOMAIN.md's reference contract."""
    return {"type": "sign_contract", "at": at, "contract_id": contract_id,
            "command_id": f"{contract_id}-sign", "customer": "Example Trading Co., Ltd.",
            "term_start": "2025-09-01", "term_end": "2026-08-31", "billing_mode": billing_mode,
            "cross_border": cross_border, "lines": REFERENCE_LINES, "sms_quota": 200000,
            "sms_overage_rate": "0.05", "equipment": REFERENCE_ASSETS}


def reference_activations(contract_id: str = "REF-2025", dl2_confirmed_on: str | None = None
                          ) -> list[dict[str, Any]]:
    """DOMAIN.md's four billing-start cases, in date order: INT-1 a full month, DL-1
    confirmed in its window, DL-3's window with a make-up Sunday (confirmed late), DL-2's
    National Day window (never confirmed unless `dl2_confirmed_on` is given)."""
    out = [
        _cmd("submit_test_report", "2025-09-01", contract_id, line_id="INT-1"),
        _cmd("confirm_activation", "2025-09-01", contract_id, line_id="INT-1"),
        _cmd("submit_test_report", "2025-09-10", contract_id, line_id="DL-1"),
        _cmd("confirm_activation", "2025-09-12", contract_id, line_id="DL-1"),
        _cmd("submit_test_report", "2025-09-26", contract_id, line_id="DL-3"),
        _cmd("submit_test_report", "2025-09-30", contract_id, line_id="DL-2"),
        _cmd("confirm_activation", "2025-10-09", contract_id, line_id="DL-3"),
    ]
    if dl2_confirmed_on:
        out.append(_cmd("confirm_activation", dl2_confirmed_on, contract_id, line_id="DL-2"))
    return sorted(out, key=lambda c: c["at"])


def _cmd(kind: str, at: str, contract_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "at": at, "contract_id": contract_id,
            "command_id": f"{contract_id}-{kind}-{at}-{fields.get('line_id', '')}"
                          f"{fields.get('asset_id', '')}", "actor": "demo", **fields}


def demo_schedule() -> dict[date, list[dict[str, Any]]]:
    ref, arr, pre = "REF-2025", "ARR-2025", "PRE-2025"
    plan = [
        reference_contract(),
        *reference_activations(ref),
        _cmd("record_icp_filing", "2025-09-05", ref, line_id="INT-1",
             address="No. 1 Example Road, Shenzhen", filing_number="粤ICP备2025000001号"),
        _cmd("record_acceptance", "2025-10-15", ref),
        _cmd("adjust_tariff", "2025-11-01", ref, line_id="INT-1", monthly_fee="2800.00",
             effective="2025-11-16"),
        _cmd("open_dispute", "2025-11-05", ref, month="2025-10", line_id="DL-2",
             question="Why is DL-2 charged from 2025-10-05? We never signed its confirmation."),
        {"type": "resolve_dispute", "at": "2025-11-12", "dispute_id": f"{ref}/D0001",
         "command_id": f"{ref}-resolve-D0001", "actor": "demo", "outcome": "rejected",
         "reason": "Deemed start (R2, Art.4.3): no confirmation within the 3 working days "
                   "after the 2025-09-30 report (Oct 9, 10, 11), so billing starts on T+5."},
        {"type": "sign_contract", "at": "2025-09-01", "contract_id": arr,
         "command_id": f"{arr}-sign", "actor": "demo", "customer": "Late Payer Ltd.",
         "term_start": "2025-09-01", "term_end": "2026-08-31", "billing_mode": "postpaid",
         "lines": [{"line_id": "L1", "kind": "internet", "monthly_fee": "1000.00"},
                   {"line_id": "L2", "kind": "circuit", "monthly_fee": "800.00"}],
         "equipment": [{"asset_id": "ONT-0101", "description": "optical network terminal",
                        "value": "1200.00"},
                       {"asset_id": "RTR-0101", "description": "access router",
                        "value": "6000.00"}]},
        _cmd("submit_test_report", "2025-09-02", arr, line_id="L1"),
        _cmd("submit_test_report", "2025-09-02", arr, line_id="L2"),
        _cmd("confirm_activation", "2025-09-03", arr, line_id="L1"),
        _cmd("confirm_activation", "2025-09-03", arr, line_id="L2"),
        _cmd("recover_equipment", "2026-04-10", arr, asset_id="RTR-0101"),
        _cmd("report_equipment_lost", "2026-04-10", arr, asset_id="ONT-0101"),
        {"type": "sign_contract", "at": "2025-09-01", "contract_id": pre,
         "command_id": f"{pre}-sign", "actor": "demo", "customer": "Prepaid Studio",
         "term_start": "2025-09-01", "term_end": "2026-08-31", "billing_mode": "prepaid",
         "lines": [{"line_id": "P1", "kind": "ipvpn", "monthly_fee": "1000.00"}]},
        _cmd("record_payment", "2025-09-01", pre, amount="2500.00", reference="deposit"),
        _cmd("submit_test_report", "2025-09-01", pre, line_id="P1"),
        _cmd("confirm_activation", "2025-09-02", pre, line_id="P1"),
        _cmd("record_payment", "2025-12-10", pre, amount="3000.00", reference="top-up"),
    ]
    for month in months_between(date(2025, 9, 1), date(2026, 11, 1)):
        plan.append(_cmd("record_sms_usage", month.replace(day=28).isoformat(), ref,
                         messages=19000))
    schedule: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for raw in plan:
        schedule[date.fromisoformat(raw["at"])].append(raw)
    return schedule


def run_demo(ledger: Any, until: date, out: Console) -> None:
    schedule = demo_schedule()
    first = min(schedule)
    applied = 0
    d = first
    while d <= until:
        for raw in schedule.get(d, []):
            ledger.execute(parse_command(raw))
            applied += 1
        if d.day == 20 and d >= date(2025, 10, 20):  # REF pays what it owes on the 20th
            ledger.advance(d, "REF-2025", actor="demo")
            owed = -Decimal(views.status_view(ledger.load("REF-2025").state, d)["balance"])
            if owed > 0:
                ledger.execute(parse_command(_cmd("record_payment", d.isoformat(), "REF-2025",
                                                  amount=str(owed), reference=f"bank {d}")))
                applied += 1
        d += timedelta(days=1)
    for cid in ledger.contract_ids():
        ledger.advance(until, cid, actor="demo")
    out.print(f"[bold]Demo[/]: {applied} commands applied up to {until}, "
              f"{ledger.recorder.max_notification_id()} events in {ledger.store_url}\n")
    from ledger.cli import event_record, print_history, print_status

    for cid in ledger.contract_ids():
        state = ledger.load_history(cid).state  # the bills below read the history
        print_status(views.status_view(state, until))
        table = Table("service month", "items", "total", title=f"{cid} bills by service month")
        months = sorted({x.service_month for x in state.charges})
        for m in months:
            view = views.bill_view(state, date.fromisoformat(m + "-01"), until)
            table.add_row(m, str(len(view["items"])), view["total"])
        out.print(table)
        records = [event_record(e) for e in ledger.contract_events(cid)]
        interesting = [r for r in records if r["type"] not in ("ChargePosted", "ClockAdvanced",
                                                                 "SmsUsageRecorded")]
        print_history(cid, interesting[-12:])
        out.print()
