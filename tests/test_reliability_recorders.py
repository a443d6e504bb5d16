"""The append-only triggers change no behaviour the library relies on: eventsourcing's own
recorder test suite passes on recorders whose events table carries them (both stores).
(The project's own recorders, the audit's chain-head recorders, are run through the same
suites in tests/test_audit_recorders.py; the application installs the triggers on them.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from ledger.store.append_only import install_append_only


class TestSQLiteRecorderWithTriggers(ApplicationRecorderTestCase[SQLiteApplicationRecorder]):
    @pytest.fixture(autouse=True)
    def _db(self, tmp_path: Path) -> None:
        self.db_path = str(tmp_path / "rec.db")

    def create_recorder(self) -> SQLiteApplicationRecorder:
        recorder = SQLiteApplicationRecorder(SQLiteDatastore(self.db_path))
        recorder.create_table()
        install_append_only(recorder)
        return recorder



class TestPostgresRecorderWithTriggers(ApplicationRecorderTestCase):  # type: ignore[type-arg]
    @pytest.fixture(autouse=True)
    def _db(self, postgres_url: str) -> None:
        self.pg_url = postgres_url
        self.datastores: list[Any] = []

    def teardown_method(self, method: object) -> None:
        for ds in self.datastores:
            ds.close()

    def create_recorder(self) -> Any:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        parts = urlsplit(self.pg_url)
        ds = PostgresDatastore(parts.path.lstrip("/"), parts.hostname or "127.0.0.1",
                               parts.port or 5432, parts.username or "postgres",
                               parts.password or "", schema=parse_qs(parts.query)["schema"][0],
                               pool_size=10, max_overflow=10)
        self.datastores.append(ds)
        recorder = PostgresApplicationRecorder(ds, events_table_name="ledger_events")
        recorder.create_table()
        install_append_only(recorder)
        return recorder

