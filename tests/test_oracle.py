"""The oracle itself, checked against DOMAIN.md's worked examples (exact figures)."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings

from tests.oracle import confirmation_window, is_working_day, run, run_one
from tests.scenarios import scenario, worked_example_commands

REF = "REF-2025-001"


def dt(s: str) -> date:
    return date.fromisoformat(s)


def on_time_payments():
    """A credit up front large enough to settle every bill of the reference contract."""
    return [("record_payment", "2025-09-01", {"amount": "500000.00", "reference": "PRE"})]


# --------------------------------------------------------------------------- R2 calendar


def test_windows_of_the_worked_examples():
    assert confirmation_window(dt("2025-09-10")) == [dt("2025-09-11"), dt("2025-09-12"),
                                                     dt("2025-09-15")]
    assert confirmation_window(dt("2025-09-30")) == [dt("2025-10-09"), dt("2025-10-10"),
                                                     dt("2025-10-11")]
    assert confirmation_window(dt("2025-09-26")) == [dt("2025-09-28"), dt("2025-09-29"),
                                                     dt("2025-09-30")]
    assert is_working_day(dt("2025-10-11"))  # make-up Saturday
    assert is_working_day(dt("2025-09-28"))  # make-up Sunday
    assert not is_working_day(dt("2025-10-08"))


def test_unofficial_year_is_refused():
    import pytest

    with pytest.raises(ValueError):
        is_working_day(dt("2027-03-01"))


# --------------------------------------------------------------------------- starts


def test_billing_starts_and_month_figures():
    r = run_one(worked_example_commands(), "2025-11-01")
    starts = {lid: ln.billing_start for lid, ln in r.lines.items()}
    assert starts == {
        "INT-1": dt("2025-09-01"),
        "DL-1": dt("2025-09-12"),
        "DL-2": dt("2025-10-05"),
        "DL-3": dt("2025-10-01"),
    }
    assert r.rent[("2025-09", "DL-1")] == D("1266.67")
    assert r.rent[("2025-09", "INT-1")] == D("3000.00")
    assert r.rent[("2025-10", "DL-2")] == D("1741.94")
    assert r.rent[("2025-10", "DL-3")] == D("1500.00")
    assert ("2025-09", "DL-2") not in r.rent and ("2025-09", "DL-3") not in r.rent


def test_deemed_start_is_learned_after_the_window():
    before = run_one(worked_example_commands(), "2025-10-11")
    assert before.lines["DL-2"].billing_start is None
    assert before.lines["DL-2"].status == "pending"
    after = run_one(worked_example_commands(), "2025-10-12")
    assert after.lines["DL-2"].billing_start == dt("2025-10-05")
    assert after.lines["DL-2"].start_learned_on == dt("2025-10-12")
    assert after.lines["DL-2"].status == "active"
    # DL-3's deemed start (window ended Sep 30) is learned on Oct 1, the start itself
    r = run_one(worked_example_commands(), "2025-10-01")
    assert r.lines["DL-3"].billing_start == dt("2025-10-01")
    assert r.lines["DL-3"].confirmed_on is None  # the Oct 9 confirmation was late


def test_dl2_confirmed_inside_the_window():
    r = run_one(worked_example_commands(dl2_confirmed_on=dt("2025-10-10")), "2025-11-01")
    assert r.lines["DL-2"].billing_start == dt("2025-10-10")
    assert r.rent[("2025-10", "DL-2")] == D("1419.35")


# --------------------------------------------------------------------------- bills


def test_bills_sep_oct_nov():
    r = run_one(worked_example_commands(), "2025-12-01")
    assert r.bill_totals() == [
        (dt("2025-10-01"), dt("2025-10-31"), D("4266.67")),
        (dt("2025-11-01"), dt("2025-11-30"), D("8241.94")),
        (dt("2025-12-01"), dt("2025-12-31"), D("8500.00")),
    ]
    assert r.month_totals == {"2025-09": D("4266.67"), "2025-10": D("8241.94"),
                              "2025-11": D("8500.00")}
    assert r.balance == D("-21008.61")
    # current month accrues day by day but is not billed yet
    assert r.accrued_rent[("2025-12", "INT-1")] == D("96.77")  # 3000 x 1/31


# --------------------------------------------------------------------------- arrears


def test_postpaid_arrears_suspension_and_cancellation():
    cmds = worked_example_commands()
    assert run_one(cmds, "2025-10-31").arrears_since is None
    r = run_one(cmds, "2025-11-01")
    assert r.arrears_since == dt("2025-11-01")
    assert r.status == "active"
    r = run_one(cmds, "2025-12-31")
    assert r.status == "active" and r.arrears_since == dt("2025-11-01")
    r = run_one(cmds, "2026-01-01")
    assert r.status == "suspended"
    assert r.suspensions == [(dt("2026-01-01"), None)]
    assert all(ln.status == "suspended" for ln in r.lines.values())
    r = run_one(cmds, "2026-03-31")
    assert r.status == "suspended"
    r = run_one(cmds, "2026-04-01")
    assert r.status == "terminated"
    assert r.terminated_on == dt("2026-04-01")
    assert r.termination_reason == "cancellation"
    assert r.arrears_since == dt("2025-11-01")  # arrears stay owed
    # Dec was fully in service; Jan..Mar suspended: no more rent
    assert r.bill_totals()[-1] == (dt("2026-01-01"), dt("2026-01-31"), D("8500.00"))
    assert r.balance == D("-29508.61")


def test_reinstated_when_overdue_bills_paid():
    pay = [("record_payment", "2026-01-15", {"amount": "21008.61", "reference": "P1"})]
    cmds = worked_example_commands(extra=pay)
    r = run_one(cmds, "2026-01-15")
    assert r.status == "active"
    assert r.suspensions == [(dt("2026-01-01"), dt("2026-01-15"))]
    assert r.arrears_since is None
    r = run_one(cmds, "2026-02-01")
    jan = {lid: r.rent[("2026-01", lid)] for lid in ("INT-1", "DL-1", "DL-2", "DL-3")}
    assert jan == {"INT-1": D("1645.16"), "DL-1": D("1096.77"), "DL-2": D("1096.77"),
                   "DL-3": D("822.58")}
    assert r.month_totals["2026-01"] == D("4661.28")  # not 4,661.29 (total rounding)
    assert r.bills[-1].total == D("4661.28")


# --------------------------------------------------------------------------- tariff


def test_tariff_change_mid_month():
    extra = on_time_payments() + [
        ("adjust_tariff", "2025-11-01",
         {"line_id": "INT-1", "monthly_fee": "2800.00", "effective": "2025-11-16"}),
    ]
    r = run_one(worked_example_commands(extra=extra), "2025-12-01")
    assert r.rent[("2025-11", "INT-1")] == D("2900.00")
    assert r.month_totals["2025-11"] == D("8400.00")
    assert r.lines["INT-1"].monthly_fee == D("2800.00")


def test_tariff_change_prepaid_after_the_first_is_corrected():
    extra = [
        ("record_payment", "2025-09-01", {"amount": "100000.00", "reference": "PRE"}),
        ("adjust_tariff", "2025-11-05",
         {"line_id": "INT-1", "monthly_fee": "2800.00", "effective": "2025-11-16"}),
    ]
    cmds = worked_example_commands(billing_mode="prepaid", extra=extra)
    r = run_one(cmds, "2025-11-04")
    assert r.rent[("2025-11", "INT-1")] == D("3000.00")  # deducted in advance on Nov 1
    r = run_one(cmds, "2025-11-05")
    assert r.rent[("2025-11", "INT-1")] == D("2900.00")  # net after the correction


# --------------------------------------------------------------------------- term


def test_renewal_without_notice():
    cmds = worked_example_commands(extra=on_time_payments())
    r = run_one(cmds, "2026-08-31")
    assert (r.term_start, r.term_end) == (dt("2025-09-01"), dt("2026-08-31"))
    r = run_one(cmds, "2026-09-01")
    assert (r.term_start, r.term_end) == (dt("2026-09-01"), dt("2027-08-31"))
    assert r.status == "active"


def test_renewal_cross_border():
    cmds = worked_example_commands(cross_border=True, extra=on_time_payments())
    r = run_one(cmds, "2026-09-01")
    assert (r.term_start, r.term_end) == (dt("2026-09-01"), dt("2026-09-30"))
    r = run_one(cmds, "2026-10-01")
    assert (r.term_start, r.term_end) == (dt("2026-10-01"), dt("2026-10-31"))


def test_notice_in_window_then_expiry_and_lost_asset():
    extra = on_time_payments() + [
        ("give_termination_notice", "2026-08-10", {"party": "customer"}),
        ("report_equipment_lost", "2026-09-05", {"asset_id": "ONT-0004"}),
    ]
    cmds = worked_example_commands(extra=extra)
    r = run_one(cmds, "2026-08-31")
    assert r.status == "active" and r.terminated_on is None
    r = run_one(cmds, "2026-09-01")
    assert r.status == "terminated"
    assert r.terminated_on == dt("2026-09-01")
    assert r.termination_reason == "expiry"
    assert all(ln.status == "terminated" for ln in r.lines.values())
    assert (r.term_start, r.term_end) == (dt("2025-09-01"), dt("2026-08-31"))
    r = run_one(cmds, "2026-10-01")
    assert [(c.kind, c.amount) for c in r.bills[-1].items] == [("compensation", D("1200.00"))]
    assert r.bill_totals()[-1] == (dt("2026-10-01"), dt("2026-10-31"), D("1200.00"))
    assert r.month_totals["2026-09"] == D("1200.00")
    assert r.month_totals["2026-08"] == D("8500.00")
    assert not any(k[0] == "2026-09" for k in r.rent)


def test_lost_asset_prepaid_is_deducted_that_day():
    extra = [
        ("record_payment", "2025-09-01", {"amount": "200000.00", "reference": "PRE"}),
        ("terminate", "2025-12-10", {"reason": "mutual"}),
        ("report_equipment_lost", "2025-12-20", {"asset_id": "ONT-0004"}),
    ]
    cmds = worked_example_commands(billing_mode="prepaid", extra=extra)
    r = run_one(cmds, "2025-12-20")
    assert r.month_totals["2025-12"] - sum(
        v for (m, _), v in r.rent.items() if m == "2025-12") == D("1200.00")
    # December rent net of the refund: 9 days in service (Dec 1..9)
    assert r.rent[("2025-12", "INT-1")] == D("870.97")  # 3000 x 9/31


# --------------------------------------------------------------------------- prepaid


def test_prepaid_month_end_check_suspends_and_payment_reinstates():
    extra = [("record_payment", "2025-09-01", {"amount": "20000.00", "reference": "PRE"})]
    cmds = worked_example_commands(billing_mode="prepaid", extra=extra)
    # Sep: 3000 + 1266.67 deducted; Oct: 3000 + 2000 + 1500 on Oct 1, DL-2 1741.94 on Oct 12
    r = run_one(cmds, "2025-10-12")
    assert r.balance == D("20000.00") - D("4266.67") - D("6500.00") - D("1741.94")
    # Nov 1: balance 7491.39 < 8500.00 -> suspended, nothing deducted
    r = run_one(cmds, "2025-11-01")
    assert r.status == "suspended" and r.balance == D("7491.39")
    assert not any(k[0] == "2025-11" for k in r.rent)
    pay = extra + [("record_payment", "2025-11-20", {"amount": "1000.00", "reference": "TOP"})]
    r = run_one(worked_example_commands(billing_mode="prepaid", extra=pay), "2025-11-20")
    # rent Nov 20..30 = 11/30 of each fee: 1100.00 + 733.33 + 733.33 + 550.00 = 3116.66
    assert r.status == "active"
    assert r.balance == D("8491.39") - D("3116.66")
    assert r.rent[("2025-11", "DL-1")] == D("733.33")


def test_sms_overage_per_term():
    extra = on_time_payments() + [
        ("record_sms_usage", "2025-10-15", {"messages": 150_000}),
        ("record_sms_usage", "2025-10-20", {"messages": 60_001}),
    ]
    r = run_one(worked_example_commands(extra=extra), "2025-11-01")
    # 10,001 messages over quota x 0.05 = 500.05, billed with October
    assert r.month_totals["2025-10"] == D("8241.94") + D("500.05")


# --------------------------------------------------------------------------- robustness


def test_two_year_contract_is_fast():
    extra = on_time_payments()
    cmds = worked_example_commands(extra=extra)
    cmds[0]["term_end"] = "2027-08-31"
    t0 = time.perf_counter()
    r = run_one(cmds, "2026-12-31")
    assert time.perf_counter() - t0 < 0.1
    assert r.status == "active"
    prepaid = worked_example_commands(billing_mode="prepaid", extra=extra)
    t0 = time.perf_counter()
    run_one(prepaid, "2026-12-31")
    assert time.perf_counter() - t0 < 0.1


def test_several_contracts_in_one_stream():
    a = worked_example_commands(contract_id="A")
    b = worked_example_commands(contract_id="B", billing_mode="prepaid")
    res = run(sorted(a + b, key=lambda c: c["at"]), "2025-12-01")
    assert set(res) == {"A", "B"}
    assert res["A"].bills[0].total == D("4266.67")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_oracle_runs_on_random_scenarios(sc):
    cmds, end = sc
    ids = [c["command_id"] for c in cmds]
    assert len(ids) == len(set(ids))
    assert [c["at"] for c in cmds] == sorted(c["at"] for c in cmds)
    r = run_one(cmds, end)
    # invariants of the oracle itself
    if r.billing_mode == "postpaid":
        assert r.balance == r.payments_total - sum((b.total for b in r.bills), D(0))
        for b in r.bills:
            assert b.total == sum((i.amount for i in b.items), D(0))
            assert b.total > 0
        # every billed rent item equals the day-by-day figure
        for k, v in r.rent.items():
            assert r.accrued_rent.get(k) == v, k
    else:
        assert r.bills == []
        # net rent for fully past months equals the day-by-day figure
        for (m, lid), v in r.accrued_rent.items():
            if m < f"{end.year:04d}-{end.month:02d}":
                assert r.rent.get((m, lid), D(0)) == v, (m, lid)
    assert sum(r.month_totals.values(), D(0)) == sum((c.amount for c in r.charges), D(0))
