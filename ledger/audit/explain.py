"""R13 (Art.3.6): "why was I charged this?", answered from the record alone.

`explain_month` takes a contract's recorded events (optionally only those known at a
record time) and the state they fold into, and returns, for every charge item of a
service month: its inputs, its formula with the numbers and the rounding, its rule and
clause (Chinese original and English, `ledger.rules.clauses`), and the chain of facts
behind it (billing start with the confirmation window day by day, suspensions with the
unpaid bills and arrears months counted, tariff changes, termination, disputes). Facts
of the month that carry no charge (a suspension, a renewal, a cancellation) are listed
too. Pure: no I/O; the calendar only names days (`WorkingCalendar.describe`).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.domain import events as ev
from ledger.domain.base import LedgerEvent
from ledger.domain.state import ContractState
from ledger.domain.views import charge_item
from ledger.rules.arrears import arrears_suspension_date
from ledger.rules.calendar import CalendarError, WorkingCalendar
from ledger.rules.clauses import clause, rule_title
from ledger.rules.dates import add_months, month_key, month_start
from ledger.rules.money import ZERO, fmt

ROUNDING = "rounded half-up to the fen (0.01) once per item (R1, Art.4.2)"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def effective_date(e: LedgerEvent) -> date:
    """The business date from which a fact is in force (a deemed start is back-dated)."""
    if isinstance(e, ev.LineActivated):
        return min(e.billing_start, e.business_date)
    for name in ("suspended_on", "reinstated_on", "terminated_on"):
        value = getattr(e, name, None)
        if isinstance(value, date):
            return value
    return e.business_date


def day_name(d: date) -> str:
    return f"{d.isoformat()} ({_WEEKDAYS[d.weekday()]})"


def rule_ref(rule: str) -> dict[str, str]:
    return {"id": rule, "title": rule_title(rule)}


def clause_ref(ref: str) -> dict[str, str]:
    c = clause(ref)
    return {"ref": c.ref, "heading": c.heading, "zh": c.zh, "en": c.en}


def _fact(e: LedgerEvent, kind: str, text: str, rule: str, clause_id: str,
          **data: Any) -> dict[str, Any]:
    return {"kind": kind, "effective": effective_date(e).isoformat(),
            "version": e.originator_version, "business_date": e.business_date.isoformat(),
            "recorded_at": e.timestamp.isoformat(), "rule": rule_ref(rule),
            "clause": clause_ref(clause_id), "text": text, **data}


# -- the facts behind a charge ---------------------------------------------------------
def window_days(report: date, window: list[date], cal: WorkingCalendar) -> list[dict[str, Any]]:
    """Every calendar day from the day after the report to the window's last working day,
    named by the calendar (holidays, weekends, make-up working days)."""
    out = []
    counted = 0
    d = report + timedelta(days=1)
    last = window[-1] if window else report
    while d <= last:
        try:
            why = cal.describe(d)
        except CalendarError as e:
            why = f"not described: {e}"
        is_window = d in window
        counted += is_window
        out.append({"date": d.isoformat(), "weekday": _WEEKDAYS[d.weekday()],
                    "calendar": why, "working_day": counted if is_window else None})
        d += timedelta(days=1)
    return out


def billing_start_fact(act: ev.LineActivated, confirmations: list[ev.ActivationConfirmed],
                       cal: WorkingCalendar, deemed_days: int) -> dict[str, Any]:
    """R2 (Art.4.3): report, window day by day, confirmed or deemed, back-dated or not."""
    days = window_days(act.report_date, list(act.window_days), cal)
    lines = [f"{act.line_id}: delivery test report on {day_name(act.report_date)}; "
             f"Party A has {len(act.window_days)} working days after it (the report day not "
             f"counted), calendar {act.calendar}" + (
                 "" if act.calendar.startswith(cal.name) else f" (days named by {cal.name})")]
    for d in days:
        mark = f"working day {d['working_day']}" if d["working_day"] else "not counted"
        lines.append(f"  {d['date']} {d['weekday']}: {d['calendar']} -> {mark}")
    late = [c for c in confirmations if not c.in_window]
    if act.decided_by == "confirmed":
        lines.append(f"confirmed on {day_name(act.billing_start)}, inside the window: "
                     f"billing starts that day")
    else:
        last = act.window_days[-1]
        lines.append(f"not confirmed by the end of {day_name(last)}: deemed start = report "
                     f"date + {deemed_days} calendar days = {day_name(act.billing_start)}"
                     + (f", back-dated (decided and recorded on {act.business_date})"
                        if act.billing_start < act.business_date else ""))
        for c in late:
            lines.append(f"confirmation signed late on {day_name(c.confirmed_on)}: it "
                         "changes nothing (R2)")
    return _fact(act, "billing_start", "\n".join(lines), "R2", "Art.4.3",
                 line_id=act.line_id, report_date=act.report_date.isoformat(),
                 window=days, calendar=act.calendar, decided_by=act.decided_by,
                 billing_start=act.billing_start.isoformat(),
                 confirmed_on=[c.confirmed_on.isoformat() for c in confirmations],
                 back_dated=act.billing_start < act.business_date)


def suspension_fact(e: ev.Suspended, s: ContractState) -> dict[str, Any]:
    """R5/R6 (Art.4.4): why the lines were suspended, with the bills and months counted."""
    if e.reason == "prepaid_balance":
        eve = e.suspended_on - timedelta(days=1)
        text = (f"suspended from {e.suspended_on}: at the end of {eve}"
                f" the prepaid balance {fmt(e.balance)} was less than the next month's rent "
                f"{fmt(e.required or ZERO)} (R5); cancellation on {e.cancellation_on} if still "
                "suspended (R8)")
        return _fact(e, "suspension", text, "R5", "Art.4.4", reason=e.reason,
                     balance=fmt(e.balance), required=fmt(e.required or ZERO),
                     cancellation_on=e.cancellation_on.isoformat())
    bills = {b.bill_id: b for b in s.bills}
    unpaid = []
    for bid in e.overdue_bill_ids:
        b = bills.get(bid)
        if b is not None:
            unpaid.append({"bill_id": bid, "issued_on": b.issued_on.isoformat(),
                           "due_on": b.due_on.isoformat(), "total": fmt(b.total)})
    since = e.arrears_since or e.suspended_on
    month3 = arrears_suspension_date(since, s.policy.arrears_suspension_month)
    months = [{"month": month_key(add_months(month_start(since), i)), "count": i + 1}
              for i in range(s.policy.arrears_suspension_month)]
    text = "\n".join([
        "unpaid bills past their due date: " + "; ".join(
            f"{u['bill_id']} issued {u['issued_on']}, due {u['due_on']}, total {u['total']}"
            for u in unpaid),
        f"in arrears from {since} (the day after the due date), unbroken: "
        + ", ".join(f"{m['month']} = month {m['count']}" for m in months),
        (f"suspended on the 1st of month {s.policy.arrears_suspension_month}: {month3} (R6); "
         f"cancellation on {e.cancellation_on} if still suspended (R8)"),
    ])
    return _fact(e, "suspension", text, "R6", "Art.4.4", reason=e.reason,
                 unpaid_bills=unpaid, arrears_since=since.isoformat(), months_counted=months,
                 balance=fmt(e.balance), cancellation_on=e.cancellation_on.isoformat())


def _event_fact(e: LedgerEvent, s: ContractState, cal: WorkingCalendar,
                confirmations: dict[str, list[ev.ActivationConfirmed]]) -> dict[str, Any] | None:
    """A month-level fact for an event, or None for events that explain nothing alone."""
    if isinstance(e, ev.LineActivated):
        return billing_start_fact(e, confirmations.get(e.line_id, []), cal,
                                  s.policy.deemed_start_calendar_days)
    if isinstance(e, ev.TestReportSubmitted):
        return _fact(e, "test_report", f"{e.line_id}: delivery test report on "
                     f"{day_name(e.report_date)}; window " + ", ".join(
                         day_name(d) for d in e.window_days)
                     + f"; if not confirmed by then, billing starts {e.deemed_start} (deemed)",
                     "R2", "Art.4.3", line_id=e.line_id,
                     window=window_days(e.report_date, list(e.window_days), cal))
    if isinstance(e, ev.Suspended):
        return suspension_fact(e, s)
    if isinstance(e, ev.Reinstated):
        return _fact(e, "reinstatement", f"reinstated on {e.reinstated_on}: {e.reason}; "
                     "days before it were suspended and not charged (R7)", "R7", "Art.4.4")
    if isinstance(e, ev.ContractTerminated):
        rule, ref = {"cancellation": ("R8", "Art.4.4"), "expiry": ("R10", "Art.7.3")}.get(
            e.reason, ("R10", "Art.6.1"))
        return _fact(e, "termination", f"terminated on {e.terminated_on} ({e.reason}): the "
                     "first day without service; rent by day up to the day before (R10); "
                     "equipment recovery opens (R11)", rule, ref, reason=e.reason)
    if isinstance(e, ev.ContractRenewed):
        return _fact(e, "renewal", f"no termination notice: the term ending "
                     f"{e.previous_term_end} renewed as {e.term_start}..{e.term_end} (R9)",
                     "R9", "Art.7.3", term_start=e.term_start.isoformat(),
                     term_end=e.term_end.isoformat())
    if isinstance(e, ev.TerminationNoticeGiven):
        where = "within" if e.in_window else "outside"
        return _fact(e, "notice", f"{e.party} gave written notice on {e.received_on}, "
                     f"{where} the 30 days before the term end {e.term_end}: no renewal",
                     "R9", "Art.7.3", in_window=e.in_window)
    if isinstance(e, ev.TariffAdjusted):
        return _fact(e, "tariff", f"{e.line_id}: monthly fee {fmt(e.previous_fee)} -> "
                     f"{fmt(e.monthly_fee)} from {e.effective} (notified {e.business_date}); "
                     "a month straddling it is charged by day at each rate", "R12", "Art.3.5",
                     line_id=e.line_id, effective_from=e.effective.isoformat())
    if isinstance(e, ev.EquipmentReportedLost):
        return _fact(e, "equipment_lost", f"{e.asset_id} reported lost through Party A; "
                     f"its declared value {fmt(e.value)} is charged", "R11", "Art.2.8",
                     asset_id=e.asset_id)
    if isinstance(e, ev.SmsUsageRecorded) and e.overage_messages:
        return _fact(e, "sms_usage", f"{e.messages} messages recorded; {e.used_in_term} used "
                     f"in the term against a quota of {e.quota}: {e.overage_messages} over",
                     "SMS", "Art.1")
    if isinstance(e, ev.BillIssued):
        return _fact(e, "bill", f"bill {e.bill_id} issued {e.issued_on}, due {e.due_on}, "
                     f"total {fmt(e.total)} ({len(e.charge_ids)} items)", "R4", "Art.4.3",
                     bill_id=e.bill_id)
    if isinstance(e, ev.DisputeOpened):
        return _fact(e, "dispute_opened", f"dispute {e.dispute_id} opened: {e.question!r} "
                     f"about {', '.join(e.charge_ids) or 'no recorded item'}", "R13", "Art.3.6",
                     dispute_id=e.dispute_id)
    if isinstance(e, ev.DisputeResolved):
        adj = f"; adjustment {fmt(e.adjustment)} posted as {e.adjustment_charge_id}" \
            if e.adjustment is not None else "; no adjustment"
        return _fact(e, "dispute_resolved", f"dispute {e.dispute_id} resolved {e.outcome}: "
                     f"{e.reason}{adj}", "R13", "Art.3.6", dispute_id=e.dispute_id)
    return None


def _exact(rate: Decimal, days: int, dim: int) -> str:
    exact = rate * days / dim
    return (f"{fmt(rate)} x {days} / {dim} = {exact.quantize(Decimal('0.000001'))}"
            f" -> {fmt(exact)}")


def explain_month(events: list[LedgerEvent], s: ContractState, month: str, as_of: date,
                  cal: WorkingCalendar, charge_id: str | None = None) -> dict[str, Any]:
    """Every charge item of service month `month` posted by `as_of`, explained, and the
    month's other facts in force by `as_of`. `events` and `s` describe the same record."""
    seen = [e for e in events if effective_date(e) <= as_of]
    confirmations: dict[str, list[ev.ActivationConfirmed]] = {}
    for e in seen:
        if isinstance(e, ev.ActivationConfirmed):
            confirmations.setdefault(e.line_id, []).append(e)
    facts_by_version = {}
    for e in seen:
        fact = _event_fact(e, s, cal, confirmations)
        if fact is not None:
            facts_by_version[e.originator_version] = (e, fact)
    posted = {e.charge_id: e for e in seen if isinstance(e, ev.ChargePosted)}
    issued = {b.bill_id for b in s.bills if b.issued_on <= as_of}
    items = []
    for x in s.charges:
        if x.service_month != month or x.posted_on > as_of:
            continue
        if charge_id is not None and x.charge_id != charge_id:
            continue
        e = posted[x.charge_id]
        row = charge_item(x)
        row["bill_id"] = x.bill_id if x.bill_id in issued else None
        row.update(service_month=month, rounding=ROUNDING, rule=rule_ref(x.rule),
                   clause=clause_ref(x.clause), version=e.originator_version,
                   recorded_at=e.timestamp.isoformat(), dispute_id=x.dispute_id,
                   exact=(_exact(x.rate, x.days, x.days_in_month)
                          if x.days is not None and x.days_in_month and x.kind != "adjustment"
                          else None),
                   facts=_item_facts(e, x.line_id, month, facts_by_version, posted))
        items.append(row)
    if charge_id is not None and not items:
        raise LookupError(f"no charge {charge_id!r} in service month {month} (as of {as_of})")
    first = date.fromisoformat(month + "-01")
    month_facts = [f for v, (e, f) in sorted(facts_by_version.items())
                   if _in_month(e, f, first, month)]
    return {"contract_id": s.contract_id, "month": month, "as_of": as_of.isoformat(),
            "items": items, "total": fmt(sum((Decimal(i["amount"]) for i in items), ZERO)),
            "rounding": ROUNDING, "facts": month_facts}


