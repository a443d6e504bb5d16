"""The clock, one day at a time: exactly which events each day produces.

Like Kill Bill's beatrix suite for overdue billing: move the clock a day, look at
what was recorded that day, and nothing else. Time rules must fire once, in date
order, however often the clock is moved.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledger.application import LedgerApplication
from ledger.domain.commands import CommandError, parse_command
from ledger.domain.contract import CLOCK_ACTOR


def step(app: LedgerApplication, contract_id: str, first: str, last: str
         ) -> dict[str, list[str]]:
    """Advance a day at a time; the non-trivial events recorded on each day."""
    seen: dict[str, list[str]] = {}
    d = date.fromisoformat(first)
    while d <= date.fromisoformat(last):
        outcome = app.advance(d, contract_id)
        kinds = [_describe(e) for e in outcome.events]
        assert kinds, f"the clock did not move on {d}"
        if kinds != ["ClockAdvanced"]:
            assert all(e.business_date == d for e in outcome.events)
            assert all(e.actor == CLOCK_ACTOR for e in outcome.events)
            seen[d.isoformat()] = kinds
        d += timedelta(days=1)
    return seen


def _describe(e: object) -> str:
    name = type(e).__name__
    if name == "ChargePosted":
        return f"ChargePosted {e.line_id} {e.service_month} {e.amount}"  # type: ignore[attr-defined]
    if name == "BillIssued":
        return f"BillIssued {e.period} {e.total}"  # type: ignore[attr-defined]
    if name == "LineActivated":
        return f"LineActivated {e.line_id} {e.billing_start} {e.decided_by}"  # type: ignore[attr-defined]
    if name == "Suspended":
        return f"Suspended {e.reason}"  # type: ignore[attr-defined]
    if name == "ContractTerminated":
        return f"ContractTerminated {e.reason}"  # type: ignore[attr-defined]
    return name


def apply(app: LedgerApplication, *commands: dict) -> None:
    for raw in commands:
        app.execute(parse_command(raw))


def sign(contract_id: str, mode: str, at: str, lines: list[tuple[str, str]],
         term: tuple[str, str] = ("2025-01-01", "2025-12-31")) -> dict:
    return {"type": "sign_contract", "at": at, "contract_id": contract_id, "customer": "X",
            "term_start": term[0], "term_end": term[1], "billing_mode": mode,
            "lines": [{"line_id": lid, "kind": "circuit", "monthly_fee": fee}
                      for lid, fee in lines]}


@pytest.fixture
def app(sqlite_url: str) -> LedgerApplication:
    ledger = LedgerApplication(sqlite_url)
    yield ledger
    ledger.close()


def test_back_dated_start_whose_month_was_already_billed(app: LedgerApplication) -> None:
    """Spring Festival 2025: report Fri Jan 24; window Jan 26 (make-up Sunday), Jan 27,
    Feb 5; never confirmed, so billing starts Jan 29 (T+5), decided on Feb 6 after
    January was billed on Feb 1. January's 3 days go on the next bill, marked January."""
    apply(app,
          sign("C", "postpaid", "2025-01-02", [("A", "3100.00"), ("B", "3100.00")]),
          {"type": "submit_test_report", "at": "2025-01-02", "contract_id": "C", "line_id": "A"},
          {"type": "confirm_activation", "at": "2025-01-02", "contract_id": "C", "line_id": "A"},
          {"type": "submit_test_report", "at": "2025-01-24", "contract_id": "C", "line_id": "B"})
    assert step(app, "C", "2025-01-25", "2025-03-02") == {
        "2025-02-01": ["ChargePosted A 2025-01 3000.00", "BillIssued 2025-01 3000.00"],
        "2025-02-06": ["LineActivated B 2025-01-29 deemed"],
        "2025-03-01": ["ChargePosted B 2025-01 300.00", "ChargePosted A 2025-02 3100.00",
                       "ChargePosted B 2025-02 3100.00", "BillIssued 2025-02 6500.00"],
    }
    state = app.load("C").state
    march_bill = state.bills[-1]
    months = [x.service_month for x in state.charges if x.charge_id in march_bill.charge_ids]
    assert months == ["2025-01", "2025-02", "2025-02"]


