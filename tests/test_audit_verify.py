"""`ledger verify`: raw-SQL tampering on both stores is caught, naming contract and version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

from ledger.application import LedgerApplication, receipt_uuid
from ledger.domain.contract import contract_uuid
from tests.audit_support import CID, advance, ledger_cli, reference_commands, run
from tests.conftest import PG_BASE_URL

LAST = 0  # placeholder for "the stream's last version"


class RawStore:
    """The stored rows of one contract, reached around the application (an attacker's
    view): SQLite `stored_events`, PostgreSQL `<schema>.ledger_events`. The append-only
    triggers are dropped/disabled first, as the owner of the file or database could."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.oid = contract_uuid(CID)
        if url.startswith("sqlite"):
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            for (name,) in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
                self.conn.execute(f"DROP TRIGGER {name}")
            self.table, self.key, self.mark = "stored_events", self.oid.hex, "?"
        else:
            self.conn = psycopg.connect(PG_BASE_URL, autocommit=True)
            schema = parse_qs(urlsplit(url).query)["schema"][0]
            self.table = f'"{schema}".ledger_events'
            self.conn.execute(sql.SQL("ALTER TABLE {}.ledger_events DISABLE TRIGGER USER")
                              .format(sql.Identifier(schema)))
            self.key, self.mark = self.oid, "%s"

    def q(self, text: str, *params: Any) -> list[Any]:
        cur = self.conn.execute(text.replace("?", self.mark).replace("{T}", self.table),
                                params)
        rows = cur.fetchall() if cur.description else []
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.commit()
        return rows

    def last_version(self) -> int:
        return int(self.q("SELECT max(originator_version) FROM {T} WHERE originator_id=?",
                          self.key)[0][0])

    def row(self, v: int) -> tuple[str, bytes]:
        topic, state = self.q("SELECT topic, state FROM {T} WHERE originator_id=? AND "
                              "originator_version=?", self.key, v)[0]
        return topic, bytes(state)

    def put(self, v: int, topic: str, state: bytes) -> None:
        self.q("UPDATE {T} SET topic=?, state=? WHERE originator_id=? AND originator_version=?",
               topic, state, self.key, v)

    def delete(self, v: int) -> None:
        self.q("DELETE FROM {T} WHERE originator_id=? AND originator_version=?", self.key, v)

    def close(self) -> None:
        self.conn.close()


def edit_one_byte(raw: RawStore, v: int) -> None:
    topic, state = raw.row(v)
    i = state.index(b'"actor":"') + len(b'"actor":"')  # "cli" -> "dli": still valid JSON
    raw.put(v, topic, state[:i] + bytes([state[i] + 1]) + state[i + 1:])


def break_json(raw: RawStore, v: int) -> None:
    topic, state = raw.row(v)
    raw.put(v, topic, b"[" + state[1:])


def swap(raw: RawStore, v: int) -> None:
    a, b = raw.row(v), raw.row(v + 1)
    raw.put(v, *b)
    raw.put(v + 1, *a)


CASES: list[tuple[str, Callable[[RawStore, int], None], int, str]] = [
    ("edit one byte", edit_one_byte, 5, "content does not match its hash"),
    ("undecodable", break_json, 5, "stored event cannot be decoded"),
    ("delete middle", RawStore.delete, 5, "version 5 is missing"),
    ("delete last", RawStore.delete, LAST, "the chain head records version"),
    ("reorder", swap, 5, "content does not match its hash"),
]


@pytest.fixture
def store(store_url: str) -> str:
    app = LedgerApplication(store_url)
    try:
        run(app, reference_commands())
        advance(app, "2025-11-02")
    finally:
        app.close()
    return store_url


def test_intact_store_verifies(store: str) -> None:
    result = ledger_cli("verify", "--store", store)
    assert result.exit_code == 0, result.output
    assert "OK:" in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize(("name", "tamper", "version", "reason"), CASES,
                         ids=[c[0] for c in CASES])
def test_tampering_is_caught(store: str, name: str, tamper: Callable[[RawStore, int], None],
                             version: int, reason: str) -> None:
    raw = RawStore(store)
    try:
        target = raw.last_version() if version == LAST else version
        tamper(raw, target)
    finally:
        raw.close()
    for args in (["verify"], ["verify", CID]):
        result = ledger_cli(*args, "--store", store)
        assert result.exit_code == 1, result.output
        assert f"BROKEN {CID} at version {target}: {reason}" in result.stdout
        assert "FAILED" in result.stdout


def test_verify_json_and_unknown_contract(store: str) -> None:
    result = ledger_cli("verify", "--store", store, "--json")
    assert result.exit_code == 0
    assert '"ok": true' in result.stdout
    unknown = ledger_cli("verify", "NOPE", "--store", store)
    assert unknown.exit_code == 2 and "unknown contract 'NOPE'" in unknown.stderr


def test_receipt_and_other_streams_are_checked(sqlite_url: str) -> None:
    app = LedgerApplication(sqlite_url)
    try:
        run(app, [{**c, "command_id": f"c{i}"} for i, c in enumerate(reference_commands())])
        receipts = app.recorder.max_notification_id()
    finally:
        app.close()
    result = ledger_cli("verify", "--store", sqlite_url, "--json")
    assert result.exit_code == 0
    assert receipts and '"streams": 9' in result.stdout  # the contract and 8 receipts
    receipt = receipt_uuid("c3")
    conn = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    conn.execute("DROP TRIGGER IF EXISTS stored_events_no_delete")
    conn.execute("DELETE FROM stored_events WHERE originator_id=?", (receipt.hex,))
    conn.commit()
    conn.close()
    result = ledger_cli("verify", "--store", sqlite_url)
    assert result.exit_code == 1
    assert (f"BROKEN {receipt} at version 1: the chain head records version 1 but the "
            "stream ends at version 0 (last events deleted)") in result.stdout


def test_projections_that_differ_from_a_replay_are_a_break(store: str) -> None:
    assert ledger_cli("projections", "catch-up", "--store", store).exit_code == 0
    result = ledger_cli("verify", "--store", store)
    assert result.exit_code == 0
    assert "projections agree with a replay of every contract" in result.stdout
    raw = RawStore(store)
    table = "proj_balance" if store.startswith("sqlite") else (
        f'"{parse_qs(urlsplit(store).query)["schema"][0]}".proj_balance')
    raw.q(f"UPDATE {table} SET balance = ? WHERE contract_id = ?", "0.00", CID)
    result = ledger_cli("verify", "--store", store)
    assert result.exit_code == 1
    assert ("BROKEN projections: REF-2025 balance balance: projection has '0.00', the "
            "aggregate says '-12508.61'") in result.stdout
