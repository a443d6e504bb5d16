"""`ledger explain` on every worked example of DOMAIN.md: exact formula text and clause."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ledger.application import LedgerApplication
from tests.audit_support import CID, advance, cmd, ledger_cli, reference_commands, run

#: Enough credit for every bill of the term: no arrears, so the term runs to its end.
PREPAY = cmd("record_payment", "2025-10-10", amount="200000.00", reference="advance")
ART_4_1_ZH = "开通当月按日计费，其他使用期间均按月计费"
ART_4_3_ZH = "逾期未签章确认的，在乙方提交业务正常开通的交付测试报告后5天开始计费"
ART_4_4_ZH = "在欠费期开始的第三月的1日起，对通过该账户付费的专线业务实施停机"


def explain(url: str, month: str, *extra: str, cid: str = CID) -> dict[str, Any]:
    result = ledger_cli("explain", cid, "--month", month, "--store", url, "--json", *extra)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def item(view: dict[str, Any], line_id: str) -> dict[str, Any]:
    (found,) = [i for i in view["items"] if i["line_id"] == line_id]
    return found


def build(url: str, commands: list[dict[str, Any]], to: str) -> None:
    app = LedgerApplication(url)
    try:
        run(app, commands)
        advance(app, to)
    finally:
        app.close()


@pytest.fixture
def reference(sqlite_url: str) -> str:
    """DL-2 never confirmed; nothing paid; clock at 2025-12-01."""
    build(sqlite_url, reference_commands(), "2025-12-01")
    return sqlite_url


def test_confirmed_in_window(reference: str) -> None:
    it = item(explain(reference, "2025-09"), "DL-1")
    assert it["formula"] == "2000.00 x 19/30 = 1266.67 (rounded half-up to 0.01 per item, R1)"
    assert it["exact"] == "2000.00 x 19 / 30 = 1266.666667 -> 1266.67"
    assert it["rule"]["id"] == "R3"
    assert it["clause"]["ref"] == "Art.4.1" and ART_4_1_ZH in it["clause"]["zh"]
    assert "by day in the month of activation" in it["clause"]["en"]
    (start,) = [f for f in it["facts"] if f["kind"] == "billing_start"]
    assert start["decided_by"] == "confirmed" and start["billing_start"] == "2025-09-12"
    assert [d["date"] for d in start["window"] if d["working_day"]] == [
        "2025-09-11", "2025-09-12", "2025-09-15"]
    assert "2025-09-13 Sat: weekend -> not counted" in start["text"]
    assert "confirmed on 2025-09-12 (Fri), inside the window" in start["text"]
    assert start["clause"]["ref"] == "Art.4.3" and ART_4_3_ZH in start["clause"]["zh"]


def test_holiday_window_never_confirmed_is_back_dated(reference: str) -> None:
    it = item(explain(reference, "2025-10"), "DL-2")
    assert it["formula"] == "2000.00 x 27/31 = 1741.94 (rounded half-up to 0.01 per item, R1)"
    assert it["exact"] == "2000.00 x 27 / 31 = 1741.935484 -> 1741.94"
    assert (it["rule"]["id"], it["clause"]["ref"]) == ("R3", "Art.4.1")
    (start,) = [f for f in it["facts"] if f["kind"] == "billing_start"]
    assert start["decided_by"] == "deemed" and start["back_dated"] is True
    assert start["calendar"].startswith("holidays.China")
    assert [d["date"] for d in start["window"] if d["working_day"]] == [
        "2025-10-09", "2025-10-10", "2025-10-11"]
    text = start["text"]
    assert "2025-10-01 Wed: public holiday: National Day -> not counted" in text
    assert "2025-10-06 Mon: public holiday: Mid-Autumn Festival -> not counted" in text
    assert "2025-10-11 Sat: make-up working day (调休) -> working day 3" in text
    assert ("not confirmed by the end of 2025-10-11 (Sat): deemed start = report date + 5 "
            "calendar days = 2025-10-05 (Sun), back-dated (decided and recorded on "
            "2025-10-12)") in text


def test_holiday_window_confirmed_inside(sqlite_url: str) -> None:
    build(sqlite_url, reference_commands(dl2_confirmed_on="2025-10-10"), "2025-11-01")
    it = item(explain(sqlite_url, "2025-10"), "DL-2")
    assert it["formula"] == "2000.00 x 22/31 = 1419.35 (rounded half-up to 0.01 per item, R1)"
    (start,) = [f for f in it["facts"] if f["kind"] == "billing_start"]
    assert start["decided_by"] == "confirmed" and start["billing_start"] == "2025-10-10"


def test_make_up_sunday_and_late_confirmation(reference: str) -> None:
    it = item(explain(reference, "2025-10"), "DL-3")
    assert it["formula"] == "1500.00 x 31/31 = 1500.00 (rounded half-up to 0.01 per item, R1)"
    assert it["amount"] == "1500.00"
    (start,) = [f for f in it["facts"] if f["kind"] == "billing_start"]
    assert "2025-09-28 Sun: make-up working day (调休) -> working day 1" in start["text"]
    assert "deemed start = report date + 5 calendar days = 2025-10-01 (Wed)" in start["text"]
    assert "confirmation signed late on 2025-10-09 (Thu): it changes nothing (R2)" in \
        start["text"]


def test_full_month_and_bills(reference: str) -> None:
    sep = explain(reference, "2025-09")
    assert item(sep, "INT-1")["formula"] == \
        "3000.00 x 30/30 = 3000.00 (rounded half-up to 0.01 per item, R1)"
    assert sep["total"] == "4266.67"
    assert explain(reference, "2025-10")["total"] == "8241.94"
    assert explain(reference, "2025-11")["total"] == "8500.00"
    bill = [f for f in explain(reference, "2025-10")["facts"] if f["kind"] == "bill"]
    assert bill[0]["text"] == ("bill REF-2025/2025-10 issued 2025-11-01, due 2025-11-30, "
                               "total 8241.94 (4 items)")


def test_one_charge_and_text_output(reference: str) -> None:
    view = explain(reference, "2025-10")
    charge = item(view, "DL-2")["charge_id"]
    one = explain(reference, "2025-10", "--charge", charge)
    assert [i["charge_id"] for i in one["items"]] == [charge]
    text = ledger_cli("explain", CID, "--month", "2025-10", "--charge", charge,
                      "--store", reference).stdout
    assert "  formula   2000.00 x 27/31 = 1741.94 (rounded half-up to 0.01 per item, R1)" in text
    assert "  rounding  2000.00 x 27 / 31 = 1741.935484 -> 1741.94" in text
    assert "  clause    Art.4.1 (第四条 第1款)" in text and ART_4_1_ZH in text
    bad = ledger_cli("explain", CID, "--month", "2025-10", "--charge", "nope",
                     "--store", reference)
    assert bad.exit_code == 2 and "--charge" in bad.stderr
    assert ledger_cli("explain", CID, "--month", "2025-13", "--store",
                      reference).exit_code == 2


def test_arrears_suspension_and_cancellation(sqlite_url: str) -> None:
    build(sqlite_url, reference_commands(), "2026-04-02")
    jan = explain(sqlite_url, "2026-01")
    assert jan["items"] == []
    (susp,) = [f for f in jan["facts"] if f["kind"] == "suspension"]
    assert (susp["rule"]["id"], susp["clause"]["ref"]) == ("R6", "Art.4.4")
    assert ART_4_4_ZH in susp["clause"]["zh"]
    assert susp["unpaid_bills"][0] == {"bill_id": "REF-2025/2025-09", "issued_on": "2025-10-01",
                                       "due_on": "2025-10-31", "total": "4266.67"}
    assert susp["arrears_since"] == "2025-11-01"
    assert susp["months_counted"] == [{"month": "2025-11", "count": 1},
                                      {"month": "2025-12", "count": 2},
                                      {"month": "2026-01", "count": 3}]
    assert "suspended on the 1st of month 3: 2026-01-01 (R6); cancellation on 2026-04-01" \
        in susp["text"]
    (term,) = [f for f in explain(sqlite_url, "2026-04")["facts"] if f["kind"] == "termination"]
    assert (term["rule"]["id"], term["clause"]["ref"], term["reason"]) == \
        ("R8", "Art.4.4", "cancellation")
    assert term["text"].startswith("terminated on 2026-04-01 (cancellation)")


def test_reinstated_month_by_day(sqlite_url: str) -> None:
    app = LedgerApplication(sqlite_url)
    try:
        run(app, reference_commands())
        advance(app, "2026-01-15")
        owed = sum(b.total - b.paid for b in app.load(CID).state.bills)
        run(app, [cmd("record_payment", "2026-01-15", amount=str(owed), reference="all")])
        advance(app, "2026-02-01")
    finally:
        app.close()
    jan = explain(sqlite_url, "2026-01")
    assert [(i["line_id"], i["formula"].split(" (")[0], i["rule"]["id"], i["clause"]["ref"])
            for i in jan["items"]] == [
        ("DL-1", "2000.00 x 17/31 = 1096.77", "R7", "Art.4.4"),
        ("DL-2", "2000.00 x 17/31 = 1096.77", "R7", "Art.4.4"),
        ("DL-3", "1500.00 x 17/31 = 822.58", "R7", "Art.4.4"),
        ("INT-1", "3000.00 x 17/31 = 1645.16", "R7", "Art.4.4")]
    assert jan["total"] == "4661.28"
    kinds = [f["kind"] for f in jan["items"][0]["facts"]]
    assert kinds == ["suspension", "reinstatement"]
    assert jan["items"][0]["facts"][1]["text"].startswith(
        "reinstated on 2026-01-15: all overdue bills paid")


def test_tariff_change(sqlite_url: str) -> None:
    build(sqlite_url, [*reference_commands(),
                       cmd("adjust_tariff", "2025-11-01", line_id="INT-1",
                           monthly_fee="2800.00", effective="2025-11-16")], "2025-12-01")
    nov = [i for i in explain(sqlite_url, "2025-11")["items"] if i["line_id"] == "INT-1"]
    assert [(i["formula"].split(" (")[0], i["rule"]["id"], i["clause"]["ref"]) for i in nov] == [
        ("3000.00 x 15/30 = 1500.00", "R12", "Art.3.5"),
        ("2800.00 x 15/30 = 1400.00", "R12", "Art.3.5")]
    assert sum(float(i["amount"]) for i in nov) == 2900.0
    (tariff,) = [f for f in nov[0]["facts"] if f["kind"] == "tariff"]
    assert tariff["text"] == ("INT-1: monthly fee 3000.00 -> 2800.00 from 2025-11-16 (notified "
                              "2025-11-01); a month straddling it is charged by day at each rate")
    assert "乙方保留资费调整的权利" in tariff["clause"]["zh"]


@pytest.mark.parametrize(("cross_border", "end"), [(False, "2027-08-31"), (True, "2026-09-30")])
def test_renewal(sqlite_url: str, cross_border: bool, end: str) -> None:
    build(sqlite_url, [*reference_commands(cross_border=cross_border), PREPAY], "2026-09-02")
    (renewal,) = [f for f in explain(sqlite_url, "2026-09")["facts"] if f["kind"] == "renewal"]
    assert (renewal["rule"]["id"], renewal["clause"]["ref"]) == ("R9", "Art.7.3")
    assert renewal["text"] == ("no termination notice: the term ending 2026-08-31 renewed as "
                               f"2026-09-01..{end} (R9)")
    assert "本协议自动延期1年" in renewal["clause"]["zh"]


def test_notice_in_window_and_lost_asset(sqlite_url: str) -> None:
    build(sqlite_url, [*reference_commands(), PREPAY,
                       cmd("give_termination_notice", "2026-08-10", party="customer"),
                       cmd("report_equipment_lost", "2026-09-03", asset_id="ONT-0004")],
          "2026-09-05")
    facts = explain(sqlite_url, "2026-09")["facts"]
    (term,) = [f for f in facts if f["kind"] == "termination"]
    assert term["text"].startswith("terminated on 2026-09-01 (expiry)")
    (notice,) = [f for f in explain(sqlite_url, "2026-08")["facts"] if f["kind"] == "notice"]
    assert notice["text"] == ("customer gave written notice on 2026-08-10, within the 30 days "
                              "before the term end 2026-08-31: no renewal")
    (comp,) = [i for i in explain(sqlite_url, "2026-09")["items"] if i["kind"] == "compensation"]
    assert comp["formula"] == "declared value of ONT-0004 = 1200.00"
    assert (comp["rule"]["id"], comp["clause"]["ref"], comp["amount"]) == \
        ("R11", "Art.2.8", "1200.00")
    assert "设备丢失" in comp["clause"]["zh"]
    assert [f["kind"] for f in comp["facts"]] == ["equipment_lost"]
