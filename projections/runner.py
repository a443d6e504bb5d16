"""Batched, exactly-once catch-up of the read models from the ledger's notification log.

Pull-based: the runner reads `recorder.select_notifications(start, batch_size)`
(works on SQLite and PostgreSQL alike), folds each contract event into its
contract's state, and for each read model writes the rows the batch touched and
its tracking position in ONE transaction. Exactly-once comes from the tracking
record: the transaction first locks the model's tracking row and checks it still
holds the position the batch started from, then moves it (with eventsourcing's
own tracking recorder, which refuses to move a position backwards or to the same
place). A crash rolls the whole batch back; a second worker that got there first
makes this one's batch fail, and it re-reads its position and goes on.

Where things live: the projection tables are in the same database (on PG, the same
schema) as the event store, named ``proj_*``; each read model has its own tracking
table ``proj_<model>_tracking`` -- never the library's shared ``tracking`` table,
whose fixed name on SQLite would let two trackers overwrite each other's position.
A rebuild builds ``<table>__new`` tables and swaps them in (see `rebuild`).

Receipts (`CommandAccepted`) and any other non-contract event are skipped but
still advance the position, so a caught-up projection has lag 0.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger.domain.events import ContractEvent
from ledger.domain.state import ContractState
from ledger.store.app_base import APP_NAME, LedgerStoreApplication
from projections.readmodels import MODELS, Batch, ReadModel
from projections.schema import POSTGRES, SQLITE, Table, create_statements, to_db

#: Explicit limits: events per transaction, and contract states kept in memory.
DEFAULT_BATCH_SIZE = 1000
MAX_CACHED_CONTRACTS = 50_000
SHADOW = "__new"
#: Only events of this module are contract events; receipts etc. are skipped.
_CONTRACT_TOPIC_PREFIX = ContractEvent.__module__ + ":"


class UnknownProjection(ValueError):
    pass


def select_models(names: Iterable[str] | None) -> list[ReadModel]:
    if not names:
        return list(MODELS.values())
    out = []
    for n in names:
        if n not in MODELS:
            raise UnknownProjection(f"unknown projection {n!r} (known: {', '.join(MODELS)})")
        out.append(MODELS[n])
    return out


def tracking_table(model: ReadModel) -> str:
    return f"proj_{model.name}_tracking"


class NamedSQLiteTrackingRecorder(SQLiteTrackingRecorder):
    """The library's SQLite tracking recorder with its own table instead of the fixed
    ``tracking`` (so each read model keeps its own position in the same file)."""

    def __init__(self, datastore: SQLiteDatastore, *, tracking_table_name: str) -> None:
        self.tracking_table_name = tracking_table_name
        super().__init__(datastore)
        t = tracking_table_name
        self.insert_tracking_statement = (
            f"INSERT INTO {t} VALUES (:application_name, :notification_id) "
            f"ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {t}.notification_id < :notification_id RETURNING notification_id")
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {t} WHERE application_name=?")

    def construct_create_table_statements(self) -> list[str]:
        return [f"CREATE TABLE IF NOT EXISTS {self.tracking_table_name} (application_name TEXT, "
                f"notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"]


class EventReader(LedgerStoreApplication):
    """Only the store: recorder (the notification log) and mapper. No aggregates are
    loaded and no commands run through it."""


class Store:
    """The event store's read side and the datastore the projection tables live in."""

    def __init__(self, store_url: str | None = None) -> None:
        self.app = EventReader(store_url)
        self.url = self.app.store_url
        self.recorder = self.app.recorder
        self.mapper = self.app.mapper
        self.datastore: Any = self.app.factory.datastore  # type: ignore[attr-defined]
        self.dialect = SQLITE if isinstance(self.datastore, SQLiteDatastore) else POSTGRES
        self.schema = getattr(self.datastore, "schema", None)

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def qualify(self, name: str) -> str:
        return name if self.dialect == SQLITE else f'"{self.schema}"."{name}"'

    def sql(self, statement: str) -> str:
        return statement if self.dialect == SQLITE else statement.replace("?", "%s")

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def tracker(self, table: str) -> Any:
        """The library's tracking recorder for `table`, its table created, with a
        position-0 row so a batch can always lock the row it is about to move."""
        if self.dialect == SQLITE:
            rec: Any = NamedSQLiteTrackingRecorder(self.datastore, tracking_table_name=table)
        else:
            from eventsourcing.postgres import PostgresTrackingRecorder

            rec = PostgresTrackingRecorder(self.datastore, tracking_table_name=table)
        rec.create_table()
        if rec.max_tracking_id(APP_NAME) is None:
            with suppress(IntegrityError):
                rec.insert_tracking(Tracking(APP_NAME, 0))
        return rec

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.sql(statement), tuple(params))
            return [dict(r) for r in curs.fetchall()]

    def table_exists(self, name: str) -> bool:
        if self.dialect == SQLITE:
            rows = self.query("SELECT name FROM sqlite_master WHERE type='table' AND name=?",
                              [name])
        else:
            rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname=? AND "
                              "tablename=?", [self.schema, name])
        return bool(rows)

    def position(self, model: ReadModel) -> int | None:
        """The model's tracking position, or None if it has never been built."""
        if not self.table_exists(tracking_table(model)):
            return None
        rows = self.query(f"SELECT notification_id FROM {self.qualify(tracking_table(model))} "
                          "WHERE application_name=?", [APP_NAME])
        return int(rows[0]["notification_id"]) if rows else 0


