"""The chain-head recorders pass eventsourcing's own recorder test suites, on both stores,
and keep one head per stream in the events' transaction."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from ledger.store.chain_heads import SQLiteChainHeadRecorder, state_digest


class TestSQLiteChainHeadRecorder(ApplicationRecorderTestCase[SQLiteChainHeadRecorder]):
    @pytest.fixture(autouse=True)
    def _db(self, tmp_path: Path) -> None:
        self.db_path = str(tmp_path / "rec.db")

    def create_recorder(self) -> SQLiteChainHeadRecorder:
        recorder = SQLiteChainHeadRecorder(SQLiteDatastore(self.db_path))
        recorder.create_table()
        return recorder



def _pg_datastore(url: str) -> object:
    from eventsourcing.postgres import PostgresDatastore

    parts = urlsplit(url)
    return PostgresDatastore(
        parts.path.lstrip("/"), parts.hostname or "127.0.0.1", parts.port or 5432,
        parts.username or "postgres", parts.password or "",
        schema=parse_qs(parts.query)["schema"][0], pool_size=10, max_overflow=10)


class TestPostgresChainHeadRecorder(ApplicationRecorderTestCase):  # type: ignore[type-arg]
    @pytest.fixture(autouse=True)
    def _db(self, postgres_url: str) -> None:
        self.pg_url = postgres_url
        self.datastores: list[object] = []

    def tearDown(self) -> None:
        for ds in self.datastores:
            ds.close()  # type: ignore[attr-defined]
        super().tearDown()

    def create_recorder(self) -> object:
        from ledger.store.pg_chain_heads import PostgresChainHeadRecorder

        ds = _pg_datastore(self.pg_url)
        self.datastores.append(ds)
        recorder = PostgresChainHeadRecorder(ds, events_table_name="ledger_events")
        recorder.create_table()
        return recorder



def _heads_after_inserts(recorder: object) -> None:
    a, b = uuid4(), uuid4()
    recorder.insert_events([StoredEvent(a, 1, "t", b"a1"), StoredEvent(b, 1, "t", b"b1"),  # type: ignore[attr-defined]
                            StoredEvent(a, 2, "t", b"a2")])
    recorder.insert_events([StoredEvent(b, 2, "t", b"b2")])  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError):  # a conflict writes neither event nor head
        recorder.insert_events([StoredEvent(a, 3, "t", b"a3"), StoredEvent(b, 2, "t", b"x")])  # type: ignore[attr-defined]
    heads = {h.originator_id: (h.version, h.state_sha256)
             for h in recorder.select_chain_heads()}  # type: ignore[attr-defined]
    assert heads == {a: (2, state_digest(b"a2")), b: (2, state_digest(b"b2"))}


def test_sqlite_heads_follow_the_last_event(tmp_path: Path) -> None:
    recorder = SQLiteChainHeadRecorder(SQLiteDatastore(str(tmp_path / "h.db")))
    recorder.create_table()
    _heads_after_inserts(recorder)


def test_postgres_heads_follow_the_last_event(postgres_url: str) -> None:
    from ledger.store.pg_chain_heads import PostgresChainHeadRecorder

    ds = _pg_datastore(postgres_url)
    try:
        recorder = PostgresChainHeadRecorder(ds, events_table_name="ledger_events")
        recorder.create_table()
        _heads_after_inserts(recorder)
    finally:
        ds.close()  # type: ignore[attr-defined]
