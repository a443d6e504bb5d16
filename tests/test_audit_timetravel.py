"""--as-of / --as-known-at on a history with a back-dated deemed start (DL-2: deemed
2025-10-05, recorded 2025-10-12) and a later dispute adjustment (R13)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ledger.application import LedgerApplication
from tests.audit_support import CID, advance, cmd, ledger_cli, reference_commands, run

DISPUTE = f"{CID}/D0001"


def now() -> str:
    return datetime.now(UTC).isoformat()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('tt') / 'ledger.db'}"
    marks = {"url": url}
    app = LedgerApplication(url)
    try:
        run(app, [c for c in reference_commands() if c["at"] <= "2025-10-10"])
        advance(app, "2025-10-10")
        marks["oct10"] = now()  # the window is still open: DL-2 not yet decided
        advance(app, "2025-10-12")  # the deemed Oct 5 start is recorded now
        marks["oct12"] = now()
        advance(app, "2025-11-05")
        run(app, [cmd("open_dispute", "2025-11-05", month="2025-10", line_id="DL-2",
                      question="Why is DL-2 charged from Oct 5? We never confirmed.")])
        marks["opened"] = now()
        raw = {"type": "resolve_dispute", "at": "2025-11-20", "dispute_id": DISPUTE,
               "outcome": "upheld", "adjustment": "-322.59",
               "reason": "goodwill: charge from Oct 10 instead"}
        run(app, [raw])
        marks["resolved"] = now()
        advance(app, "2025-12-02")
    finally:
        app.close()
    return marks


def js(*args: str) -> Any:
    result = ledger_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def dl2(view: dict[str, Any]) -> dict[str, Any]:
    return next(ln for ln in view["lines"] if ln["line_id"] == "DL-2")


def test_status_business_and_record_time(story: dict[str, str]) -> None:
    url = story["url"]
    # As of Oct 6, with everything known now: the deemed Oct 5 start is in force.
    assert dl2(js("status", CID, "--as-of", "2025-10-06", "--store", url)) == {
        "line_id": "DL-2", "kind": "circuit", "status": "active",
        "billing_start": "2025-10-05", "monthly_fee": "2000.00"}
    # As the ledger knew it on Oct 10 (and as of Oct 6 then): not yet decided.
    for extra in ([], ["--as-of", "2025-10-06"]):
        view = js("status", CID, "--as-known-at", story["oct10"], *extra, "--store", url)
        assert dl2(view)["status"] == "pending" and dl2(view)["billing_start"] is None
    view = js("status", CID, "--as-known-at", story["oct12"], "--as-of", "2025-10-06",
              "--store", url)
    assert dl2(view)["status"] == "active"
    assert js("status", CID, "--as-of", "2025-12-02", "--store", url)["balance"] == "-20686.02"
    assert js("status", CID, "--as-known-at", story["opened"], "--store",
              url)["unbilled"] == "0.00"


def test_bill_before_and_after_the_adjustment(story: dict[str, str]) -> None:
    url = story["url"]
    assert js("bill", CID, "--month", "2025-10", "--store", url)["total"] == "7919.35"
    assert js("bill", CID, "--month", "2025-10", "--as-known-at", story["opened"],
              "--store", url)["total"] == "8241.94"
    assert js("bill", CID, "--month", "2025-10", "--as-of", "2025-11-19",
              "--store", url)["total"] == "8241.94"
    # Known at Oct 12, nothing of October is posted yet (postpaid: at the bill run).
    assert js("bill", CID, "--month", "2025-10", "--as-known-at", story["oct12"],
              "--store", url)["items"] == []


def test_explain_adjustment_and_time_travel(story: dict[str, str]) -> None:
    url = story["url"]
    view = js("explain", CID, "--month", "2025-10", "--store", url)
    adj = next(i for i in view["items"] if i["kind"] == "adjustment")
    dl2_item = next(i for i in view["items"] if i["line_id"] == "DL-2" and i["kind"] == "prorated")
    assert adj["amount"] == "-322.59" and adj["dispute_id"] == DISPUTE
    assert (adj["rule"]["id"], adj["clause"]["ref"]) == ("R13", "Art.3.6")
    assert adj["clause"]["zh"] == ("甲方对交纳的业务费用有异议时，"
                                   "乙方需采取必要措施协助甲方查找原因。")
    assert adj["formula"] == (f"credit -322.59 resolving dispute {DISPUTE} (upheld), "
                              f"correcting {dl2_item['charge_id']}")
    assert [f["kind"] for f in adj["facts"]] == ["dispute_opened", "dispute_resolved"]
    assert adj["bill_id"] == f"{CID}/2025-11"
    assert view["total"] == "7919.35"
    before = js("explain", CID, "--month", "2025-10", "--as-known-at", story["opened"],
                "--store", url)
    assert before["total"] == "8241.94" and before["as_known_at"] == story["opened"]
    early = js("explain", CID, "--month", "2025-10", "--as-known-at", story["oct10"],
               "--store", url)
    assert early["items"] == []
    assert [(f["kind"], f["line_id"]) for f in early["facts"]] == [("billing_start", "DL-3")]
    sep = js("explain", CID, "--month", "2025-09", "--as-known-at", story["oct10"],
             "--store", url)
    (window,) = [f for f in sep["facts"] if f["kind"] == "test_report" and
                 f["line_id"] == "DL-2"]  # known at Oct 10: DL-2's window still open
    assert window["text"].endswith("if not confirmed by then, billing starts 2025-10-05 "
                                   "(deemed)")
    as_of = js("explain", CID, "--month", "2025-10", "--as-of", "2025-10-06", "--store", url)
    assert [f["billing_start"] for f in as_of["facts"] if f["kind"] == "billing_start"] == [
        "2025-10-01", "2025-10-05"]


def test_history_as_of_and_as_known_at(story: dict[str, str]) -> None:
    url = story["url"]

    def activated(*args: str) -> list[str]:
        events = js("history", CID, *args, "--store", url)["events"]
        return [e["content"]["line_id"] for e in events if e["type"] == "LineActivated"]

    assert activated("--as-of", "2025-10-06") == ["INT-1", "DL-1", "DL-3", "DL-2"]
    assert activated("--as-known-at", story["oct10"]) == ["INT-1", "DL-1", "DL-3"]
    assert activated("--as-of", "2025-10-06", "--as-known-at", story["oct10"]) == [
        "INT-1", "DL-1", "DL-3"]


def test_disputes_listing(story: dict[str, str]) -> None:
    url = story["url"]
    listed = js("disputes", "--as-of", "2025-12-01", "--store", url)["disputes"]
    assert [(d["dispute_id"], d["status"], d["age_days"], d["adjustment"], d["outcome"])
            for d in listed] == [(DISPUTE, "resolved", 15, "-322.59", "upheld")]
    assert js("disputes", "--open", "--store", url)["disputes"] == []
    text = ledger_cli("disputes", "--as-of", "2025-12-01", "--store", url).stdout
    assert "disputes as of 2025-12-01" in text


@pytest.mark.parametrize(("fields", "message"), [
    ({"dispute_id": DISPUTE, "outcome": "upheld", "reason": "again"},
     f"dispute_id: dispute {DISPUTE} was already resolved on 2025-11-20 (upheld)"),
    ({"dispute_id": "REF-2025", "outcome": "upheld", "reason": "x"}, "dispute_id: "),
    ({"dispute_id": f"{CID}/D0009", "outcome": "upheld", "reason": "x"},
     f"dispute_id: unknown dispute '{CID}/D0009'"),
    ({"dispute_id": DISPUTE, "outcome": "rejected", "reason": "x", "adjustment": "5.00"},
     "adjustment: a rejected dispute carries no adjustment"),
    ({"dispute_id": DISPUTE, "outcome": "upheld", "reason": "x", "adjustment": "1.234"},
     "adjustment: "),
    ({"dispute_id": DISPUTE, "outcome": "maybe", "reason": "x"}, "outcome: "),
])
def test_bad_dispute_commands_are_refused(story: dict[str, str], tmp_path: Any,
                                          fields: dict[str, Any], message: str) -> None:
    path = tmp_path / "cmds.jsonl"
    path.write_bytes(orjson.dumps({"type": "resolve_dispute", "at": "2025-12-02", **fields}))
    result = ledger_cli("apply", str(path), "--store", story["url"])
    assert result.exit_code == 2
    assert f"line 1: {message}" in " ".join(result.stderr.split())


def test_open_dispute_validation(story: dict[str, str], tmp_path: Any) -> None:
    path = tmp_path / "cmds.jsonl"
    for fields, message in [({"month": "2026-01"}, "month: 2026-01 is after the dispute's date"),
                            ({"month": "2025-13"}, "month: "),
                            ({"month": "2025-10", "line_id": "X"}, "line_id: unknown line")]:
        path.write_bytes(orjson.dumps({"type": "open_dispute", "at": "2025-12-02",
                                       "contract_id": CID, "question": "why?", **fields}))
        result = ledger_cli("apply", str(path), "--store", story["url"])
        assert result.exit_code == 2 and message in " ".join(result.stderr.split())
