"""Store layer on real SQLite and PostgreSQL: pydantic events and state round-trip
with their types, upcasting of stored v1 events and snapshots, the cipher, and
store URL parsing."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from ledger.domain.base import LedgerAggregate, LedgerCreated, LedgerEvent
from ledger.domain.snapshot import LedgerSnapshot
from ledger.store.app_base import LedgerStoreApplication
from ledger.store.config import (
    DEFAULT_STORE_URL,
    StoreConfigError,
    resolve_store_url,
    store_env,
)
from ledger.store.serialization import OrjsonTranscoder, PydanticMapper

# --- a toy aggregate whose whole state is one pydantic model ----------------


class Line(BaseModel):
    model_config = ConfigDict(frozen=True)
    sku: str
    price: Decimal
    since: date


class ToyState(BaseModel):
    model_config = ConfigDict(frozen=True)
    customer: str
    amount: Decimal
    start: date
    lines: list[Line]
    note: str | None = None
    renamed_to: str | None = None


COMMON: dict[str, Any] = {
    "business_date": date(2025, 3, 31),
    "actor": "alice",
    "command_id": "cmd-1",
    "command_type": "Test",
}


class ToyOpened(LedgerCreated):
    customer: str
    amount: Decimal
    start: date
    lines: list[Line]
    note: str | None = None

    def apply(self, aggregate: Any) -> None:
        aggregate.state = ToyState(
            customer=self.customer,
            amount=self.amount,
            start=self.start,
            lines=self.lines,
            note=self.note,
        )


class LineAdded(LedgerEvent):
    line: Line

    def apply(self, aggregate: Any) -> None:
        s = aggregate.state
        aggregate.state = s.model_copy(
            update={"lines": [*s.lines, self.line], "amount": s.amount + self.line.price}
        )


class ToyRenamedV1(LedgerEvent):
    """How `ToyRenamed` looked when first released (stored without class_version)."""

    name: str


class ToyRenamed(LedgerEvent):
    """Version 2 renamed ``name`` to ``new_name`` and added ``reason``."""

    class_version: ClassVar[int] = 2
    new_name: str
    reason: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["new_name"] = state.pop("name")
        state["reason"] = "unknown (v1)"

    def apply(self, aggregate: Any) -> None:
        aggregate.state = aggregate.state.model_copy(update={"renamed_to": self.new_name})


class Toy(LedgerAggregate):
    state_model: ClassVar[type[BaseModel]] = ToyState
    Snapshot = LedgerSnapshot

    @classmethod
    def open(cls, customer: str = "ACME Telecom Plaintext", note: str | None = None) -> Toy:
        return cls._create(
            ToyOpened,
            id=uuid4(),
            customer=customer,
            amount=Decimal("10.10"),
            start=date(2025, 1, 31),
            lines=[Line(sku="E1-2M", price=Decimal("10.10"), since=date(2025, 2, 28))],
            note=note,
            **COMMON,
        )

    def add_line(self, sku: str, price: str) -> None:
        line = Line(sku=sku, price=Decimal(price), since=date(2025, 12, 31))
        self.trigger_event(LineAdded, line=line, **COMMON)


class ToyStateV2(BaseModel):
    """State of `Toy2`, whose v1 had `customer` where v2 has `customer_name`."""

    customer_name: str
    amount: Decimal
    lines: list[Line]


class Toy2(LedgerAggregate):
    class_version: ClassVar[int] = 2
    state_model: ClassVar[type[BaseModel]] = ToyStateV2
    Snapshot = LedgerSnapshot

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["customer_name"] = state.pop("customer")
        for key in ("start", "note", "renamed_to"):
            state.pop(key)


class ToyApp(LedgerStoreApplication):
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Toy: 2}


@pytest.fixture
def app(store_url: str) -> Iterator[ToyApp]:
    application = ToyApp(store_url)
    yield application
    application.close()


def assert_state_types(state: ToyState) -> None:
    assert type(state) is ToyState
    assert type(state.amount) is Decimal
    assert type(state.start) is date
    assert all(type(line) is Line for line in state.lines)
    assert all(type(line.price) is Decimal for line in state.lines)
    assert all(type(line.since) is date for line in state.lines)


def raw_states(store_url: str, purpose: str) -> list[bytes]:
    """The stored ``state`` bytes straight from the database (purpose: events|snapshots)."""
    env = store_env(store_url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        table = {"events": "stored_events", "snapshots": "stored_snapshots"}[purpose]
        with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
            return [bytes(r[0]) for r in conn.execute(f"SELECT state FROM {table}")]
    base_url = store_url.partition("?")[0]
    query = sql.SQL("SELECT state FROM {}.{}").format(
        sql.Identifier(env["POSTGRES_SCHEMA"]), sql.Identifier(f"ledger_{purpose}")
    )
    with psycopg.connect(base_url) as conn:
        return [bytes(r[0]) for r in conn.execute(query)]


# --- round trips on both stores ---------------------------------------------


def test_aggregate_and_events_round_trip(app: ToyApp) -> None:
    toy = Toy.open(note=None)
    toy.add_line("STM-1", "1234.50")
    pending = list(toy.pending_events)
    app.save(toy)

    reloaded = app.repository.get(toy.id)
    assert reloaded == toy
    assert reloaded.version == 2
    assert reloaded.state.note is None
    assert reloaded.state.amount == Decimal("1244.60")
    assert_state_types(reloaded.state)

    events = list(app.events.get(toy.id))
    assert events == pending
    assert [type(e) for e in events] == [ToyOpened, LineAdded]
    assert type(events[0].amount) is Decimal and type(events[0].business_date) is date
    assert type(events[0].originator_id) is UUID
    assert events[0].timestamp.tzinfo is not None


def test_version_conflict_is_integrity_error(app: ToyApp) -> None:
    toy = Toy.open()
    app.save(toy)
    a, b = app.repository.get(toy.id), app.repository.get(toy.id)
    a.add_line("X", "1")
    b.add_line("Y", "2")
    app.save(a)
    with pytest.raises(IntegrityError):
        app.save(b)


def test_v1_event_in_store_is_upcast_on_read(app: ToyApp) -> None:
    toy = Toy.open()
    app.save(toy)
    # Write a v1 event as the released code did: v1 state bytes (no class_version
    # key, so version 1) under the topic that now names the v2 class.
    v1 = ToyRenamedV1(
        originator_id=toy.id,
        originator_version=2,
        timestamp=datetime.now(UTC),
        name="ACME Renamed",
        **COMMON,
    )
    stored = app.mapper.to_stored_event(v1)
    stored = dataclasses.replace(stored, topic=get_topic(ToyRenamed))
    assert b"class_version" not in stored.state
    app.recorder.insert_events([stored])

    [event] = app.events.get(toy.id, gt=1)
    assert type(event) is ToyRenamed
    assert (event.new_name, event.reason) == ("ACME Renamed", "unknown (v1)")
    assert app.repository.get(toy.id).state.renamed_to == "ACME Renamed"

    # New v2 events carry their version and read back without upcasting.
    agg = app.repository.get(toy.id)
    agg.trigger_event(ToyRenamed, new_name="ACME 3", reason="merger", **COMMON)
    app.save(agg)
    assert b'"class_version":2' in raw_states(app.store_url, "events")[-1]
    [last] = list(app.events.get(toy.id, gt=2))
    assert (last.new_name, last.reason) == ("ACME 3", "merger")


def test_snapshot_round_trip_preserves_types(app: ToyApp) -> None:
    toy = Toy.open(note=None)
    toy.add_line("STM-4", "0.01")  # version 2: snapshotting_intervals takes one
    app.save(toy)

    [snapshot] = list(app.snapshots.get(toy.id))
    assert type(snapshot) is LedgerSnapshot
    assert snapshot.originator_version == 2
    assert snapshot.topic == get_topic(Toy)
    assert snapshot.created_on == toy.created_on
    assert snapshot.modified_on == toy.modified_on

    restored = snapshot.mutate(None)
    assert type(restored) is Toy
    assert restored == toy
    assert restored.state.note is None
    assert_state_types(restored.state)
    assert type(restored.created_on) is datetime


def test_repository_get_uses_snapshot(app: ToyApp) -> None:
    toy = Toy.open(note="from events")
    app.save(toy)
    # A snapshot whose state differs from what the events produce: if `get`
    # returns it, it came from the snapshot, not from replaying events.
    marked = app.repository.get(toy.id)
    marked.state = marked.state.model_copy(update={"note": "from snapshot"})
    app.snapshots.put([LedgerSnapshot.take(marked)])

    assert app.repository.get(toy.id).state.note == "from snapshot"
    # Events after the snapshot are applied on top of it.
    agg = app.repository.get(toy.id)
    agg.add_line("E3", "5.00")
    app.save(agg)
    latest = app.repository.get(toy.id)
    assert (latest.version, latest.state.note, len(latest.state.lines)) == (2, "from snapshot", 2)
    assert_state_types(latest.state)
    # Asking for version 1 explicitly also starts from the version-1 snapshot.
    assert app.repository.get(toy.id, version=1).state.note == "from snapshot"


def test_snapshot_of_older_aggregate_version_is_upcast(app: ToyApp) -> None:
    toy = Toy.open(customer="Old Name Ltd")
    app.save(toy)
    # A v1 snapshot whose topic now names the class_version-2 aggregate.
    v1 = LedgerSnapshot.take(toy)
    assert "class_version" not in v1.state
    app.snapshots.put([v1.model_copy(update={"topic": get_topic(Toy2)})])

    [snapshot] = list(app.snapshots.get(toy.id))
    upgraded = snapshot.mutate(None)
    assert type(upgraded) is Toy2
    assert upgraded.state == ToyStateV2(
        customer_name="Old Name Ltd", amount=Decimal("10.10"), lines=toy.state.lines
    )
    assert snapshot.state["customer"] == "Old Name Ltd"  # the snapshot itself is untouched
    # A snapshot of a v2 aggregate records its version and needs no upcast.
    again = Toy2.Snapshot.take(upgraded)
    assert again.state["class_version"] == 2
    assert again.mutate(None) == upgraded


def test_snapshot_refuses_state_outside_state_model() -> None:
    toy = Toy.open()
    toy.stray = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="outside 'state'"):
        LedgerSnapshot.take(toy)


def test_cipher_hides_plaintext_in_database(store_url: str) -> None:
    customer = "Plaintext Customer Zhang San"
    key = AESCipher.create_key(32)
    env = {"CIPHER_KEY": key, "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    with ToyApp(store_url, env=env) as app:
        assert type(app.mapper.cipher).__module__ == "eventsourcing.cryptography"
        toy = Toy.open(customer=customer)
        toy.add_line("E1", "2.00")
        app.save(toy)
        assert app.repository.get(toy.id) == toy
    raw = raw_states(store_url, "events") + raw_states(store_url, "snapshots")
    assert len(raw) == 3
    assert not any(customer.encode() in state for state in raw)
    # Same key, new process: still readable.
    with ToyApp(store_url, env={"CIPHER_KEY": key, **env}) as app2:
        assert app2.repository.get(toy.id).state.customer == customer


def test_without_cipher_state_is_plain_json(store_url: str) -> None:
    """Control for the cipher test: `raw_states` does see plaintext."""
    with ToyApp(store_url) as app:
        app.save(Toy.open(customer="Visible Customer"))
    [state] = raw_states(store_url, "events")
    assert b'"customer":"Visible Customer"' in state
    assert b'"amount":"10.10"' in state and b'"start":"2025-01-31"' in state


def test_postgres_tables_are_named_after_ledger(postgres_url: str) -> None:
    with ToyApp(postgres_url, env={"POSTGRES_ENABLE_DB_FUNCTIONS": "y"}) as app:
        assert app.name == "ledger"
        assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in app.env
        app.save(Toy.open())
    schema = store_env(postgres_url)["POSTGRES_SCHEMA"]
    with psycopg.connect(postgres_url.partition("?")[0]) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
    assert {"ledger_events", "ledger_snapshots"} <= tables


def test_postgres_schema_is_created_if_missing(postgres_url: str) -> None:
    schema = store_env(postgres_url)["POSTGRES_SCHEMA"] + "_new"
    base_url = postgres_url.partition("?")[0]
    try:
        with ToyApp(f"{base_url}?schema={schema}") as app:
            toy = Toy.open()
            app.save(toy)
            assert app.repository.get(toy.id) == toy
        assert raw_states(f"{base_url}?schema={schema}", "events")
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_close_twice(sqlite_url: str) -> None:
    app = ToyApp(sqlite_url)
    app.close()
    app.close()


# --- mapper without a database -----------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    amount=st.decimals(allow_nan=False, allow_infinity=False, places=2),
    start=st.dates(),
    customer=st.text(),
    note=st.none() | st.text(),
)
def test_mapper_round_trip_property(
    amount: Decimal, start: date, customer: str, note: str | None
) -> None:
    mapper: Mapper[UUID] = PydanticMapper(OrjsonTranscoder())
    event = ToyOpened(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=datetime.now(UTC),
        originator_topic=get_topic(Toy),
        customer=customer,
        amount=amount,
        start=start,
        lines=[Line(sku="x", price=amount, since=start)],
        note=note,
        **COMMON,
    )
    stored = mapper.to_stored_event(event)
    assert isinstance(stored, StoredEvent)
    back = mapper.to_domain_event(stored)
    assert back == event
    assert type(back.amount) is Decimal and str(back.amount) == str(amount)


# --- configuration -------------------------------------------------------------


def test_resolve_store_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_STORE", raising=False)
    assert resolve_store_url(None) == DEFAULT_STORE_URL == "sqlite:///./ledger.db"
    monkeypatch.setenv("LEDGER_STORE", "sqlite:///from-env.db")
    assert resolve_store_url(None) == "sqlite:///from-env.db"
    assert resolve_store_url("sqlite:///cli.db") == "sqlite:///cli.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./ledger.db", {"SQLITE_DBNAME": "./ledger.db"}),
        ("sqlite:////abs/x.db", {"SQLITE_DBNAME": "/abs/x.db"}),
        ("sqlite:///:memory:", {"SQLITE_DBNAME": ":memory:"}),
        (
            "postgresql://u:p%40ss@db.example:6543/ledgerdb?schema=s1&pool_size=2",
            {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_HOST": "db.example",
                "POSTGRES_PORT": "6543",
                "POSTGRES_DBNAME": "ledgerdb",
                "POSTGRES_USER": "u",
                "POSTGRES_PASSWORD": "p@ss",
                "POSTGRES_SCHEMA": "s1",
                "POSTGRES_POOL_SIZE": "2",
                "POSTGRES_MAX_OVERFLOW": "10",
            },
        ),
        ("postgres://root@127.0.0.1/test", {"POSTGRES_PORT": "5432", "POSTGRES_PASSWORD": ""}),
    ],
)
def test_store_env(url: str, expected: dict[str, str]) -> None:
    env = store_env(url)
    assert env.items() >= expected.items()
    assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in env


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://root@localhost/test", "unknown scheme 'mysql'"),
        ("ledger.db", "not a URL"),
        ("sqlite://host/x.db", "no host"),
        ("sqlite:///", "missing SQLite database path"),
        ("postgresql:///test", "missing host"),
        ("postgresql://h:notaport/test", "Port"),
        ("postgresql://h/", "database name"),
        ("postgresql://h/a/b", "database name"),
        ("postgresql://h/db?schema=bad-name", "plain SQL identifier"),
        ("postgresql://h/db?sslmode=require", "unknown query parameter 'sslmode'"),
        ("postgresql://h/db?pool_size=many", "pool_size"),
    ],
)
def test_store_env_errors(url: str, problem: str) -> None:
    with pytest.raises(StoreConfigError, match="accepted: ") as info:
        store_env(url)
    assert problem in str(info.value)
    assert repr(url) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_store_env_error_hides_password() -> None:
    with pytest.raises(StoreConfigError) as info:
        store_env("postgresql://u:s3cret@h/db?bogus=1")
    assert "s3cret" not in str(info.value)


def test_application_rejects_bad_url() -> None:
    with pytest.raises(StoreConfigError):
        LedgerStoreApplication("redis://localhost/0")
