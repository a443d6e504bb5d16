"""Projections (issue 3): equal to the aggregates, to a rebuild, on both stores, exactly once."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ledger.application import LedgerApplication
from ledger.cli import app as ledger_cli
from ledger.domain.commands import CommandError, parse_command
from ledger.domain.summary import summarize
from projections import runner as runner_module
from projections.export import arrears_report, export, portfolio_report, resolve_table, rows
from projections.readmodels import MODELS, TABLES, aging_bucket
from projections.runner import Runner, Store, catch_up, drop_tables, rebuild, select_models, status
from tests.scenarios import scenario, worked_example_commands
from tests.test_projections_support import (
    assert_matches_aggregates,
    assert_rebuild_changes_nothing,
    copy_log,
    drop_sibling,
    load_contracts,
    sibling_store,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[1]


def test_aging_buckets() -> None:
    assert [aging_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"]


def test_worked_example_projected(store_url: str) -> None:
    app = LedgerApplication(store_url)
    try:
        for c in worked_example_commands(extra=[("record_payment", "2025-11-05",
                                                 {"amount": "3000.00", "reference": "P1"})]):
            app.execute(parse_command(c))
        app.advance(date(2026, 1, 15), "REF-2025-001")
        with Store(store_url) as store:
            assert catch_up(store, batch_size=7) == store.head()
            assert_matches_aggregates(app, store)
            c = snapshot(store)
            (contract,) = c["proj_contract"]
            # 3000.00 paid on the 4266.67 September bill: arrears from 2025-11-01, suspended
            # on the 1st of month 3 (R6)
            assert (contract["status"], contract["as_of"], contract["suspended_since"],
                    contract["suspension_reason"]) == ("suspended", "2026-01-15", "2026-01-01",
                                                       "arrears")
            lines = {r["line_id"]: (r["status"], r["billing_start"], r["start_decision"])
                     for r in c["proj_contract_line"]}
            assert lines == {"INT-1": ("suspended", "2025-09-01", "confirmed"),
                             "DL-1": ("suspended", "2025-09-12", "confirmed"),
                             "DL-2": ("suspended", "2025-10-05", "deemed"),
                             "DL-3": ("suspended", "2025-10-01", "deemed")}
            sep = [r for r in c["proj_charge_item"] if r["service_month"] == "2025-09"]
            dl1 = next(r for r in sep if r["line_id"] == "DL-1")
            assert (dl1["amount"], dl1["rule"], dl1["days"]) == ("1266.67", "R3", 19)
            (bal,) = c["proj_balance"]
            assert {k: bal[k] for k in ("balance", "overdue_bills", "overdue_amount",
                                        "oldest_unpaid_due_on", "arrears_since", "arrears_days",
                                        "aging_bucket")} == {
                "balance": "-26508.61", "overdue_bills": 3, "overdue_amount": "18008.61",
                "oldest_unpaid_due_on": "2025-10-31", "arrears_since": "2025-11-01",
                "arrears_days": 76, "aging_bucket": "61-90"}
            sept = next(r for r in c["proj_bill"] if r["period"] == "2025-09")
            assert (sept["total"], sept["paid"], sept["outstanding"]) == (
                "4266.67", "3000.00", "1266.67")
            audit = c["proj_audit"]
            assert [r["version"] for r in audit] == list(range(1, len(audit) + 1))
            assert audit[0]["event_type"] == "ContractSigned"
            assert audit[0]["summary"].startswith("signed with Party A Co., Ltd.: postpaid")
            assert all(r["event_type"] != "CommandAccepted" for r in audit)
            pm = {r["month"]: r for r in c["proj_portfolio_month"]}
            assert sorted(pm) == [f"2025-{m:02d}" for m in (9, 10, 11, 12)] + ["2026-01"]
            assert (pm["2025-12"]["lines_active"], pm["2025-12"]["mrr_circuit"],
                    pm["2025-12"]["mrr_internet"]) == (4, "4000.00", "3000.00")
            # DL-2 (deemed 10-05) and DL-3 (10-01) not billing on 09-30
            assert (pm["2025-09"]["lines_pending"], pm["2025-09"]["mrr_circuit"],
                    pm["2025-09"]["rent_charged"]) == (2, "2000.00", "4266.67")
            assert (pm["2026-01"]["lines_suspended"], pm["2026-01"]["mrr_circuit"]) == (
                4, "0.00")
            report = portfolio_report(store, "2025-12")
            assert (report["mrr_total"], report["contracts_by_status"]["active"]) == (
                "8500.00", 1)
            assert portfolio_report(store, "2026-01")["contracts_with_clock_before_month_end"] == 1
            arrears = arrears_report(store)
            assert arrears["buckets"]["61-90"] == {"contracts": 1, "overdue_amount": "18008.61"}
            assert [r["contract_id"] for r in arrears["contracts"]] == ["REF-2025-001"]
            assert all(s.lag == 0 for s in status(store))
    finally:
        app.close()


_PROPERTY = dict(deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
_SCENARIOS = dict(scenarios=st.lists(scenario(), min_size=1, max_size=2),
                  batch=st.integers(1, 50))


@settings(max_examples=30, **_PROPERTY)
@given(**_SCENARIOS)
def test_property_sqlite(sqlite_url: str, scenarios: list, batch: int) -> None:
    check_incremental_equals_rebuild_equals_aggregates(sqlite_url, scenarios, batch)


@settings(max_examples=8, **_PROPERTY)  # PG: fewer examples, each is slower
@given(**_SCENARIOS)
def test_property_postgres(postgres_url: str, scenarios: list, batch: int) -> None:
    check_incremental_equals_rebuild_equals_aggregates(postgres_url, scenarios, batch)


def check_incremental_equals_rebuild_equals_aggregates(base: str, scenarios: list,
                                                       batch: int) -> None:
    """Caught up after every command == a full rebuild == the aggregates' views."""
    url = sibling_store(base, f"p{uuid.uuid4().hex[:10]}")  # hypothesis seeds `random`
    app = LedgerApplication(url)
    store = Store(url)
    try:
        cmds, ends, seen = [], {}, set()
        for commands, end in scenarios:
            cid = commands[0]["contract_id"]
            if cid in seen:
                continue
            seen.add(cid)
            cmds.extend(commands)
            ends[cid] = end
        cmds.sort(key=lambda c: c["at"])  # contracts interleave in the log
        runner = Runner(store, select_models(None), batch_size=batch)
        for c in cmds:
            try:
                app.execute(parse_command(c))
            except CommandError:
                pass  # refused (e.g. after a cancellation): nothing written
            runner.catch_up()
            assert_matches_aggregates(app, store, [c["contract_id"]])
        for cid, end in ends.items():
            app.advance(end, cid)
            runner.catch_up()
        assert_matches_aggregates(app, store)
        incremental = snapshot(store)
        rebuild(store, batch_size=1000)
        assert snapshot(store) == incremental
    finally:
        store.close()
        app.close()
        drop_sibling(url)


