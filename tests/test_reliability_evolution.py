"""Schema evolution against a store written by the released code (tests/fixtures/v1_store.db,
made by tests/fixtures/make_v1_store.py BEFORE PaymentReceived became version 2), and
encryption at rest (R15) through the real CLI."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from psycopg import sql
from typer.testing import CliRunner

from ledger.cli import app as cli_app
from ledger.domain import views
from ledger.domain.commands import parse_command
from ledger.domain.events import OLDEST_BILL_FIRST, PaymentReceived
from ledger.store.config import store_env
from tests.test_reliability_support import activation, opened, raw_rows, sign

FIXTURES = Path(__file__).parent / "fixtures"
RUNNER = CliRunner()
PAYMENT_TOPIC = "ledger.domain.events:PaymentReceived"


@pytest.fixture
def v1_store(tmp_path: Path) -> str:
    db = tmp_path / "v1.db"
    shutil.copy(FIXTURES / "v1_store.db", db)
    return f"sqlite:///{db}"


def expected() -> dict[str, Any]:
    return orjson.loads((FIXTURES / "v1_expected.json").read_bytes())


def test_fixture_really_is_version_1() -> None:
    # Read-only: a missing fixture must fail here, not be created empty.
    with sqlite3.connect(f"file:{FIXTURES / 'v1_store.db'}?mode=ro", uri=True) as conn:
        states = [orjson.loads(r[0]) for r in conn.execute(
            "SELECT state FROM stored_events WHERE topic = ?", (PAYMENT_TOPIC,))]
        snapshots = conn.execute("SELECT count(*) FROM stored_snapshots").fetchone()[0]
    assert len(states) == 14 and snapshots == 1
    assert all("class_version" not in s and "allocation_rule" not in s for s in states)
    assert PaymentReceived.class_version == 2


def test_v1_store_loads_replays_and_projects_under_v2(v1_store: str) -> None:
    want = expected()
    with opened(v1_store) as app:
        assert sorted(app.contract_ids()) == sorted(want["contracts"])
        for cid, exp in want["contracts"].items():
            contract = app.load(cid)  # REF-2025: from its v1 snapshot (v100) + events
            replayed = app.contract_as_known_at(cid, contract.modified_on)  # events only
            assert contract.version == replayed.version == exp["version"]
            for c in (contract, replayed):
                state = c.state.model_dump(mode="json")
                assert {k: state[k] for k in exp["state"]} == exp["state"]
                assert views.status_view(c.state, c.state.clock) == exp["status"]
                for month, bill in exp["bills"].items():
                    assert views.bill_view(c.state, date.fromisoformat(month + "-01"),
                                           c.state.clock) == bill
            payments = [e for e in app.contract_events(cid) if isinstance(e, PaymentReceived)]
            assert [e.allocation_rule for e in payments] == [OLDEST_BILL_FIRST] * len(payments)
            assert [e.model_dump(mode="json", exclude={"allocation_rule"}) for e in payments
                    ] == exp["payments"]
        [snapshot] = list(app.snapshots.get(app.load("REF-2025").id))
        assert snapshot.originator_version == 100
        # New events are written as version 2 next to the v1 ones.
        app.execute(parse_command({"type": "record_payment", "at": "2026-10-20",
                                   "contract_id": "REF-2025", "amount": "9250.00",
                                   "reference": "after upgrade", "command_id": "v2-pay"}))
        assert app.load("REF-2025").state.payments[-1].reference == "after upgrade"
    states = [orjson.loads(r[4]) for r in raw_rows(v1_store) if r[3] == PAYMENT_TOPIC]
    assert [s.get("class_version") for s in states] == [None] * 14 + [2]
    assert states[-1]["allocation_rule"] == OLDEST_BILL_FIRST


def test_v1_store_verifies_and_reads_through_the_cli(v1_store: str) -> None:
    result = RUNNER.invoke(cli_app, ["status", "REF-2025", "--store", v1_store, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout) == expected()["contracts"]["REF-2025"]["status"]


def test_v1_hashes_still_check_against_stored_content(v1_store: str) -> None:
    """Upcasting changes what is read, never what is stored: the tamper-evidence hash of
    every v1 event (and of a new v2 one) still matches its stored content."""
    verify = pytest.importorskip("ledger.audit.verify")
    with opened(v1_store) as app:
        app.execute(parse_command({"type": "record_payment", "at": "2026-10-20",
                                   "contract_id": "REF-2025", "amount": "1.00",
                                   "reference": "v2", "command_id": "v2-pay"}))
        rows = app.recorder.select_notifications(1, 10**6)
        checked = 0
        for n in rows:
            state = orjson.loads(n.state)
            assert verify.stored_hash(n, state) == state["hash"], (n.topic, n.originator_version)
            checked += n.topic == PAYMENT_TOPIC
    assert checked == 15


# --- encryption at rest (R15) -------------------------------------------------------------

SECRET_CUSTOMER = "Confidential Customer Zhou Ltd."
SECRET_AMOUNT = "98765.43"


def _all_stored_bytes(store_url: str) -> bytes:
    env = store_env(store_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = Path(env["SQLITE_DBNAME"])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    schema = env["POSTGRES_SCHEMA"]
    out = []
    with psycopg.connect(store_url.partition("?")[0]) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))]
        for t in tables:
            rows = conn.execute(sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(t))).fetchall()
            out.append(repr(rows).encode())
    return b"".join(out)


def _commands_file(tmp_path: Path) -> Path:
    cmds = [sign("E1", customer=SECRET_CUSTOMER), *activation("E1"),
            {"type": "record_payment", "at": "2025-09-05", "contract_id": "E1",
             "amount": SECRET_AMOUNT, "reference": "wire", "command_id": "e-pay"}]
    path = tmp_path / "enc.jsonl"
    path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in cmds))
    return path


def test_encrypted_store_hides_customer_and_amounts(store_url: str, tmp_path: Path) -> None:
    key = AESCipher.create_key(32)
    env = {"LEDGER_CIPHER_KEY": key}
    path = _commands_file(tmp_path)
    result = RUNNER.invoke(cli_app, ["apply", str(path), "--store", store_url], env=env)
    assert result.exit_code == 0, result.output
    raw = _all_stored_bytes(store_url)
    assert len(raw) > 1000
    for secret in (SECRET_CUSTOMER, "Confidential", SECRET_AMOUNT, "98765"):
        assert secret.encode() not in raw
    # Everything still works with the key.
    result = RUNNER.invoke(cli_app, ["status", "E1", "--store", store_url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["balance"] == SECRET_AMOUNT
    with opened(store_url, env={"CIPHER_KEY": key}) as app:
        assert app.load("E1").state.customer == SECRET_CUSTOMER

    # Wrong key, missing key, malformed key: exit 2, one clear message, nothing written.
    before = raw_rows_with(store_url, key)
    more = tmp_path / "more.jsonl"
    more.write_bytes(orjson.dumps({"type": "record_payment", "at": "2025-09-06",
                                   "contract_id": "E1", "amount": "1.00",
                                   "reference": "x", "command_id": "e-2"}) + b"\n")
    for bad_env, says in [({"LEDGER_CIPHER_KEY": AESCipher.create_key(32)}, "wrong or missing "
                           "cipher key"),
                          ({}, "wrong or missing cipher key"),
                          ({"LEDGER_CIPHER_KEY": "not-a-key"}, "cannot open the event store")]:
        for args in (["apply", str(more)], ["status", "E1"], ["history", "E1"]):
            result = RUNNER.invoke(cli_app, [*args, "--store", store_url], env=bad_env)
            assert result.exit_code == 2, (args, bad_env, result.output)
            message = " ".join(result.stderr.split())
            assert message.startswith(f"error: {says}") or says in message, message
            assert "Traceback" not in result.output
            assert SECRET_CUSTOMER not in result.output
    assert raw_rows_with(store_url, key) == before


def raw_rows_with(store_url: str, key: str) -> list[Any]:
    with opened(store_url, env={"CIPHER_KEY": key}) as app:
        return [(n.id, n.originator_version, bytes(n.state))
                for n in app.recorder.select_notifications(1, 10**6)]