class Writer:
    """Writes a batch's rows inside the batch's transaction (tables may be shadows)."""

    def __init__(self, store: Store, curs: Any, suffix: str) -> None:
        self.store, self.curs, self.suffix = store, curs, suffix

    def _name(self, table: Table) -> str:
        return self.store.qualify(table.name + self.suffix)

    def upsert(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        params = [to_db(table, r, self.store.dialect) for r in rows]
        if not params:
            return
        cols = table.names
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in table.key)
        self.curs.executemany(self.store.sql(
            f"INSERT INTO {self._name(table)} ({', '.join(cols)}) VALUES "
            f"({', '.join('?' for _ in cols)}) ON CONFLICT ({', '.join(table.key)}) "
            f"DO UPDATE SET {updates}"), params)

    def insert_new(self, table: Table, rows: Iterable[dict[str, Any]]) -> None:
        params = [to_db(table, r, self.store.dialect) for r in rows]
        if params:
            self.curs.executemany(self.store.sql(
                f"INSERT INTO {self._name(table)} ({', '.join(table.names)}) VALUES "
                f"({', '.join('?' for _ in table.names)}) ON CONFLICT DO NOTHING"), params)

    def delete(self, table: Table, column: str, values: Iterable[Any]) -> None:
        params = [(v,) for v in values]
        if params:
            self.curs.executemany(self.store.sql(
                f"DELETE FROM {self._name(table)} WHERE {column} = ?"), params)


class _Holder:
    """Stands in for the aggregate when folding: events' `apply` only touch `.state`."""

    __slots__ = ("state",)
    state: ContractState


class FoldCache:
    """Each contract's state as folded from its events, most recently used kept.

    A state is only advanced by the event with the next version; otherwise (first
    sight after a restart, an evicted entry, a position moved back by a rebuild)
    the state is re-folded from the contract's earlier events in the store."""

    def __init__(self, store: Store, maxsize: int = MAX_CACHED_CONTRACTS) -> None:
        self.store, self.maxsize = store, maxsize
        self._states: OrderedDict[UUID, tuple[_Holder, int]] = OrderedDict()
        self.replays = 0

    def fold(self, event: Any) -> ContractState:
        oid, version = event.originator_id, event.originator_version
        entry = self._states.get(oid)
        if entry is not None and entry[1] == version - 1:
            holder = entry[0]
            self._states.move_to_end(oid)
        else:
            holder = self._replay(oid, version - 1)
        event.apply(holder)
        self._states[oid] = (holder, version)
        if len(self._states) > self.maxsize:
            self._states.popitem(last=False)
        return holder.state

    def _replay(self, oid: UUID, upto: int) -> _Holder:
        holder = _Holder()
        if upto >= 1:
            self.replays += 1
            for stored in self.store.recorder.select_events(oid, lte=upto):
                self.store.mapper.to_domain_event(stored).apply(holder)
        return holder


class PositionMoved(Exception):
    """Another worker (or a rebuild's swap) moved a model's position under this batch."""