def test_sqlite_and_postgres_export_identically(sqlite_url: str, postgres_url: str,
                                                tmp_path: Path) -> None:
    src = LedgerApplication(sqlite_url)
    dst = LedgerApplication(postgres_url)
    try:
        load_contracts(src, 6)
        copy_log(src, dst)
    finally:
        src.close()
        dst.close()
    exports: dict[str, dict[str, bytes]] = {}
    for kind, url in (("sqlite", sqlite_url), ("postgres", postgres_url)):
        with Store(url) as store:
            catch_up(store, batch_size=97 if kind == "sqlite" else 500)
            out = exports.setdefault(kind, {})
            for name, table in TABLES.items():
                for fmt in ("csv", "jsonl", "parquet"):
                    buf = io.BytesIO()
                    export(store, table, fmt, buf)
                    value = buf.getvalue()
                    if fmt == "parquet":  # compare contents, not writer metadata
                        value = repr(pq.read_table(io.BytesIO(value)).to_pylist()).encode()
                    out[f"{name}.{fmt}"] = value
    assert exports["sqlite"].keys() == exports["postgres"].keys()
    for key, value in exports["sqlite"].items():
        assert value == exports["postgres"][key], key
    assert exports["sqlite"]["proj_audit.csv"].count(b"\n") > 300


_WORKER = """
import sys
from projections.runner import Store, catch_up
store = Store(sys.argv[1])
print("ready", flush=True)
catch_up(store, batch_size=int(sys.argv[2]))
print("done", flush=True)
"""


