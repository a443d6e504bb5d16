"""PostgreSQL variant of the chain-head recorder (see `ledger.store.chain_heads`).

A module of its own so that SQLite-only runs need not load psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier

from ledger.store.chain_heads import ChainHead, batch_heads


class PostgresChainHeadRecorder(PostgresApplicationRecorder):
    """`PostgresApplicationRecorder` that also upserts `<app>_chain_heads` inside the
    insert's transaction (after the library's table lock, so heads follow its order)."""

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.heads_table_name = events_table_name.removesuffix("_events") + "_chain_heads"
        self.check_identifier_length(self.heads_table_name)
        table = Identifier(self.datastore.schema), Identifier(self.heads_table_name)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} (originator_id {} PRIMARY KEY, "
            "originator_version bigint NOT NULL, state_sha256 text NOT NULL)"
        ).format(*table, Identifier(self.datastore.originator_id_type)))
        self.upsert_head_statement = SQL(
            "INSERT INTO {}.{} AS h VALUES (%s, %s, %s) ON CONFLICT (originator_id) "
            "DO UPDATE SET originator_version = EXCLUDED.originator_version, "
            "state_sha256 = EXCLUDED.state_sha256 "
            "WHERE EXCLUDED.originator_version > h.originator_version"
        ).format(*table)
        self.select_heads_statement = SQL("SELECT * FROM {}.{}").format(*table)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        heads = batch_heads(stored_events)
        if heads:  # another cursor: the caller reads the notification ids from `curs`
            with curs.connection.cursor() as heads_curs:
                heads_curs.executemany(self.upsert_head_statement, heads)

    def select_chain_heads(self) -> list[ChainHead]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_heads_statement)
            return [ChainHead(r["originator_id"], r["originator_version"], r["state_sha256"])
                    for r in curs.fetchall()]
