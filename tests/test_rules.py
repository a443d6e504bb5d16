"""The pure rule functions, one by one, with exact values."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.rules.arrears import OpenItem, allocate_oldest_first, arrears_since
from ledger.rules.billing_start import billing_start, billing_start_known, confirmation_window
from ledger.rules.calendar import CalendarError, ExplicitCalendar, PrcCalendar
from ledger.rules.dates import add_months
from ledger.rules.money import MoneyError, parse_money, prorate
from ledger.rules.policy import DEFAULT_POLICY
from ledger.rules.rent import (
    AccountService,
    FeeStep,
    LineService,
    Posted,
    Suspension,
    month_rent,
    rent_due,
    rent_postings,
)
from ledger.rules.term import cancellation_date, notice_in_window, renewed_term

D = date.fromisoformat
M = Decimal


def test_r1_rounds_each_item_once_half_up() -> None:
    # 17/31 of the four reference lines, item by item: 4,661.28 (rounding the total: .29)
    items = [prorate(M(fee), 17, 31) for fee in ("3000.00", "2000.00", "2000.00", "1500.00")]
    assert items == [M("1645.16"), M("1096.77"), M("1096.77"), M("822.58")]
    assert sum(items) == M("4661.28")
    assert prorate(M("8500.00"), 17, 31) == M("4661.29")
    assert prorate(M("0.05"), 1, 2) == M("0.03")  # half-up, not banker's rounding


@pytest.mark.parametrize("raw, reason", [
    (1.5, "decimal string"), ("1.005", "more than 2 decimal places"), ("NaN", "not a finite"),
    ("Infinity", "not a finite"), ("-1.00", "must not be negative"), ("0", "greater than zero"),
    ("1000000000000", "exceeds the limit"), ("12,00", "not a decimal number"),
    ("1_000", "not a decimal number"), ("1e3", "not a decimal number"), (True, "decimal string"),
])
def test_money_input_is_refused_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason):
        parse_money(raw)


def test_official_calendar_windows_and_refusal_of_unknown_years() -> None:
    cal = PrcCalendar()
    window = confirmation_window(D("2025-09-30"), cal, DEFAULT_POLICY)
    assert window.working_days == (D("2025-10-09"), D("2025-10-10"), D("2025-10-11"))
    assert (window.decided_on, window.deemed_start) == (D("2025-10-12"), D("2025-10-05"))
    assert billing_start(window, D("2025-10-10")) == (D("2025-10-10"), "confirmed")
    assert billing_start(window, D("2025-10-12")) == (D("2025-10-05"), "deemed")
    assert billing_start(window, None) == (D("2025-10-05"), "deemed")
    assert cal.describe(D("2025-10-11")) == "make-up working day (调休)"
    assert cal.describe(D("2025-10-01")) == "public holiday: National Day"
    with pytest.raises(CalendarError, match="no official PRC working-day calendar for 2031"):
        cal.is_working_day(D("2031-01-02"))


def test_an_explicit_calendar_is_used_for_the_years_it_names(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"name": "ops-2031", "version": "1", "years": [2031],
                                "holidays": ["2031-01-02"], "workdays": ["2031-01-04"]}))
    cal = ExplicitCalendar.from_file(path)
    window = confirmation_window(D("2031-01-01"), cal, DEFAULT_POLICY)
    # Jan 2 is a configured holiday, Sat Jan 4 a configured working day.
    assert window.working_days == (D("2031-01-03"), D("2031-01-04"), D("2031-01-06"))
    assert cal.is_working_day(D("2025-10-11"))  # other years: the official calendar


def test_dates_and_terms() -> None:
    assert add_months(D("2025-11-30"), 3) == D("2026-02-28")
    assert cancellation_date(D("2026-01-01"), DEFAULT_POLICY) == D("2026-04-01")
    assert renewed_term(D("2026-08-31"), False, DEFAULT_POLICY) == (D("2026-09-01"),
                                                                    D("2027-08-31"))
    assert renewed_term(D("2026-08-31"), True, DEFAULT_POLICY) == (D("2026-09-01"),
                                                                   D("2026-09-30"))
    assert notice_in_window(D("2026-08-01"), D("2026-08-31"), DEFAULT_POLICY)
    assert not notice_in_window(D("2026-07-31"), D("2026-08-31"), DEFAULT_POLICY)


def test_arrears_periods_join_touching_bills_and_break_on_payment() -> None:
    sep = OpenItem("sep", D("2025-10-31"), None)
    assert arrears_since([sep], D("2025-10-31")) is None
    assert arrears_since([sep], D("2025-11-01")) == D("2025-11-01")
    # Oct bill paid on Nov 30, the day the Nov bill falls due: Dec 1 starts a new period.
    paid_oct = OpenItem("oct", D("2025-10-31"), D("2025-11-30"))
    nov = OpenItem("nov", D("2025-11-30"), None)
    assert arrears_since([paid_oct, nov], D("2025-12-05")) == D("2025-12-01")
    # Paid a day later, the run is unbroken and still counts from Nov 1.
    late_oct = OpenItem("oct", D("2025-10-31"), D("2025-12-01"))
    assert arrears_since([late_oct, nov], D("2025-12-05")) == D("2025-11-01")


def test_payment_settles_the_oldest_bill_first() -> None:
    allocations, credit = allocate_oldest_first(M("150.00"), [("a", M("100.00")),
                                                               ("b", M("30.00"))])
    assert [(a.bill_id, a.amount) for a in allocations] == [("a", M("100.00")),
                                                            ("b", M("30.00"))]
    assert credit == M("20.00")


def test_rent_by_day_at_each_rate_and_suspension() -> None:
    line = LineService("INT-1", D("2025-09-01"), (FeeStep(D("2025-09-01"), M("3000.00")),
                                                  FeeStep(D("2025-11-16"), M("2800.00"))))
    account = AccountService((), None)
    nov = month_rent(line, account, D("2025-11-01"))
    assert [(i.rate, i.days, i.amount, i.rule) for i in nov] == [
        (M("3000.00"), 15, M("1500.00"), "R12"), (M("2800.00"), 15, M("1400.00"), "R12")]
    suspended = AccountService((Suspension(D("2026-01-01"), D("2026-01-15")),), None)
    jan = month_rent(line, suspended, D("2026-01-01"))
    assert [(i.days, i.amount, i.service_from, i.rule) for i in jan] == [
        (17, M("1535.48"), D("2026-01-15"), "R7")]  # 2800 x 17/31


def test_rent_postings_post_only_the_difference() -> None:
    line = LineService("A", D("2025-01-01"), (FeeStep(D("2025-01-01"), M("3100.00")),))
    due = rent_due([line], AccountService((), D("2025-03-11")), [D("2025-03-01")])
    posted = {("A", "2025-03", M("3100.00")): Posted(31, M("3100.00"), D("2025-03-01"),
                                                     D("2025-03-31"), 31)}
    [correction] = rent_postings(due, posted, {"2025-03"})
    assert correction.is_correction
    assert (correction.days, correction.amount, correction.item.rule) == (-21, M("-2100.00"),
                                                                         "R10")


def test_billing_start_known_in_business_time() -> None:
    """R2: a back-dated start counts from its own date; one ahead shows once decided."""
    start, decided = date(2025, 2, 10), date(2025, 2, 12)  # back-dated by the window
    assert billing_start_known(start, decided, date(2025, 2, 9)) is None
    assert billing_start_known(start, decided, date(2025, 2, 10)) == start
    ahead = date(2025, 3, 1)  # decided on 2025-02-12, in force from March
    assert billing_start_known(ahead, decided, date(2025, 2, 11)) is None
    assert billing_start_known(ahead, decided, date(2025, 2, 12)) == ahead
    assert billing_start_known(None, None, date(2030, 1, 1)) is None