def _in_month(e: LedgerEvent, fact: dict[str, Any], first: date, month: str) -> bool:
    if fact["kind"] == "bill":
        return e.period == month  # type: ignore[attr-defined,no-any-return]
    if fact["kind"] in ("dispute_opened", "dispute_resolved"):
        return fact["text"] is not None and (getattr(e, "month", None) == month
                                            or month_key(e.business_date) == month)
    return month_key(effective_date(e)) == month or month_key(e.business_date) == month


def _explains(e: ev.ChargePosted, line_id: str | None, month: str, fe: LedgerEvent,
              fact: dict[str, Any]) -> bool:
    """Whether fact `fact` (of event `fe`) is behind charge `e` of service month `month`."""
    kind = fact["kind"]
    if e.rent_key and kind == "billing_start":
        return fact["line_id"] == line_id and month_key(
            date.fromisoformat(fact["billing_start"])) == month
    if e.rent_key and kind in ("suspension", "reinstatement", "termination"):
        return month_key(effective_date(fe)) == month
    if e.rent_key and kind == "tariff":
        return fact["line_id"] == line_id and month_key(
            date.fromisoformat(fact["effective_from"])) == month
    if kind == "sms_usage":  # the usage recorded right before the overage charge
        return e.kind == "overage" and fe.originator_version == e.originator_version - 1
    if kind == "equipment_lost":
        return e.asset_id == fact["asset_id"]
    if kind in ("dispute_opened", "dispute_resolved"):
        return e.dispute_id == fact["dispute_id"]
    return False


def _item_facts(e: ev.ChargePosted, line_id: str | None, month: str,
                facts: dict[int, tuple[LedgerEvent, dict[str, Any]]],
                posted: dict[str, ev.ChargePosted]) -> list[dict[str, Any]]:
    """The facts a charge depends on: its line's start in that month, suspensions and
    tariff changes touching the month, termination, the dispute or the usage behind it."""
    out = [fact for _, (fe, fact) in sorted(facts.items())
           if fe.originator_version <= e.originator_version  # recorded before the charge
           and _explains(e, line_id, month, fe, fact)]
    if e.kind == "adjustment" and e.rent_key:  # a rent correction: what it corrects
        before = [p for p in posted.values() if p.rent_key == e.rent_key
                  and p.originator_version < e.originator_version]
        if before:
            out.append({"kind": "corrects", "text": "corrects " + ", ".join(
                f"{p.charge_id} ({fmt(p.amount)}, posted {p.business_date})" for p in before)
                + " (a back-dated fact changed the month; nothing recorded is edited, R13)",
                "charge_ids": [p.charge_id for p in before]})
    return out
