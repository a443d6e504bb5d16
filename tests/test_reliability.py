"""Reliability promises, proved on real SQLite files and the real PostgreSQL:
append-only in the store itself, idempotent commands and clocks, concurrent writers
(real OS processes), crash safety under kill -9. Figures: docs/reliability.md."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.persistence import ProgrammingError
from psycopg import sql

from ledger.domain.commands import CommandError, parse_command
from ledger.store.append_only import REFUSAL, pg_role_statements
from ledger.store.config import store_env
from tests.test_reliability_support import (
    activation,
    event_contents,
    large_workload,
    ledger_summary,
    opened,
    raw_rows,
    sign,
    spawn_cli,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parent.parent


def apply_all(store_url: str, cmds: list[dict[str, Any]]) -> None:
    with opened(store_url) as app:
        for c in cmds:
            app.execute(parse_command(c))


def pg_conn(store_url: str, user: str | None = None) -> psycopg.Connection[Any]:
    base = store_url.partition("?")[0]
    if user:
        base = base.replace("postgres@", f"{user}@", 1)
    return psycopg.connect(base, autocommit=True)


def pg_table(store_url: str, table: str = "ledger_events") -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(store_env(store_url)["POSTGRES_SCHEMA"]),
                                   sql.Identifier(table))


# --- 1. append-only in the store ------------------------------------------------------


def test_sqlite_refuses_update_delete_and_replace_of_events(sqlite_url: str) -> None:
    apply_all(sqlite_url, [sign("A1"), *activation("A1")])
    before = raw_rows(sqlite_url)
    path = store_env(sqlite_url)["SQLITE_DBNAME"]
    attacks = [
        "UPDATE stored_events SET state = x'00' WHERE rowid = 1",
        "UPDATE stored_events SET topic = 'forged'",
        "DELETE FROM stored_events WHERE rowid = (SELECT max(rowid) FROM stored_events)",
        "DELETE FROM stored_events",
        "INSERT OR REPLACE INTO stored_events SELECT originator_id, originator_version, "
        "topic, x'00' FROM stored_events WHERE rowid = 1",
        "REPLACE INTO stored_events SELECT * FROM stored_events",
    ]
    with sqlite3.connect(path) as conn:
        for attack in attacks:
            with pytest.raises(sqlite3.IntegrityError, match=REFUSAL):
                conn.execute(attack)
        # Snapshots are a cache, not history: they stay writable.
        conn.execute("DELETE FROM stored_snapshots")
    assert raw_rows(sqlite_url) == before
    # ... and the application still appends (and a version conflict is still a conflict).
    apply_all(sqlite_url, [{"type": "record_payment", "at": "2025-09-02", "contract_id": "A1",
                            "amount": "10.00", "reference": "R1", "command_id": "p1"}])
    assert raw_rows(sqlite_url)[: len(before)] == before
    assert len(raw_rows(sqlite_url)) == len(before) + 2  # payment + receipt


def test_postgres_refuses_update_delete_truncate_of_events(postgres_url: str) -> None:
    apply_all(postgres_url, [sign("A1"), *activation("A1")])
    before = raw_rows(postgres_url)
    t = pg_table(postgres_url)
    attacks = [
        sql.SQL("UPDATE {} SET state = '\\x00'::bytea").format(t),
        sql.SQL("DELETE FROM {} WHERE originator_version = 1").format(t),
        sql.SQL("TRUNCATE {}").format(t),
        sql.SQL("INSERT INTO {t} (originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM {t} "
                "ON CONFLICT (originator_id, originator_version) DO UPDATE SET topic = 'x'"
                ).format(t=t),
    ]
    with pg_conn(postgres_url) as conn:  # a superuser: only the triggers stand in the way
        for attack in attacks:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=REFUSAL):
                conn.execute(attack)
        conn.execute(sql.SQL("DELETE FROM {}").format(pg_table(postgres_url,
                                                               "ledger_snapshots")))
    assert raw_rows(postgres_url) == before


def test_postgres_app_role_may_insert_and_select_only(postgres_url: str) -> None:
    apply_all(postgres_url, [sign("A1"), *activation("A1")])  # as owner: tables exist
    role = f"ledger_app_{uuid.uuid4().hex[:8]}"
    schema = store_env(postgres_url)["POSTGRES_SCHEMA"]
    t = pg_table(postgres_url)
    with pg_conn(postgres_url) as conn:
        for statement in pg_role_statements(schema, role):
            conn.execute(statement)
        for statement in pg_role_statements(schema, role):  # idempotent
            conn.execute(statement)
    app_url = postgres_url.replace("postgres@", f"{role}@", 1)
    try:
        before = raw_rows(postgres_url)
        with pg_conn(postgres_url, role) as conn:
            for attack in (sql.SQL("UPDATE {} SET topic = 'x'").format(t),
                           sql.SQL("DELETE FROM {}").format(t)):
                with pytest.raises(psycopg.errors.InsufficientPrivilege,
                                   match="permission denied for table ledger_events"):
                    conn.execute(attack)
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=REFUSAL):
                conn.execute(sql.SQL("TRUNCATE {}").format(t))
            for attack in (sql.SQL("DROP TRIGGER ledger_events_no_update_delete ON {}"),
                           sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL")):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="owner"):
                    conn.execute(attack.format(t))
        assert raw_rows(postgres_url) == before
        # The application itself works as that role (120+ events: a snapshot is taken).
        cmds = [{"type": "record_sms_usage", "at": "2025-09-02", "contract_id": "A1",
                 "messages": 1, "command_id": f"sms-{i}"} for i in range(120)]
        with opened(app_url, env={"CREATE_TABLE": "n"}) as app:
            v0 = app.load("A1").version
            for c in cmds:
                app.execute(parse_command(c))
            assert app.load("A1").version == v0 + 120
            assert list(app.snapshots.get(app.load("A1").id))
        assert raw_rows(postgres_url)[: len(before)] == before
        # Without CREATE_TABLE=n the app role cannot even start (it may not create).
        with pytest.raises(ProgrammingError, match="permission denied"):
            opened(app_url).__enter__()
    finally:
        with pg_conn(postgres_url) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_pg_roles_script_is_the_rendered_setup() -> None:
    script = (ROOT / "scripts" / "pg-roles.sql").read_text()
    statements = [line.rstrip(";") for line in script.splitlines()
                  if line and not line.startswith("--")]
    assert statements == pg_role_statements("ledger", "ledger_app")


def test_triggers_installed_once_by_concurrent_starts(postgres_url: str,
                                                       sqlite_url: str) -> None:
    """Several processes opening a new store at once all succeed (no DDL race)."""
    for url in (postgres_url, sqlite_url):
        procs = [spawn_cli("advance", "--to", "2025-09-01", "--store", url) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    with pg_conn(postgres_url) as conn:
        n = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass",
                         (pg_table(postgres_url).as_string(conn),)).fetchone()
    assert n == (2,)


# --- 2. idempotent commands and clocks ------------------------------------------------


def test_same_command_twice_records_once_other_payload_refused(store_url: str) -> None:
    pay = {"type": "record_payment", "at": "2025-09-02", "contract_id": "A1",
           "amount": "10.00", "reference": "R1", "command_id": "pay-1"}
    apply_all(store_url, [sign("A1"), *activation("A1"), pay])
    before = raw_rows(store_url)
    with opened(store_url) as app:
        # Same id, same payload: a duplicate, whatever the actor or key order.
        again = app.execute(parse_command({**dict(reversed(pay.items())), "actor": "bob"}))
        assert (again.duplicate, again.events) == (True, [])
        for changed in ({"amount": "10.01"}, {"reference": "R2"}, {"at": "2025-09-03"},
                        {"contract_id": "B1"}, {"type": "record_sms_usage", "messages": 1,
                                                "amount": None, "reference": None}):
            other = {k: v for k, v in {**pay, **changed}.items() if v is not None}
            with pytest.raises(CommandError, match="'pay-1' was already used for a "
                                                   "different record_payment command") as e:
                app.execute(parse_command(other))
            assert e.value.field == "command_id"
    assert raw_rows(store_url) == before


def test_same_file_from_two_processes_at_once_records_once(store_url: str,
                                                          tmp_path: Path) -> None:
    cmds = large_workload(3, 4)
    path = write_jsonl(tmp_path / "cmds.jsonl", cmds)
    # --batch 1: a transaction per command, so the two really interleave.
    procs = [spawn_cli("apply", str(path), "--store", store_url, "--json", "--batch", "1")
             for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(orjson.loads(out))
    assert sum(r["applied"] for r in results) == len(cmds)
    assert sum(r["duplicates"] for r in results) == len(cmds)
    serial = f"sqlite:///{tmp_path / 'serial.db'}"
    apply_all(serial, cmds)
    assert sorted(event_contents(store_url), key=repr) == sorted(event_contents(serial),
                                                                 key=repr)
    assert ledger_summary(store_url) == ledger_summary(serial)
    # Conflicts happened and were retried (or one process ran ahead: both are fine).
    FIGURES["idempotent_two_processes"] = {
        "commands": len(cmds), "conflicts_retried": sum(r["conflicts_retried"]
                                                        for r in results)}


CONFIRM_L1 = {"type": "confirm_activation", "at": "2025-09-01", "contract_id": "A1",
              "line_id": "L1", "command_id": "confirm-L1"}


def test_command_saved_by_another_process_after_receipt_check_is_a_duplicate(
        sqlite_url: str, monkeypatch: Any) -> None:
    """The race the two-process test found: A checks the receipt (none), B saves the same
    command, A loads the contract and the domain refuses ("already confirmed"). A must
    answer "duplicate", not refuse the file."""
    apply_all(sqlite_url, [sign("A1"), activation("A1")[0]])
    with opened(sqlite_url) as app, opened(sqlite_url) as rival:
        real_decide = app._decide

        def rival_first(cmd: Any, ctx: Any) -> Any:
            rival.execute(parse_command(CONFIRM_L1))
            return real_decide(cmd, ctx)

        monkeypatch.setattr(app, "_decide", rival_first)
        assert app.execute(parse_command(CONFIRM_L1)).duplicate


def test_batch_command_saved_by_another_process_after_receipt_check_is_a_duplicate(
        sqlite_url: str, monkeypatch: Any) -> None:
    from ledger.batch import BatchApplier

    apply_all(sqlite_url, [sign("A1"), activation("A1")[0]])
    with opened(sqlite_url) as app, opened(sqlite_url) as rival:
        applier = BatchApplier(app, 1)
        real_contract = applier._contract

        def rival_first(uid: Any, contract_id: str) -> Any:
            rival.execute(parse_command(CONFIRM_L1))
            return real_contract(uid, contract_id)

        monkeypatch.setattr(applier, "_contract", rival_first)
        assert applier.submit(parse_command(CONFIRM_L1)).duplicate


def test_clock_rules_fire_once_however_often_and_concurrently_advanced(
        store_url: str, tmp_path: Path) -> None:
    apply_all(store_url, [c for cid in ("A1", "A2") for c in (sign(cid), *activation(cid))])
    procs = [spawn_cli("advance", "--to", "2026-01-01", "--store", store_url, "--json")
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    with opened(store_url) as app:  # and again, serially: nothing more happens
        for day in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 1)):
            for cid in ("A1", "A2"):
                assert app.advance(day, cid).events == []
    serial = f"sqlite:///{tmp_path / 'serial.db'}"
    apply_all(serial, [c for cid in ("A1", "A2") for c in (sign(cid), *activation(cid))])
    with opened(serial) as app:
        for cid in ("A1", "A2"):
            app.advance(date(2026, 1, 1), cid)
    assert ledger_summary(store_url) == ledger_summary(serial)
    kinds = [k for k, _ in event_contents(store_url)]
    assert kinds.count("BillIssued") == 2 * 4  # Sep..Dec bills, once each per contract
    assert kinds == [k for k, _ in event_contents(serial)]


# --- 3. concurrent writers --------------------------------------------------------------


def concurrent_workload() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Setup, and commands on the same three contracts that may run in any order
    (one business date; SMS within quota): any interleaving must equal the serial run."""
    ids = ("K1", "K2", "K3")
    setup = [c for cid in ids for c in (sign(cid), *activation(cid))]
    rng = random.Random(5)
    work: list[dict[str, Any]] = []
    for i in range(18):
        cid = ids[i % 3]
        work.append({"type": "record_payment", "at": "2025-09-15", "contract_id": cid,
                     "amount": f"{rng.randint(1, 50000) / 100:.2f}", "reference": f"P{i}",
                     "command_id": f"pay-{i}"})
        work.append({"type": "record_sms_usage", "at": "2025-09-15", "contract_id": cid,
                     "messages": rng.randint(1, 40), "command_id": f"sms-{i}"})
    return setup, work