def test_postpaid_overdue_day_by_day(app: LedgerApplication) -> None:
    apply(app,
          sign("C", "postpaid", "2025-01-01", [("A", "3100.00")]),
          {"type": "submit_test_report", "at": "2025-01-01", "contract_id": "C", "line_id": "A"},
          {"type": "confirm_activation", "at": "2025-01-01", "contract_id": "C", "line_id": "A"})
    days = step(app, "C", "2025-01-02", "2025-05-09")
    assert days == {
        "2025-02-01": ["ChargePosted A 2025-01 3100.00", "BillIssued 2025-01 3100.00"],
        "2025-03-01": ["ChargePosted A 2025-02 3100.00", "BillIssued 2025-02 3100.00"],
        # Jan bill due Feb 28: arrears from Mar 1 (month 1); suspended on May 1 (month 3).
        "2025-04-01": ["ChargePosted A 2025-03 3100.00", "BillIssued 2025-03 3100.00"],
        "2025-05-01": ["Suspended arrears", "ChargePosted A 2025-04 3100.00",
                       "BillIssued 2025-04 3100.00"],
    }
    # Paying only the two oldest bills leaves the March bill (due Apr 30) overdue.
    apply(app, {"type": "record_payment", "at": "2025-05-10", "contract_id": "C",
                "amount": "6200.00", "reference": "part"})
    assert app.load("C").state.open_suspension is not None
    apply(app, {"type": "record_payment", "at": "2025-05-20", "contract_id": "C",
                "amount": "3100.00", "reference": "rest"})
    state = app.load("C").state
    assert state.suspensions[-1].end == date(2025, 5, 20)
    assert step(app, "C", "2025-05-21", "2025-06-01") == {
        # May: service Jan..Apr 30 none, May 20..31 = 12 days of 31.
        "2025-06-01": ["ChargePosted A 2025-05 1200.00", "BillIssued 2025-05 1200.00"]}


def test_prepaid_month_end_check_suspends_then_cancels(app: LedgerApplication) -> None:
    apply(app,
          sign("P", "prepaid", "2025-01-01", [("A", "1000.00")]),
          {"type": "record_payment", "at": "2025-01-01", "contract_id": "P",
           "amount": "1500.00", "reference": "deposit"},
          {"type": "submit_test_report", "at": "2025-01-02", "contract_id": "P", "line_id": "A"},
          {"type": "confirm_activation", "at": "2025-01-02", "contract_id": "P", "line_id": "A"})
    assert [x.amount for x in app.load("P").state.charges] == [Decimal("967.74")]
    days = step(app, "P", "2025-01-03", "2025-05-02")
    # Balance 532.26 < 1000.00 at the end of Jan 31: suspended Feb 1, nothing deducted;
    # three months later, May 1, the service is cancelled (R8).
    assert days == {"2025-02-01": ["Suspended prepaid_balance"],
                    "2025-05-01": ["ContractTerminated cancellation"]}


def test_prepaid_reinstatement_deducts_the_rest_of_the_month(app: LedgerApplication) -> None:
    apply(app,
          sign("P", "prepaid", "2025-01-01", [("A", "3100.00")]),
          {"type": "record_payment", "at": "2025-01-01", "contract_id": "P",
           "amount": "3100.00", "reference": "January"},
          {"type": "submit_test_report", "at": "2025-01-01", "contract_id": "P", "line_id": "A"},
          {"type": "confirm_activation", "at": "2025-01-01", "contract_id": "P", "line_id": "A"})
    step(app, "P", "2025-01-02", "2025-02-01")  # balance 0.00 < 3100.00: suspended Feb 1
    assert app.load("P").state.open_suspension is not None
    # The rest of March from the 11th is 21 days: 3100 x 21/31 = 2100.00.
    apply(app, {"type": "record_payment", "at": "2025-03-11", "contract_id": "P",
                "amount": "2099.99", "reference": "short"})
    assert app.load("P").state.open_suspension is not None
    apply(app, {"type": "record_payment", "at": "2025-03-11", "contract_id": "P",
                "amount": "0.01", "reference": "enough"})
    state = app.load("P").state
    assert state.suspensions[-1].end == date(2025, 3, 11)
    assert [(x.service_month, x.days, x.amount) for x in state.charges][-1] == (
        "2025-03", 21, Decimal("2100.00"))


def test_renewal_fires_once_however_often_the_clock_moves(app: LedgerApplication) -> None:
    apply(app, sign("C", "postpaid", "2025-01-01", [("A", "100.00")]))
    for _ in range(3):
        app.advance(date(2026, 1, 1), "C")
    renewals = [e for e in app.contract_events("C") if type(e).__name__ == "ContractRenewed"]
    assert [(e.term_start, e.term_end) for e in renewals] == [(date(2026, 1, 1),
                                                               date(2026, 12, 31))]


def test_command_before_the_clock_is_refused_and_writes_nothing(app: LedgerApplication) -> None:
    apply(app, sign("C", "postpaid", "2025-01-01", [("A", "100.00")]))
    app.advance(date(2025, 3, 1), "C")
    before = len(app.contract_events("C"))
    with pytest.raises(CommandError) as err:
        apply(app, {"type": "record_payment", "at": "2025-02-01", "contract_id": "C",
                    "amount": "1.00", "reference": "x"})
    assert err.value.field == "at"
    assert "before the contract's clock 2025-03-01" in err.value.reason
    assert len(app.contract_events("C")) == before