@dataclass
class Progress:
    position: int
    head: int
    events: int


class Runner:
    """Catches the given read models up, in batches, in their live or shadow tables."""

    def __init__(self, store: Store, models: Sequence[ReadModel], *, shadow: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        assert batch_size >= 1
        self.store, self.models, self.batch_size = store, list(models), batch_size
        self.suffix = SHADOW if shadow else ""
        self.cache = FoldCache(store)
        self.events_processed = 0
        with store.datastore.transaction(commit=True) as curs:
            for m in self.models:
                for t in m.tables:
                    for stmt in create_statements(t, t.name + self.suffix, store.dialect,
                                                  store.qualify):
                        curs.execute(stmt)
        self.trackers = {m.name: store.tracker(tracking_table(m) + self.suffix)
                         for m in self.models}

    def positions(self) -> dict[str, int]:
        return {name: t.max_tracking_id(APP_NAME) or 0 for name, t in self.trackers.items()}

    def catch_up(self, stop: int | None = None,
                 on_batch: Callable[[Progress], None] | None = None) -> int:
        """Process every notification up to `stop` (default: the head when called).
        Returns how many notifications were read."""
        head = stop if stop is not None else self.store.head()
        pos = self.positions()
        read = 0
        while min(pos.values()) < head:
            start = min(pos.values()) + 1
            notes = self.store.recorder.select_notifications(start, self.batch_size, stop=head)
            if not notes:
                break
            last = notes[-1].id
            try:
                self._process(notes, pos)
            except PositionMoved:
                pos = self.positions()
                continue
            for m in self.models:
                pos[m.name] = max(pos[m.name], last)
            read += len(notes)
            if on_batch is not None:
                on_batch(Progress(min(pos.values()), head, read))
        return read

    def _process(self, notes: Sequence[Any], pos: dict[str, int]) -> None:
        last = notes[-1].id
        active = [m for m in self.models if pos[m.name] < last]
        batches = {m.name: Batch() for m in active}
        for n in notes:
            if not n.topic.startswith(_CONTRACT_TOPIC_PREFIX):
                continue  # a CommandAccepted receipt: not a contract fact
            event = self.store.mapper.to_domain_event(n)
            state = self.cache.fold(event)
            for m in active:
                if n.id > pos[m.name]:
                    m.observe(batches[m.name], event, state, n.id)
        with self.store.datastore.transaction(commit=True) as curs:
            for m in active:
                self._move_position(curs, m, pos[m.name], last)
            writer = Writer(self.store, curs, self.suffix)
            for m in active:
                m.write(batches[m.name], writer)
        self.events_processed += sum(1 for n in notes
                                     if n.topic.startswith(_CONTRACT_TOPIC_PREFIX))

    def _move_position(self, curs: Any, model: ReadModel, expected: int, last: int) -> None:
        table = self.store.qualify(tracking_table(model) + self.suffix)
        # A no-op write first: it takes the row lock (PG) / the write lock (SQLite)
        # before the position is read, so the check below cannot go stale.
        curs.execute(self.store.sql(f"UPDATE {table} SET notification_id = notification_id "
                                    "WHERE application_name = ?"), (APP_NAME,))
        curs.execute(self.store.sql(f"SELECT notification_id FROM {table} "
                                    "WHERE application_name = ?"), (APP_NAME,))
        row = curs.fetchone()
        current = int(row[0] if self.store.dialect == SQLITE else row["notification_id"])
        if current != expected:
            raise PositionMoved(f"{model.name}: expected {expected}, found {current}")
        try:
            self.trackers[model.name]._insert_tracking(curs, Tracking(APP_NAME, last))
        except IntegrityError as e:  # pragma: no cover - excluded by the check above
            raise PositionMoved(str(e)) from e

    def follow(self, interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False,
               on_batch: Callable[[Progress], None] | None = None) -> None:
        """Keep catching up until `should_stop()`: polling every `interval` seconds
        (on PostgreSQL woken early by the library's NOTIFY on each insert)."""
        waiter = _Waiter(self.store)
        try:
            while not should_stop():
                if self.catch_up(on_batch=on_batch) == 0:
                    waiter.wait(interval)
        finally:
            waiter.close()


class _Waiter:
    """Sleeps until the next poll; on PostgreSQL, LISTENs on the events table's channel."""

    def __init__(self, store: Store) -> None:
        self.conn: Any = None
        if store.dialect == POSTGRES:
            import psycopg

            env = store.app.env
            self.conn = psycopg.connect(
                host=env.get("POSTGRES_HOST"), port=env.get("POSTGRES_PORT"),
                dbname=env.get("POSTGRES_DBNAME"), user=env.get("POSTGRES_USER"),
                password=env.get("POSTGRES_PASSWORD") or None, autocommit=True)
            channel = store.recorder.channel_name  # type: ignore[attr-defined]
            self.conn.execute(f'LISTEN "{channel}"')

    def wait(self, interval: float) -> None:
        if self.conn is None:
            time.sleep(interval)
            return
        for _ in self.conn.notifies(timeout=interval, stop_after=1):
            pass

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


# ------------------------------------------------------------------------ operations


def catch_up(store: Store, names: Iterable[str] | None = None, *,
             batch_size: int = DEFAULT_BATCH_SIZE, stop: int | None = None,
             on_batch: Callable[[Progress], None] | None = None) -> int:
    return Runner(store, select_models(names), batch_size=batch_size).catch_up(stop, on_batch)


def rebuild(store: Store, names: Iterable[str] | None = None, *,
            batch_size: int = DEFAULT_BATCH_SIZE,
            on_batch: Callable[[Progress], None] | None = None) -> int:
    """Rebuild from event 1 into shadow tables, then swap them in, in one transaction.

    Readers keep the live tables until the swap commits (PostgreSQL and SQLite WAL
    both give readers the old or the new tables, never an empty one). A live
    follower's next batch then finds the position changed and re-reads it."""
    models = select_models(names)
    drop_tables(store, models, SHADOW)
    runner = Runner(store, models, shadow=True, batch_size=batch_size)
    read = runner.catch_up(on_batch=on_batch)
    _swap(store, models)
    return read


def drop_tables(store: Store, models: Iterable[ReadModel], suffix: str = "") -> None:
    with store.datastore.transaction(commit=True) as curs:
        for m in models:
            for name in [t.name for t in m.tables] + [tracking_table(m)]:
                curs.execute(f"DROP TABLE IF EXISTS {store.qualify(name + suffix)}")


def _swap(store: Store, models: Iterable[ReadModel]) -> None:
    with store.datastore.transaction(commit=True) as curs:
        for m in models:
            for live in [t.name for t in m.tables] + [tracking_table(m)]:
                shadow = live + SHADOW
                curs.execute(f"DROP TABLE IF EXISTS {store.qualify(live)}")
                curs.execute(f"ALTER TABLE {store.qualify(shadow)} RENAME TO {live}")
                _rename_indexes(store, curs, live, shadow)


def _rename_indexes(store: Store, curs: Any, live: str, shadow: str) -> None:
    """Index names follow the table name (so the next shadow's never collide)."""
    if store.dialect == POSTGRES:
        curs.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                     (store.schema, live))
        for row in curs.fetchall():
            name = row["indexname"]
            if name.startswith(shadow):
                curs.execute(f'ALTER INDEX "{store.schema}"."{name}" RENAME TO '
                             f'"{live + name[len(shadow):]}"')
        return
    curs.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                 "AND sql IS NOT NULL", (live,))
    for name, sql in [(r[0], r[1]) for r in curs.fetchall()]:
        if name.startswith(shadow):  # SQLite cannot rename an index: recreate it
            curs.execute(f"DROP INDEX {name}")
            curs.execute(sql.replace(name, live + name[len(shadow):], 1))


@dataclass
class Status:
    name: str
    position: int | None
    head: int
    rows: dict[str, int]

    @property
    def lag(self) -> int | None:
        return None if self.position is None else self.head - self.position


def status(store: Store, names: Iterable[str] | None = None) -> list[Status]:
    head = store.head()
    out = []
    for m in select_models(names):
        pos = store.position(m)
        rows = {}
        if pos is not None:
            for t in m.tables:
                if store.table_exists(t.name):
                    rows[t.name] = int(store.query(
                        f"SELECT COUNT(*) AS n FROM {store.qualify(t.name)}")[0]["n"])
        out.append(Status(m.name, pos, head, rows))
    return out