def test_concurrent_writers_equal_the_serial_run(store_url: str, tmp_path: Path) -> None:
    setup, work = concurrent_workload()
    apply_all(store_url, setup)
    shuffled = work[:]
    random.Random(11).shuffle(shuffled)
    files = [write_jsonl(tmp_path / "even.jsonl", work[0::2]),      # disjoint halves,
             write_jsonl(tmp_path / "odd.jsonl", work[1::2]),       # interleaved ...
             write_jsonl(tmp_path / "all.jsonl", shuffled)]         # ... and everything
    procs = [spawn_cli("apply", str(f), "--store", store_url, "--json", "--batch", b)
             for f, b in zip(files, ("1", "1", "3"), strict=True)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(orjson.loads(out))
    # Then two clocks at once: Sep and Oct bills issued once each.
    procs = [spawn_cli("advance", "--to", "2025-11-01", "--store", store_url, "--json")
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(orjson.loads(out))
    assert sum(r.get("applied", 0) for r in results) == len(work)

    serial = f"sqlite:///{tmp_path / 'serial.db'}"
    apply_all(serial, setup + work)
    with opened(serial) as app:
        for cid in ("K1", "K2", "K3"):
            app.advance(date(2025, 11, 1), cid)
    got, want = ledger_summary(store_url), ledger_summary(serial)
    assert got == want  # balances, bills, payments, versions: nothing lost or doubled
    kinds = sorted(k for k, _ in event_contents(store_url))
    assert kinds == sorted(k for k, _ in event_contents(serial))
    FIGURES.setdefault("concurrent", []).append({
        "store": store_env(store_url)["PERSISTENCE_MODULE"], "processes": 3 + 2,
        "commands": len(work) * 2, "conflicts_retried": sum(r["conflicts_retried"]
                                                            for r in results)})


def test_conflicts_are_retried_then_reported(sqlite_url: str, monkeypatch: Any) -> None:
    """Bounded: a contract that always changes under us gives up with a clear error."""
    from ledger import application as appmod

    apply_all(sqlite_url, [sign("A1"), *activation("A1")])
    with opened(sqlite_url) as app, opened(sqlite_url) as rival:
        real_decide = app._decide
        n = 0

        def decide_then_rival_writes(cmd: Any, ctx: Any) -> Any:
            nonlocal n
            contract = real_decide(cmd, ctx)
            n += 1
            rival.execute(parse_command({"type": "record_sms_usage", "at": "2025-09-02",
                                         "contract_id": "A1", "messages": 1,
                                         "command_id": f"rival-{n}"}))
            return contract

        monkeypatch.setattr(app, "_decide", decide_then_rival_writes)
        with pytest.raises(CommandError, match=f"gave up after {appmod.MAX_CONFLICT_RETRIES} "
                                               "concurrency conflicts on contract A1"):
            app.execute(parse_command({"type": "record_payment", "at": "2025-09-02",
                                       "contract_id": "A1", "amount": "1.00",
                                       "reference": "x", "command_id": "p"}))
        assert app.conflicts_retried == appmod.MAX_CONFLICT_RETRIES + 1
    kinds = [k for k, _ in event_contents(sqlite_url)]
    assert "PaymentReceived" not in kinds
    assert kinds.count("SmsUsageRecorded") == appmod.MAX_CONFLICT_RETRIES + 1


# --- 4. crash safety ----------------------------------------------------------------------


def _head(store_url: str) -> int:
    env = store_env(store_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        try:
            with sqlite3.connect(env["SQLITE_DBNAME"], timeout=5) as conn:
                return conn.execute("SELECT max(rowid) FROM stored_events").fetchone()[0] or 0
        except sqlite3.OperationalError:  # table not created yet
            return 0
    with pg_conn(store_url) as conn:
        try:
            return conn.execute(sql.SQL("SELECT max(notification_id) FROM {}").format(
                pg_table(store_url))).fetchone()[0] or 0
        except psycopg.errors.UndefinedTable:
            return 0


def _reference(cmds: list[dict[str, Any]], db: Path) -> list[dict[Any, Any]]:
    """For each command of a serial run, the events it recorded, keyed by
    (aggregate id, version): what any run of the same commands must store."""
    url = f"sqlite:///{db}"
    with opened(url) as app:
        ends = []
        for c in cmds:
            app.execute(parse_command(c))
            ends.append(app.recorder.max_notification_id())
    events = event_contents(url)
    per_command, start = [], 0
    for end in ends:
        per_command.append(_keyed(events[start:end]))
        start = end
    return per_command


def _keyed(events: list[tuple[str, dict[str, Any]]]) -> dict[Any, Any]:
    out = {(e["originator_id"], e["originator_version"]): (kind, e) for kind, e in events}
    assert len(out) == len(events)
    return out


CRASH_TRIALS = {"sqlite": 20, "postgres": 5}
#: Commands per transaction: 1 (one by one), small group commits, and the default.
BATCHES = ("1", "1", "5", "40", "500")


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_kill_9_leaves_a_prefix_of_whole_commands(store: str, tmp_path: Path,
                                                  request: pytest.FixtureRequest) -> None:
    from typer.testing import CliRunner

    from ledger.cli import app as cli_app

    cmds = large_workload(8, 8)
    path = write_jsonl(tmp_path / "big.jsonl", cmds)
    per_command = _reference(cmds, tmp_path / "ref.db")
    total = sum(len(x) for x in per_command)
    everything = {k: v for x in per_command for k, v in x.items()}
    rng = random.Random(int(os.environ.get("LEDGER_CRASH_SEED", "20250901")))
    prefixes: list[int] = []
    attempts = 0
    while len(prefixes) < CRASH_TRIALS[store] and attempts < 3 * CRASH_TRIALS[store]:
        attempts += 1
        if store == "sqlite":
            url = f"sqlite:///{tmp_path / f'crash{attempts}.db'}"
        else:
            url = _fresh_schema(request.getfixturevalue("postgres_url"), attempts)
        # Kill once this many events are stored, or (target 0) after a random delay,
        # which may land before the first commit or even while starting up.
        target = rng.choice([0, *range(1, total)]) if rng.random() < 0.8 else 0
        batch = rng.choice(BATCHES)
        proc = spawn_cli("apply", str(path), "--store", url, "--batch", batch)
        if target == 0:
            time.sleep(rng.uniform(0.3, 1.2))
        while proc.poll() is None and _head(url) < target:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored = _keyed(event_contents(url))
        # Exactly the events of the first k commands, never part of one: k is the
        # number of receipts, they are those of lines 1..k, and every event of
        # those commands (and no other) is there, with the serial run's content.
        done = [e["command_id"] for kind, e in stored.values() if kind == "CommandAccepted"]
        k = len(done)
        assert sorted(done) == sorted(c["command_id"] for c in cmds[:k])
        assert stored == {key: v for x in per_command[:k] for key, v in x.items()}
        # Re-running the whole file completes it without duplicates.
        again = CliRunner().invoke(cli_app, ["apply", str(path), "--store", url, "--json"])
        assert again.exit_code == 0, again.output
        summary = orjson.loads(again.stdout)
        assert (summary["duplicates"], summary["applied"]) == (k, len(cmds) - k)
        assert _keyed(event_contents(url)) == everything
        if proc.returncode == -signal.SIGKILL:  # not finished before the kill landed
            prefixes.append(k)
    assert len(prefixes) == CRASH_TRIALS[store]
    FIGURES.setdefault("crash", []).append({"store": store, "trials": len(prefixes),
                                            "commands_per_file": len(cmds),
                                            "events_per_file": total,
                                            "prefix_lengths": sorted(prefixes)})
    assert len(set(prefixes)) > len(prefixes) // 3  # kills landed at many moments


def _fresh_schema(postgres_url: str, trial: int) -> str:
    """Another empty schema next to the fixture's (dropped with it: same prefix)."""
    base, _, query = postgres_url.partition("?schema=")
    schema = f"{query}_c{trial}"
    with pg_conn(postgres_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    _CLEANUP.append((base, schema))
    return f"{base}?schema={schema}"


_CLEANUP: list[tuple[str, str]] = []
FIGURES: dict[str, Any] = {}


@pytest.fixture(autouse=True, scope="module")
def _drop_extra_schemas_and_print_figures() -> Any:
    yield
    for base, schema in _CLEANUP:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))
    if FIGURES:
        print("\nreliability figures:", orjson.dumps(FIGURES).decode())
