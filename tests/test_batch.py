"""Group commit (`ledger.batch.BatchApplier`, `ledger apply --batch N`): the same ledger
as one transaction per command, each command all-or-nothing, receipts and conflicts."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger.application import LedgerApplication
from ledger.batch import BatchApplier
from ledger.domain.commands import CommandError, parse_command
from tests.cli_helpers import RUNNER
from tests.test_reliability_support import event_contents, ledger_summary, opened

_spec = importlib.util.spec_from_file_location(
    "generate_portfolio", Path(__file__).parents[1] / "scripts" / "generate_portfolio.py")
assert _spec and _spec.loader
gp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = gp
_spec.loader.exec_module(gp)


def portfolio(n: int) -> list[dict[str, Any]]:
    contracts, _ = gp.generate(0, seed=6, contracts=n)
    rows = sorted(((c["at"], i, k, c) for i, g in enumerate(contracts)
                   for k, c in enumerate(g.commands)), key=lambda r: r[:3])
    return [r[3] for r in rows]


def serial(url: str, cmds: list[dict[str, Any]]) -> None:
    with opened(url) as app:
        for c in cmds:
            app.execute(parse_command(c))


def batched(url: str, cmds: list[dict[str, Any]], size: int) -> BatchApplier:
    with opened(url) as app:
        b = BatchApplier(app, size)
        for c in cmds:
            b.submit(parse_command(c))
        b.flush()
        return b


def contents(url: str) -> list[Any]:
    return sorted(event_contents(url), key=repr)


def test_batches_record_what_one_command_per_transaction_records(store_url: str,
                                                                 tmp_path: Path) -> None:
    cmds = portfolio(6)
    b = batched(store_url, cmds, 37)
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    serial(one, cmds)
    assert b.saved.applied == len(cmds) and b.saved.duplicates == 0
    assert b.transactions == -(-len(cmds) // 37)
    assert contents(store_url) == contents(one)
    assert ledger_summary(store_url) == ledger_summary(one)
    again = batched(store_url, cmds, 50)  # every command id is known: all duplicates
    assert (again.saved.applied, again.saved.duplicates, again.saved.events) == (0, len(cmds), 0)


def _sign(cid: str, at: str = "2025-09-01") -> dict[str, Any]:
    return {"command_id": f"{cid}-sign", "type": "sign_contract", "at": at, "contract_id": cid,
            "customer": "X", "term_start": at, "term_end": "2026-08-31",
            "billing_mode": "postpaid",
            "lines": [{"line_id": "DL-1", "kind": "circuit", "monthly_fee": "2000.00"}]}


def _cmd(cid: str, n: int, kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"command_id": f"{cid}-{n}", "type": kind, "at": at, "contract_id": cid, **fields}


def test_a_refused_command_records_nothing_and_the_batch_goes_on(sqlite_url: str,
                                                                  tmp_path: Path) -> None:
    good = [_sign("A"), _cmd("A", 1, "submit_test_report", "2025-09-10", line_id="DL-1"),
            _cmd("A", 2, "confirm_activation", "2025-09-12", line_id="DL-1")]
    # dated 2025-12-02, it moves A's clock (bills of Sep-Nov) and is then refused
    bad = _cmd("A", 3, "confirm_activation", "2025-12-02", line_id="DL-1")
    after = [_cmd("A", 4, "record_payment", "2025-12-05", amount="1266.67", reference="P1")]
    with opened(sqlite_url) as app:
        b = BatchApplier(app, 100)
        for c in good:
            b.submit(parse_command(c))
        with pytest.raises(CommandError, match="already confirmed"):
            b.submit(parse_command(bad))
        for c in after:
            b.submit(parse_command(c))
        b.flush()
        assert b.transactions == 1
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    serial(one, good + after)
    assert contents(sqlite_url) == contents(one)
    assert ledger_summary(sqlite_url) == ledger_summary(one)


def test_cli_saves_the_commands_before_a_bad_line_and_none_of_it(sqlite_url: str,
                                                                   tmp_path: Path) -> None:
    cmds = [_sign("B"), _cmd("B", 1, "submit_test_report", "2025-09-10", line_id="DL-1"),
            _cmd("B", 2, "submit_test_report", "2025-12-02", line_id="NOPE"),
            _cmd("B", 3, "submit_test_report", "2025-12-03", line_id="DL-1")]
    path = tmp_path / "cmds.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cmds))
    r = RUNNER.invoke(__import__("ledger.cli").cli.app,
                      ["apply", str(path), "--store", sqlite_url, "--batch", "10"])
    assert r.exit_code == 2
    assert "line 3: line_id: unknown line 'NOPE'" in r.stderr
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    serial(one, cmds[:2])
    assert contents(sqlite_url) == contents(one)


def test_same_id_in_one_batch_is_a_duplicate_or_refused(sqlite_url: str) -> None:
    sign = _sign("C")
    other = {**_sign("D"), "command_id": "C-sign"}
    with opened(sqlite_url) as app:
        b = BatchApplier(app, 100)
        b.submit(parse_command(sign))
        assert b.submit(parse_command(sign)).duplicate
        with pytest.raises(CommandError, match="command_id: 'C-sign' was already used"):
            b.submit(parse_command(other))
        b.flush()
        assert (b.saved.applied, b.saved.duplicates) == (1, 1)
        # A reused id found in the store: refused when the batch is saved (the receipt
        # id is unique), naming the command by its label; nothing of it is written.
        later = BatchApplier(app, 10)
        later.submit(parse_command(_sign("F")), label="line 1")
        later.submit(parse_command(other), label="line 2")
        with pytest.raises(CommandError, match=r"^line 2: command_id: 'C-sign' was already "
                                               r"used for a different sign_contract command"):
            later.flush()
        assert (later.saved.applied, later.saved.duplicates) == (1, 0)
        with pytest.raises(CommandError, match="unknown contract 'D'"):
            app.load("D")


def test_a_cached_contract_written_by_another_process_is_decided_again(
        sqlite_url: str, tmp_path: Path) -> None:
    first = [_sign("E"), _cmd("E", 1, "submit_test_report", "2025-09-10", line_id="DL-1")]
    other = _cmd("E", 2, "confirm_activation", "2025-09-11", line_id="DL-1")
    mine = [_cmd("E", 3, "record_payment", "2025-10-05", amount="10.00", reference="P"),
            _cmd("E", 4, "confirm_activation", "2025-10-06", line_id="DL-1")]
    with opened(sqlite_url) as app, opened(sqlite_url) as app2:
        b = BatchApplier(app, 100)
        for c in first:
            b.submit(parse_command(c))
        b.flush()  # E is now cached in b
        app2.execute(parse_command(other))  # ... and stale
        b.submit(parse_command(mine[0]))
        b.submit(parse_command(mine[1]))  # the stale copy accepts this confirmation ...
        with pytest.raises(CommandError, match=r"^command E-4: line_id: .*already confirmed"):
            b.flush()  # ... the save collides, the batch is decided again on fresh state
        assert app.conflicts_retried >= 1
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    serial(one, [*first, other, mine[0]])
    assert contents(sqlite_url) == contents(one)


def test_batch_size_is_bounded(sqlite_url: str) -> None:
    app = LedgerApplication(sqlite_url)
    try:
        with pytest.raises(CommandError, match="batch: must be between 1 and 100000"):
            BatchApplier(app, 0)
    finally:
        app.close()


def test_a_refusal_by_a_stale_cached_copy_is_checked_against_the_store(
        sqlite_url: str, tmp_path: Path) -> None:
    first = [_sign("F")]
    other = _cmd("F", 1, "submit_test_report", "2025-09-10", line_id="DL-1")
    mine = _cmd("F", 2, "confirm_activation", "2025-09-11", line_id="DL-1")
    with opened(sqlite_url) as app, opened(sqlite_url) as app2:
        b = BatchApplier(app, 100)
        b.submit(parse_command(first[0]))
        b.flush()
        app2.execute(parse_command(other))
        # the cached copy has no test report and would refuse; the store's state accepts
        assert [type(e).__name__ for e in b.submit(parse_command(mine)).events] == [
            "ActivationConfirmed", "LineActivated"]
        b.flush()
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    serial(one, [*first, other, mine])
    assert contents(sqlite_url) == contents(one)


def test_month_end_in_batches_records_what_one_contract_per_transaction_records(
        store_url: str, tmp_path: Path) -> None:
    cmds = portfolio(6)
    one = f"sqlite:///{tmp_path / 'serial.db'}"
    batched(store_url, cmds, 100)
    batched(one, cmds, 100)
    r = RUNNER.invoke(__import__("ledger.cli").cli.app,
                      ["advance", "--to", "2026-12-31", "--store", store_url, "--json"])
    assert r.exit_code == 0, r.output
    moved = json.loads(r.stdout)["contracts"]
    with opened(one) as app:
        ids = app.contract_ids()
        serial_events = {cid: [type(e).__name__
                               for e in app.advance(date(2026, 12, 31), cid).events]
                         for cid in ids}
    assert {m["contract_id"]: m["events"] for m in moved} == serial_events
    assert sum(len(v) for v in serial_events.values()) > len(ids)  # bills, renewals, ...

    def clock_moves_unnamed(url: str) -> list[Any]:  # each clock move has a random id
        return [(k, {**e, "command_id": "advance"} if e["command_id"].startswith("advance-")
                 else e) for k, e in contents(url)]

    assert clock_moves_unnamed(store_url) == clock_moves_unnamed(one)
    again = RUNNER.invoke(__import__("ledger.cli").cli.app,
                          ["advance", "--to", "2026-12-31", "--store", store_url, "--json"])
    assert all(m["events"] == [] for m in json.loads(again.stdout)["contracts"])
    assert clock_moves_unnamed(store_url) == clock_moves_unnamed(one)