def test_kill_9_during_catch_up_then_restart_equals_rebuild(store_url: str) -> None:
    """20 kills of a real catch-up process at random moments; each restart resumes from
    its tracking position, and the end state equals a clean rebuild."""
    app = LedgerApplication(store_url)
    try:
        load_contracts(app, 36)  # ~2,100 notifications
    finally:
        app.close()
    rng = random.Random(20250901)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    positions = []
    with Store(store_url) as store:
        head = store.head()
        assert head > 2000
        for _ in range(20):
            if all(s.lag == 0 for s in status(store)):
                drop_tables(store, MODELS.values())  # start over so the next kill has work
            proc = subprocess.Popen([sys.executable, "-c", _WORKER, store_url, "13"], env=env,
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            positions.append([s.position for s in status(store)])
        assert any(0 < (p or 0) < head for ps in positions for p in ps), positions
        proc = subprocess.run([sys.executable, "-c", _WORKER, store_url, "13"], env=env,
                              capture_output=True, text=True, check=True)
        assert proc.stdout.split() == ["ready", "done"]
        resumed = snapshot(store)
        rebuild(store)
        assert snapshot(store) == resumed


def test_two_workers_never_apply_a_batch_twice(store_url: str) -> None:
    app = LedgerApplication(store_url)
    try:
        load_contracts(app, 2)
        with Store(store_url) as store:
            a = Runner(store, select_models(None), batch_size=40)
            b = Runner(store, select_models(None), batch_size=40)
            a.catch_up(stop=200)
            b.catch_up()              # b moves every position on to the head
            a.catch_up()              # a's batch from 201 finds the position moved: re-reads
            assert all(s.lag == 0 for s in status(store))
            assert_matches_aggregates(app, store)
            assert_rebuild_changes_nothing(store)
    finally:
        app.close()


def test_follow_applies_new_events(store_url: str) -> None:
    app = LedgerApplication(store_url)
    store = Store(store_url)
    stop = threading.Event()
    runner = Runner(store, select_models(["contracts", "audit"]), batch_size=100)
    worker = threading.Thread(target=runner.follow, kwargs={
        "interval": 0.05, "should_stop": stop.is_set})
    worker.start()
    try:
        for c in worked_example_commands():
            app.execute(parse_command(c))
        app.advance(date(2025, 12, 1), "REF-2025-001")
        head = store.head()
        deadline = time.monotonic() + 30  # a bound on waiting, not a speed assertion
        while time.monotonic() < deadline and runner.positions()["audit"] < head:
            time.sleep(0.05)
        assert runner.positions() == {"contracts": head, "audit": head}
        (row,) = rows(store, TABLES["proj_contract"])
        assert (row["as_of"], row["status"]) == ("2025-12-01", "active")
    finally:
        stop.set()
        worker.join()
        store.close()
        app.close()


def test_rebuild_never_shows_readers_an_empty_table(postgres_url: str) -> None:
    app = LedgerApplication(postgres_url)
    try:
        load_contracts(app, 3)
    finally:
        app.close()
    with Store(postgres_url) as store:
        catch_up(store)
        counts: list[int] = []
        stop = threading.Event()

        def read() -> None:
            with Store(postgres_url) as reader:
                while not stop.is_set():
                    counts.append(reader.query(
                        f"SELECT COUNT(*) AS n FROM {reader.qualify('proj_charge_item')}")[0]["n"])

        t = threading.Thread(target=read)
        t.start()
        try:
            before = snapshot(store)
            for _ in range(2):
                rebuild(store, batch_size=50)
        finally:
            stop.set()
            t.join()
        assert counts and min(counts) == len(before["proj_charge_item"])
        assert snapshot(store) == before


def test_summaries_name_what_happened() -> None:
    from ledger.domain.events import ClockAdvanced

    e = ClockAdvanced(originator_id="77781fb3-1aec-5cc5-84ff-f5530bab4fbe", originator_version=9,
                      timestamp="2026-01-01T00:00:00Z", business_date="2026-01-01",
                      actor="system:clock", command_id="x", command_type="advance_clock")
    assert summarize(e) == "clock advanced to 2026-01-01"


def test_cli(sqlite_url: str, tmp_path: Path) -> None:
    app = LedgerApplication(sqlite_url)
    try:
        load_contracts(app, 2)
    finally:
        app.close()
    run = CliRunner().invoke
    r = run(ledger_cli, ["report", "arrears", "--store", sqlite_url])
    assert r.exit_code == 2 and "catch-up" in r.output
    r = run(ledger_cli, ["projections", "catch-up", "--store", sqlite_url])
    assert r.exit_code == 0, r.output
    r = run(ledger_cli, ["projections", "status", "--json", "--store", sqlite_url])
    assert r.exit_code == 0 and '"lag": 0' in r.output
    r = run(ledger_cli, ["projections", "rebuild", "charges", "--store", sqlite_url])
    assert r.exit_code == 0 and "rebuilt charges" in r.output
    r = run(ledger_cli, ["report", "portfolio", "--month", "2026-02", "--json",
                         "--store", sqlite_url])
    assert r.exit_code == 0 and '"contracts": 2' in r.output
    r = run(ledger_cli, ["report", "portfolio", "--month", "2026-13", "--store", sqlite_url])
    assert r.exit_code == 2 and "--month" in r.output
    out = tmp_path / "bill.parquet"
    r = run(ledger_cli, ["export", "bill", "--format", "parquet", "-o", str(out),
                         "--store", sqlite_url])
    assert r.exit_code == 0 and pq.read_table(out).num_rows > 10
    r = run(ledger_cli, ["export", "nope", "--store", sqlite_url])
    assert r.exit_code == 2 and "TABLE" in r.output
    r = run(ledger_cli, ["export", "bill", "--format", "xml", "--store", sqlite_url])
    assert r.exit_code == 2 and "--format" in r.output
    r = run(ledger_cli, ["projections", "catch-up", "nope", "--store", sqlite_url])
    assert r.exit_code == 2 and "NAME" in r.output
    assert resolve_table("audit").name == "proj_audit"


def test_parallel_rebuild_and_evicted_contracts_give_the_same_rows(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild shared out among worker processes, and runs that keep only 2 contracts
    in memory (the others folded again from the store), write the same rows."""
    app = LedgerApplication(store_url)
    try:
        load_contracts(app, 3)
        interleaved = sorted((c for i in range(4) for c in worked_example_commands(
            contract_id=f"I{i}", dl2_confirmed_on=date(2025, 10, 10) if i % 2 else None)),
            key=lambda c: c["at"])
        for c in interleaved:
            app.execute(parse_command(c))
        with Store(store_url) as store:
            catch_up(store, batch_size=300)
            assert_matches_aggregates(app, store)
            want = snapshot(store)
            rebuild(store, workers=3)
            assert snapshot(store) == want
            monkeypatch.setattr(runner_module, "MAX_CACHED_CONTRACTS", 2)
            rebuild(store, workers=1, batch_size=250)
            assert snapshot(store) == want
            drop_tables(store, MODELS.values())
            runner = Runner(store, select_models(None), batch_size=120)
            runner.catch_up()
            assert runner.cache.replays > 0
            assert snapshot(store) == want
    finally:
        app.close()


def test_encrypted_and_compressed_store_projects(sqlite_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The projections read the stored bytes through the store's cipher and compressor."""
    from eventsourcing.cipher import AESCipher

    monkeypatch.setenv("CIPHER_KEY", AESCipher.create_key(32))
    monkeypatch.setenv("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
    app = LedgerApplication(sqlite_url)
    try:
        load_contracts(app, 2)
        with Store(sqlite_url) as store:
            assert store.mapper.cipher is not None and store.mapper.compressor is not None
            catch_up(store, batch_size=64)
            assert_matches_aggregates(app, store)
            assert_rebuild_changes_nothing(store)
    finally:
        app.close()


def test_summaries_of_stored_fields_match_the_events(sqlite_url: str) -> None:
    """The audit trail summarises stored JSON; `ledger history` summarises events."""
    from ledger.domain.summary import summarize_fields

    app = LedgerApplication(sqlite_url)
    try:
        load_contracts(app, 1)
        events = app.contract_events("K0000")
        assert len({type(e).__name__ for e in events}) > 8
        for e in events:
            assert summarize_fields(type(e).__name__, e.model_dump(mode="json")) == summarize(e)
    finally:
        app.close()
