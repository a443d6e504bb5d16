"""Compact snapshots: a contract's snapshot keeps what is still open plus running
totals, so loading it does not grow with the history; views that need the closed
history refuse a compact state and are answered from `load_history`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import orjson
import pytest

from ledger import cli
from ledger.application import LedgerApplication
from ledger.domain import views
from ledger.domain.commands import CommandError, parse_command
from ledger.domain.contract import Context, Contract
from ledger.domain.snapshot import LedgerSnapshot
from ledger.rules.dates import month_key, parse_month


class Compacting(LedgerApplication):
    """A snapshot every 10 events, so a short test history is mostly closed."""

    snapshotting_intervals: ClassVar[dict[type, int]] = {Contract: 10}


def run(app: LedgerApplication, *commands: dict[str, Any]) -> None:
    for raw in commands:
        app.execute(parse_command(raw))


def sign(cid: str, mode: str, at: str = "2025-01-02") -> dict[str, Any]:
    return {"type": "sign_contract", "at": at, "contract_id": cid, "customer": "X",
            "term_start": at, "term_end": "2026-12-31", "billing_mode": mode,
            "sms_quota": 0, "sms_overage_rate": "0.05",
            "lines": [{"line_id": "A", "kind": "circuit", "monthly_fee": "2000.00"}]}


def started(cid: str, at: str = "2025-01-02") -> list[dict[str, Any]]:
    return [{"type": "submit_test_report", "at": at, "contract_id": cid, "line_id": "A"},
            {"type": "confirm_activation", "at": at, "contract_id": cid, "line_id": "A"}]


def sms_days(cid: str, first: date, count: int, step_days: int = 1) -> list[dict[str, Any]]:
    return [{"type": "record_sms_usage", "at": (first + timedelta(days=i * step_days)).isoformat(),
             "contract_id": cid, "messages": 10} for i in range(count)]


def latest_snapshot(app: LedgerApplication, cid: str) -> LedgerSnapshot:
    assert app.snapshots is not None
    return next(iter(app.snapshots.get(app.load(cid).id, desc=True, limit=1)))


@pytest.fixture
def app(sqlite_url: str) -> LedgerApplication:
    ledger = Compacting(sqlite_url)
    yield ledger
    ledger.close()


def test_a_long_history_keeps_a_small_snapshot(app: LedgerApplication) -> None:
    """Prepaid, SMS overage every day for 20 months: the snapshot holds no charge, no
    payment and only this month's rent postings, and is as small after 1,200 events
    as after 200."""
    run(app, sign("P", "prepaid"),
        {"type": "record_payment", "at": "2025-01-02", "contract_id": "P",
         "amount": "100000.00", "reference": "deposit"}, *started("P"))
    sizes = []
    for first, count in ((date(2025, 1, 3), 100), (date(2025, 4, 13), 500)):
        run(app, *sms_days("P", first, count))
        snap = latest_snapshot(app, "P")
        sizes.append(len(orjson.dumps(snap.state)))
        assert snap.state["compacted_on"] is not None
        assert snap.state["charges"] == [] and snap.state["payments"] == []
        assert len(snap.state["rent_posted"]) == 1  # this month's, which can still change
    state = app.load_history("P").state
    assert state.charge_count == len(state.charges) > 600
    assert sizes[1] < sizes[0] * 1.5 < 20_000
    compact = app.load("P").state
    assert views.status_view(compact, compact.clock) == views.status_view(state, state.clock)
    assert compact.paid_total - compact.charged_total == (
        sum(p.amount for p in state.payments) - sum(x.amount for x in state.charges))


def test_a_postpaid_snapshot_keeps_unpaid_bills_and_unbilled_charges(
        app: LedgerApplication) -> None:
    run(app, sign("Q", "postpaid"), *started("Q"),
        {"type": "record_payment", "at": "2025-02-10", "contract_id": "Q",
         "amount": "2000.00", "reference": "Jan"},  # the January bill is paid
        *sms_days("Q", date(2025, 3, 2), 20))  # Feb unpaid, March unbilled
    compact = app.load("Q").state
    full = app.load_history("Q").state
    assert compact.compacted_on is not None and full.compacted_on is None
    assert [b.period for b in compact.bills] == ["2025-02"]
    assert [b.period for b in full.bills] == ["2025-01", "2025-02"]
    assert {x.charge_id for x in compact.charges} >= {
        x.charge_id for x in full.charges if x.bill_id is None}
    assert views.status_view(compact, compact.clock) == views.status_view(full, full.clock)


def test_views_that_need_history_refuse_a_compact_state(app: LedgerApplication) -> None:
    run(app, sign("P", "prepaid"), {"type": "record_payment", "at": "2025-01-02",
                                    "contract_id": "P", "amount": "9000.00",
                                    "reference": "deposit"},
        *started("P"), *sms_days("P", date(2025, 1, 3), 40))
    compact, full = app.load("P").state, app.load_history("P").state
    assert compact.compacted_on is not None
    earlier = compact.compacted_on - timedelta(days=10)
    assert views.needs_history(compact) and views.needs_history(compact, earlier)
    assert not views.needs_history(compact, compact.clock)
    with pytest.raises(views.HistoryNeeded, match="needs its history"):
        views.bill_view(compact, date(2025, 1, 1), compact.clock)
    with pytest.raises(views.HistoryNeeded):
        views.status_view(compact, earlier)
    with pytest.raises(views.HistoryNeeded):
        views.bills_issued(compact, compact.clock)
    # The CLI reads the history for an earlier date, and gets the exact figures.
    state, day = cli.load_state(app, "P", earlier.isoformat(), None)
    assert views.status_view(state, day) == views.status_view(full, earlier)
    assert Decimal(views.status_view(state, day)["balance"]) == (
        Decimal("9000.00") - sum(x.amount for x in full.charges if x.posted_on <= earlier))
    state, day = cli.load_state(app, "P", None, None, history=True)
    jan = views.bill_view(state, date(2025, 1, 1), day)
    assert len(jan["items"]) == 1 + 29 and jan == views.bill_view(full, date(2025, 1, 1), day)


def test_a_dispute_about_a_month_closed_long_ago(app: LedgerApplication) -> None:
    """R13: the items of an old month are found from `charge_months`, the charge ids
    it corrects are checked against the charge count, without the closed history."""
    run(app, sign("P", "prepaid"), {"type": "record_payment", "at": "2025-01-02",
                                    "contract_id": "P", "amount": "90000.00",
                                    "reference": "deposit"},
        *started("P"), *sms_days("P", date(2025, 1, 20), 30, step_days=3))
    held = app.load("P").state  # compacted: only what was posted since is held
    assert held.compacted_on is not None and len(held.charges) < 10
    assert all(x.posted_on >= held.compacted_on for x in held.charges)
    full = app.load_history("P").state
    jan = [x.charge_id for x in full.charges if x.service_month == "2025-01"]
    jan_rent = [x.charge_id for x in full.charges
                if x.service_month == "2025-01" and x.line_id == "A"]
    run(app, {"type": "open_dispute", "at": "2025-05-01", "contract_id": "P",
              "month": "2025-01", "question": "why so many SMS?"},
        {"type": "open_dispute", "at": "2025-05-01", "contract_id": "P",
         "month": "2025-01", "line_id": "A", "question": "the rent?"})
    first, second = app.load("P").state.disputes
    assert first.charge_ids == jan and len(jan) == 5
    assert second.charge_ids == jan_rent
    with pytest.raises(CommandError, match="unknown charge"):
        run(app, {"type": "resolve_dispute", "at": "2025-05-02",
                  "dispute_id": first.dispute_id, "outcome": "upheld", "reason": "r",
                  "adjustment": "-0.50", "charge_ids": ["P/CH99999"]})
    run(app, {"type": "resolve_dispute", "at": "2025-05-02",
              "dispute_id": first.dispute_id, "outcome": "upheld", "reason": "too many",
              "adjustment": "-0.50", "charge_ids": jan[1:3]})
    full = app.load_history("P").state
    credit = full.charges[-1]
    assert (credit.service_month, credit.amount, credit.dispute_id) == (
        "2025-01", Decimal("-0.50"), first.dispute_id)
    assert credit.charge_id == f"P/CH{len(full.charges):05d}"
    compact = app.load("P").state
    assert views.status_view(compact, compact.clock) == views.status_view(full, full.clock)


def test_a_closed_rent_month_is_never_posted_again(app: LedgerApplication) -> None:
    """The guard: even if a fact seemed to reach back before `rent_open_from`, rent is
    reconciled from that month on only (its earlier postings are no longer held)."""
    run(app, sign("P", "prepaid"), {"type": "record_payment", "at": "2025-01-02",
                                    "contract_id": "P", "amount": "90000.00",
                                    "reference": "deposit"},
        *started("P"), *sms_days("P", date(2025, 1, 20), 30, step_days=3))
    contract = app.load("P")
    s = contract.state
    assert s.rent_open_from == month_key(s.clock) == "2025-04"
    assert list(s.rent_posted) == ["A|2025-04|2000.00"]
    s.lines["A"].start_recorded_version = contract.version + 1  # as if just recorded
    assert contract._rent_months(s.clock) == [parse_month(s.rent_open_from)]


def test_a_version_1_snapshot_is_upcast_with_its_totals(app: LedgerApplication) -> None:
    """A snapshot written before the totals existed holds the whole history: loading
    it derives the totals and the month index and keeps every item."""
    run(app, sign("Q", "postpaid"), *started("Q"),
        {"type": "record_payment", "at": "2025-02-10", "contract_id": "Q",
         "amount": "1500.00", "reference": "part"},
        *sms_days("Q", date(2025, 3, 2), 6, step_days=2))
    contract = app.load_history("Q")
    old = contract.state.model_dump(mode="json")
    for field in ("charge_count", "charged_total", "billed_total", "paid_total",
                  "charge_months", "compacted_on", "rent_open_from"):
        del old[field]
    snap = LedgerSnapshot.take(contract).model_copy(update={"state": old})
    restored = snap.mutate(None)
    assert isinstance(restored, Contract)
    assert restored.state == contract.state
    assert restored.state.paid_total == Decimal("1500.00")
    assert restored.state.charge_count == len(contract.state.charges)


def test_deciding_from_a_compact_state_in_memory_records_the_same_facts(
        sqlite_url: str) -> None:
    """`Contract.compact` between commands changes no decision: the same events."""
    commands = [sign("Q", "postpaid"), *started("Q"),
                {"type": "record_payment", "at": "2025-03-10", "contract_id": "Q",
                 "amount": "2500.00", "reference": "part"},
                *sms_days("Q", date(2025, 4, 2), 12, step_days=7),
                {"type": "open_dispute", "at": "2025-07-01", "contract_id": "Q",
                 "month": "2025-02", "question": "?"},
                {"type": "terminate", "at": "2025-07-15", "contract_id": "Q",
                 "reason": "mutual"}]
    def decide(compact: bool) -> list[dict[str, Any]]:
        app = LedgerApplication(sqlite_url.replace(".db", f"-{compact}.db"))
        first = parse_command(commands[0])
        contract = Contract.sign(first, Context("t", "c0", first.type, app.calendar))
        for i, raw in enumerate(commands[1:], 1):
            if compact:
                contract.compact()
            cmd = parse_command(raw)
            contract.handle(cmd, Context("t", f"c{i}", cmd.type, app.calendar))
        contract.advance_to(date(2025, 9, 1), Context("t", "end", "advance_clock",
                                                      app.calendar))
        app.close()
        return [e.model_dump(mode="json", exclude={"timestamp", "hash", "prev_hash"})
                for e in contract.collect_events()]

    full, compacted = decide(False), decide(True)
    assert len(full) > 20 and full == compacted
