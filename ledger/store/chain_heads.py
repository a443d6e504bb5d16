"""Chain heads: the last version of every stream, written in the events' transaction.

A hash chain (`LedgerEvent.content_hash`) shows an edited, reordered or removed event
*inside* a stream, but not a removed *last* event: the shortened stream is still a
valid chain. So the application recorder also keeps, per aggregate, the version of its
last event and a SHA-256 of that event's stored bytes, in a table updated in the SAME
transaction as the event rows (SQLite: `chain_heads`; PostgreSQL:
`<app>_chain_heads`, i.e. `ledger_chain_heads`). `ledger verify` compares each stream's
last row with its head. The digest is over the stored bytes, so it works with an
encrypted or compressed store without the recorder ever seeing plain content.

The recorders subclass the library's and only add statements; they pass the library's
own recorder test suites (tests/test_audit_recorders.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

SQLITE_HEADS_TABLE = "chain_heads"


@dataclass(frozen=True)
class ChainHead:
    originator_id: UUID | str
    version: int
    state_sha256: str


def state_digest(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()


def batch_heads(stored_events: Sequence[StoredEvent]) -> list[tuple[Any, int, str]]:
    """The last event per originator in a batch (a batch may hold several streams)."""
    last: dict[Any, StoredEvent] = {}
    for s in stored_events:
        before = last.get(s.originator_id)
        if before is None or s.originator_version > before.originator_version:
            last[s.originator_id] = s
    return [(oid, s.originator_version, state_digest(s.state)) for oid, s in last.items()]


class SQLiteChainHeadRecorder(SQLiteApplicationRecorder):
    """`SQLiteApplicationRecorder` that also upserts `chain_heads` in each insert."""

    def construct_create_table_statements(self) -> list[str]:
        heads = (f"CREATE TABLE IF NOT EXISTS {SQLITE_HEADS_TABLE} ("
                 "originator_id TEXT PRIMARY KEY, originator_version INTEGER NOT NULL, "
                 "state_sha256 TEXT NOT NULL)")
        return [*super().construct_create_table_statements(), heads]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = self._insert_rows(c, stored_events)
        for oid, version, digest in batch_heads(stored_events):
            c.execute(
                f"INSERT INTO {SQLITE_HEADS_TABLE} VALUES (?,?,?) ON CONFLICT(originator_id) "
                "DO UPDATE SET originator_version=excluded.originator_version, "
                "state_sha256=excluded.state_sha256 "
                f"WHERE excluded.originator_version > {SQLITE_HEADS_TABLE}.originator_version",
                (oid.hex if isinstance(oid, UUID) else oid, version, digest))
        return ids

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]
                     ) -> list[int]:
        """The library inserts one `execute` per row; one `executemany` does the same
        inside the same write transaction. The notification ids are the rowids SQLite
        gave: consecutive (the writer holds the database's write lock, and rowids of
        a table without AUTOINCREMENT grow from the largest), ending at
        `last_insert_rowid()`."""
        if not stored_events:
            return []
        c.executemany(self.insert_events_statement, [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state) for s in stored_events])
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))

    def select_chain_heads(self) -> list[ChainHead]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {SQLITE_HEADS_TABLE}")
            return [ChainHead(self.convert_originator_id(r["originator_id"]),
                              r["originator_version"], r["state_sha256"])
                    for r in c.fetchall()]


def recorder_env(store_url: str | None) -> dict[str, str]:
    """The application env key that installs the chain-head recorder for a store URL."""
    from ledger.store.config import resolve_store_url, store_env

    persistence_module = store_env(resolve_store_url(store_url))["PERSISTENCE_MODULE"]
    if persistence_module == "eventsourcing.sqlite":
        return {"APPLICATION_RECORDER_TOPIC": get_topic(SQLiteChainHeadRecorder)}
    if persistence_module == "eventsourcing.postgres":
        return {"APPLICATION_RECORDER_TOPIC":
                "ledger.store.pg_chain_heads:PostgresChainHeadRecorder"}
    return {}
