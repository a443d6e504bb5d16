"""Every worked example of DOMAIN.md, through the CLI's JSON output, exact figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.demo import reference_activations, reference_contract
from tests.cli_helpers import Ledger, cmd


def sign(**kw: object) -> dict:
    return reference_contract(contract_id="REF", **kw)  # type: ignore[arg-type]


def activations(dl2_confirmed_on: str | None = None) -> list[dict]:
    return reference_activations("REF", dl2_confirmed_on)


@pytest.fixture
def ledger(sqlite_url: str, tmp_path: Path) -> Ledger:
    return Ledger(sqlite_url, tmp_path)


@pytest.fixture
def reference(ledger: Ledger) -> Ledger:
    ledger.apply([sign(), *activations()])
    return ledger


def test_confirmed_in_window(reference: Ledger) -> None:
    reference.advance("2025-10-01")
    assert reference.line("REF", "DL-1")["billing_start"] == "2025-09-12"
    assert reference.items("REF", "2025-09", "DL-1") == [("DL-1", "prorated", "1266.67")]
    item = reference.bill("REF", "2025-09")["items"][0]
    assert (item["days"], item["days_in_month"], item["rate"]) == (19, 30, "2000.00")
    assert (item["rule"], item["clause"]) == ("R3", "Art.4.1")


def test_holiday_window_never_confirmed_is_deemed_and_back_dated(reference: Ledger) -> None:
    reference.advance("2025-10-11")  # the window (Oct 9, 10, 11) is still open
    assert reference.line("REF", "DL-2")["status"] == "pending"
    reference.advance("2025-11-01")
    assert reference.line("REF", "DL-2")["billing_start"] == "2025-10-05"
    assert reference.items("REF", "2025-10", "DL-2") == [("DL-2", "prorated", "1741.94")]
    # As of Oct 6 (business time) the back-dated start is in force.
    assert reference.line("REF", "DL-2", "--as-of", "2025-10-06")["status"] == "active"


def test_holiday_window_confirmed_inside_it(ledger: Ledger) -> None:
    ledger.apply([sign(), *activations(dl2_confirmed_on="2025-10-10")])
    ledger.advance("2025-11-01")
    assert ledger.line("REF", "DL-2")["billing_start"] == "2025-10-10"
    assert ledger.items("REF", "2025-10", "DL-2") == [("DL-2", "prorated", "1419.35")]


def test_make_up_sunday_counts_and_late_confirmation_changes_nothing(reference: Ledger) -> None:
    history = reference.json("history", "REF")["events"]
    report = next(e for e in history if e["type"] == "TestReportSubmitted"
                  and e["content"]["line_id"] == "DL-3")
    assert report["content"]["window_days"] == ["2025-09-28", "2025-09-29", "2025-09-30"]
    late = next(e for e in history if e["type"] == "ActivationConfirmed"
                and e["content"]["line_id"] == "DL-3")
    assert late["content"]["in_window"] is False
    reference.advance("2025-11-01")
    assert reference.line("REF", "DL-3")["billing_start"] == "2025-10-01"
    assert reference.items("REF", "2025-10", "DL-3") == [("DL-3", "monthly", "1500.00")]


def test_full_month(reference: Ledger) -> None:
    reference.advance("2025-10-01")
    assert reference.items("REF", "2025-09", "INT-1") == [("INT-1", "monthly", "3000.00")]


def test_bills(reference: Ledger) -> None:
    reference.advance("2025-12-01")
    assert [reference.bill("REF", m)["total"] for m in ("2025-09", "2025-10", "2025-11")] == [
        "4266.67", "8241.94", "8500.00"]
    status = reference.status("REF")
    assert status["balance"] == "-21008.61"  # three bills issued, nothing paid
    assert status["unbilled"] == "0.00"


def test_postpaid_arrears_suspension_and_cancellation(reference: Ledger) -> None:
    reference.advance("2025-10-31")
    assert reference.status("REF")["arrears_since"] is None  # due today, not yet overdue
    reference.advance("2025-11-01")
    assert reference.status("REF")["arrears_since"] == "2025-11-01"
    reference.advance("2025-12-31")
    assert reference.status("REF")["status"] == "active"
    reference.advance("2026-01-01")
    status = reference.status("REF")
    assert status["status"] == "suspended"
    assert {x["status"] for x in status["lines"]} == {"suspended"}
    reference.advance("2026-03-31")
    assert reference.status("REF")["status"] == "suspended"
    reference.advance("2026-04-01")
    status = reference.status("REF")
    assert (status["status"], status["terminated_on"], status["termination_reason"]) == (
        "terminated", "2026-04-01", "cancellation")
    assert status["balance"] == "-29508.61"  # arrears stay owed: Sep..Dec bills


def test_reinstated_when_all_overdue_bills_are_paid(reference: Ledger) -> None:
    reference.apply([cmd("record_payment", "2026-01-15", amount="21008.61",
                         reference="bank transfer")])
    status = reference.status("REF")
    assert status["status"] == "active"
    assert status["arrears_since"] is None
    events = reference.json("history", "REF")["events"]
    assert [e["content"]["reinstated_on"] for e in events if e["type"] == "Reinstated"] == [
        "2026-01-15"]
    reference.advance("2026-02-01")
    assert reference.items("REF", "2026-01") == [
        ("DL-1", "prorated", "1096.77"), ("DL-2", "prorated", "1096.77"),
        ("DL-3", "prorated", "822.58"), ("INT-1", "prorated", "1645.16")]
    assert reference.bill("REF", "2026-01")["total"] == "4661.28"


def test_tariff_change_within_a_month(reference: Ledger) -> None:
    reference.apply([cmd("adjust_tariff", "2025-11-01", line_id="INT-1",
                         monthly_fee="2800.00", effective="2025-11-16")])
    reference.advance("2025-12-01")
    items = [i for i in reference.bill("REF", "2025-11")["items"] if i["line_id"] == "INT-1"]
    assert [(i["rate"], i["days"], i["amount"], i["rule"]) for i in items] == [
        ("3000.00", 15, "1500.00", "R12"), ("2800.00", 15, "1400.00", "R12")]
    assert sum(float(i["amount"]) for i in items) == 2900.00


def test_renewal_without_notice(ledger: Ledger) -> None:
    ledger.apply([sign()])
    ledger.advance("2026-08-31")
    assert ledger.status("REF")["term_end"] == "2026-08-31"
    ledger.advance("2026-09-01")
    status = ledger.status("REF")
    assert (status["term_start"], status["term_end"]) == ("2026-09-01", "2027-08-31")


def test_cross_border_renews_by_one_month(ledger: Ledger) -> None:
    ledger.apply([sign(cross_border=True)])
    ledger.advance("2026-09-01")
    status = ledger.status("REF")
    assert (status["term_start"], status["term_end"]) == ("2026-09-01", "2026-09-30")
    ledger.advance("2026-10-01")
    assert ledger.status("REF")["term_end"] == "2026-10-31"


def test_notice_in_window_ends_the_contract_and_opens_recovery(ledger: Ledger) -> None:
    ledger.apply([sign(), cmd("give_termination_notice", "2026-08-10", party="customer")])
    notice = next(e for e in ledger.json("history", "REF")["events"]
                  if e["type"] == "TerminationNoticeGiven")
    assert notice["content"]["in_window"] is True
    result = ledger.apply([cmd("recover_equipment", "2026-08-31", asset_id="RTR-0001")],
                          expect=2)
    assert "only after termination" in result.output
    ledger.advance("2026-09-01")
    status = ledger.status("REF")
    assert (status["status"], status["terminated_on"], status["termination_reason"]) == (
        "terminated", "2026-09-01", "expiry")
    assert status["term_end"] == "2026-08-31"
    ledger.apply([cmd("recover_equipment", "2026-09-03", asset_id="RTR-0001")])


def test_lost_asset_is_charged_at_declared_value(ledger: Ledger) -> None:
    ledger.apply([sign(), cmd("give_termination_notice", "2026-08-10", party="customer"),
                  cmd("report_equipment_lost", "2026-09-05", asset_id="ONT-0004")])
    items = ledger.bill("REF", "2026-09")["items"]
    assert [(i["kind"], i["amount"], i["rule"], i["clause"]) for i in items] == [
        ("compensation", "1200.00", "R11", "Art.2.8")]
    ledger.advance("2026-10-01")
    assert ledger.status("REF")["balance"] == "-1200.00"  # billed on Oct 1, unpaid
