"""Batched, exactly-once catch-up of the read models from the ledger's notification log.

Pull-based: the runner reads pages of the events table itself (`projections.source`:
one plain select, each contract event decoded to a dict of its JSON fields through the
store's cipher/compressor chain, no pydantic), folds each contract event into that
contract's `ContractFacts` (`projections.facts`), and for each read model writes the
rows the batch touched and its tracking position in ONE transaction. Exactly-once
comes from the tracking record: the transaction first locks the model's tracking row
and checks it still holds the position the batch started from, then moves it (with
eventsourcing's own tracking recorder, which refuses to move a position backwards or
to the same place). A crash rolls the whole batch back; a second worker that got there
first makes this one's batch fail, and it re-reads its position and goes on.

Where things live: the projection tables are in the same database (on PG, the same
schema) as the event store, named ``proj_*``; each read model has its own tracking
table ``proj_<model>_tracking`` -- never the library's shared ``tracking`` table,
whose fixed name on SQLite would let two trackers overwrite each other's position.
A rebuild builds ``<table>__new`` tables and swaps them in (see `rebuild`).

Receipts (`CommandAccepted`) and any other non-contract event are skipped but
still advance the position, so a caught-up projection has lag 0.
"""

from __future__ import annotations

import fcntl
import gc
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from itertools import islice, pairwise
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from ledger.store.app_base import APP_NAME, LedgerStoreApplication
from projections.facts import ContractFacts, NoChanges, fold
from projections.readmodels import MODELS, Batch, ReadModel, Row, audit_row
from projections.schema import POSTGRES, SQLITE, Table, create_statements, key_statement
from projections.source import ALL_CONTRACTS, ContractEntry, EventSource, Page

#: Explicit limits: notifications per transaction (live catch-up, and a rebuild, whose
#: transactions hold no per-contract rows), and contract facts kept in memory.
DEFAULT_BATCH_SIZE = 1000
REBUILD_BATCH_SIZE = 20_000
MAX_CACHED_CONTRACTS = 100_000
#: Contracts whose rows one transaction writes at the end of a rebuild.
FINAL_ROWS_CONTRACTS = 2000
#: A rebuild shares the contracts out among this many processes at most (one per
#: CPU), for logs of at least this many notifications.
MAX_REBUILD_WORKERS = 4
PARALLEL_REBUILD_MIN = 20_000
SHADOW = "__new"


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


#: PostgreSQL casts from the rows' ISO text to the column types (SQLite keeps the text).
_PG_CASTS = {"date": "::date", "ts": "::timestamptz", "money": "::numeric",
             "decimal": "::numeric", "json": "::jsonb"}


class Writer:
    """Writes a batch's rows inside the batch's transaction (tables may be shadows).

    Rows are tuples of store-neutral values (see `projections.readmodels`); on
    PostgreSQL the statement casts the ISO text of dates, record times, money and
    JSON to the column's type, on SQLite they are stored as they are."""

    def __init__(self, store: Store, curs: Any, suffix: str) -> None:
        self.store, self.curs, self.suffix = store, curs, suffix
        self.rebuilding = suffix == SHADOW
        self._statements: dict[tuple[str, str], str] = {}

    def _name(self, table: Table) -> str:
        return self.store.qualify(table.name + self.suffix)

    def _values(self, table: Table) -> str:
        if self.store.dialect == SQLITE:
            return ", ".join("?" for _ in table.cols)
        return ", ".join("%s" + _PG_CASTS.get(c.type, "") for c in table.cols)

    def _statement(self, table: Table, conflict: str) -> str:
        key = (table.name, conflict)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = (
                f"INSERT INTO {self._name(table)} ({', '.join(table.names)}) VALUES "
                f"({self._values(table)}){conflict}")
        return statement

    def upsert(self, table: Table, rows: list[Row]) -> None:
        if rows:
            updates = ", ".join(f"{c} = excluded.{c}" for c in table.names
                                if c not in table.key)
            self.curs.executemany(self._statement(
                table, f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"), rows)

    def insert_new(self, table: Table, rows: list[Row]) -> None:
        """Rows not written before; a rebuild appends them to a table it only appends
        to (it has no key yet), anything else skips a row whose key is there."""
        if rows:
            appending = self.rebuilding and table.appended_by_rebuild
            self.curs.executemany(self._statement(
                table, "" if appending else " ON CONFLICT DO NOTHING"), rows)

    def set_bill_ids(self, rows: list[tuple[str, str, str]]) -> None:
        """(bill_id, contract_id, charge_id): items written earlier, billed since."""
        if rows:
            from projections.readmodels import CHARGE_ITEM

            self.curs.executemany(self.store.sql(
                f"UPDATE {self._name(CHARGE_ITEM)} SET bill_id = ? "
                "WHERE contract_id = ? AND charge_id = ?"), rows)


class FactsCache:
    """Each contract's facts as folded from its events, the most recently used kept.

    Facts are only advanced by the event with the next version; otherwise (first
    sight after a restart, an evicted contract, a position moved back by another
    worker) the contract is folded again from its earlier events in the store, its
    rows being written already. `on_evict` hears of every contract let go."""

    def __init__(self, source: EventSource, maxsize: int = MAX_CACHED_CONTRACTS) -> None:
        self.source, self.maxsize = source, maxsize
        self._facts: OrderedDict[Any, ContractFacts] = OrderedDict()
        self.replays = 0

    def __len__(self) -> int:
        return len(self._facts)

    def values(self) -> Iterable[ContractFacts]:
        return self._facts.values()

    def fold(self, entry: ContractEntry, batch: Batch) -> ContractFacts:
        _, oid, version, event_type, fields = entry
        facts = self._facts.get(oid)
        if facts is not None and facts.version == version - 1:
            self._facts.move_to_end(oid)
            fold(facts, event_type, fields, version, batch)
        else:
            facts = fold(self._replay(oid, version - 1), event_type, fields, version, batch)
            # SQLite stores the id's hex digits, PostgreSQL a UUID
            facts.originator_id = str(UUID(str(oid)))
            self._facts[oid] = facts
            if len(self._facts) > self.maxsize:
                _, evicted = self._facts.popitem(last=False)
                if batch.deferred:  # its rows are written once, when it leaves memory
                    batch.rewrite(evicted)
        if not batch.deferred:
            batch.contracts[facts.contract_id] = facts
        return facts

    def _replay(self, oid: Any, upto: int) -> ContractFacts | None:
        facts = None
        if upto >= 1:
            self.replays += 1
            for _, _, version, event_type, fields in self.source.history(oid, upto):
                facts = fold(facts, event_type, fields, version, _NO_CHANGES)
        return facts


_NO_CHANGES = NoChanges()


class PositionMoved(Exception):
    """Another worker (or a rebuild's swap) moved a model's position under this batch."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch is read, folded and
    written: the batch allocates hundreds of thousands of objects (decoded fields,
    rows) and none of them in cycles, and with the collector on a third of the time
    went to scanning them, again and again. It runs between batches."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: A SQLite rebuild's write connection, for the length of each of its transactions.
_BULK_LOAD_PRAGMAS = {"synchronous": "NORMAL", "wal_autocheckpoint": 16384,  # pages
                      "cache_size": -32768}  # KiB: per process (a rebuild has two or more)


def _pragma(conn: Any, name: str) -> Any:
    curs = conn.cursor()
    curs.execute(f"PRAGMA {name}")
    return curs.fetchone()[0]


class _TakeTurns:
    """An exclusive lock on a file, held around a write transaction: the workers of a
    SQLite rebuild take turns through it, because SQLite's own busy handler lets a
    waiting writer sleep up to 100 ms after the other one has committed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # releases the lock


def rebuild_lock_file(store: Store) -> str:
    return f"{store.datastore.pool.db_name}-rebuild.lock"


@dataclass
class Progress:
    position: int
    head: int
    events: int


class Runner:
    """Catches the given read models up, in batches, in their live tables; or, with
    `rebuilding`, builds them from event 1 in shadow tables (see `rebuild`), all
    contracts or, with `shard=(low, high)`, those of one worker of a parallel rebuild
    (see `EventSource`; its batches leave the tracking positions to the rebuild)."""

    def __init__(self, store: Store, models: Sequence[ReadModel], *, rebuilding: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 shard: tuple[int, int] | None = None) -> None:
        assert batch_size >= 1
        assert shard is None or rebuilding
        self.store, self.models, self.batch_size = store, list(models), batch_size
        self.rebuilding, self.shard = rebuilding, shard
        self.suffix = SHADOW if rebuilding else ""
        # A rebuild reads ranges of ids, receipts and other shards' contracts left out
        # by the database; a catch-up reads pages of exactly `batch_size` notifications.
        self.source = EventSource(store, shard or (ALL_CONTRACTS if rebuilding else None))
        self._turns: Any = nullcontext()
        if shard is not None and store.dialect == SQLITE:
            self._turns = _TakeTurns(rebuild_lock_file(store))
        self.cache = FactsCache(self.source, MAX_CACHED_CONTRACTS)
        self.events_processed = 0
        with store.datastore.transaction(commit=True) as curs:
            for stmt in self._create_statements(tables=True):
                curs.execute(stmt)
        self.trackers = {m.name: store.tracker(tracking_table(m) + self.suffix)
                         for m in self.models}

    def _create_statements(self, *, tables: bool) -> list[str]:
        """CREATE TABLE (`tables`) or CREATE INDEX statements. A rebuild creates the
        secondary indexes, and the key of the tables it only appends to, after loading
        the rows (`finish_rebuild`, on SQLite `_index_swapped`): cheaper."""
        out = []
        for m in self.models:
            for t in m.tables:
                name, dialect, qualify = t.name + self.suffix, self.store.dialect, \
                    self.store.qualify
                appended = self.rebuilding and t.appended_by_rebuild
                stmts = create_statements(t, name, dialect, qualify, key=not appended)
                if tables:
                    out.extend(stmts[:1] if self.rebuilding else stmts)
                else:
                    out.extend([key_statement(t, name, dialect, qualify)] if appended else [])
                    out.extend(stmts[1:])
        return out

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
            try:
                with _collector_paused():
                    page = self.source.page(start, self.batch_size, head)
                    if not page.read:
                        break
                    self._process(page, pos)
            except PositionMoved:
                pos = self.positions()
                continue
            for m in self.models:
                pos[m.name] = max(pos[m.name], page.last)
            read += page.read
            if on_batch is not None:
                on_batch(Progress(min(pos.values()), head, read))
        return read

    def _process(self, page: Page, pos: dict[str, int]) -> None:
        last = page.last
        active = [m for m in self.models if pos[m.name] < last]
        batch = Batch(deferred=self.rebuilding)
        audit_after = pos["audit"] if any(m.name == "audit" for m in active) else last
        fold_event, audit = self.cache.fold, batch.audit
        for entry in page.events:  # receipts (CommandAccepted) are not among them
            facts = fold_event(entry, batch)
            if entry[0] > audit_after:
                audit.append(audit_row(entry, facts))
        with self._transaction() as curs:
            for m in active if self.shard is None else ():
                self._move_position(curs, m, pos[m.name], last)
            writer = Writer(self.store, curs, self.suffix)
            for m in active:
                m.write(batch, writer, pos[m.name])
        self.events_processed += len(page.events)

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

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A write transaction. A rebuild's need not be durable (a crashed rebuild is
        thrown away): on SQLite its commits skip the fsync (synchronous=NORMAL, which
        in WAL mode never corrupts), checkpoint the WAL every 64 MiB rather than after
        every batch (the default is 4 MiB; a much longer WAL makes every page lookup
        slower), and use a 32 MiB page cache. On PostgreSQL they don't wait for the
        WAL flush."""
        if not self.rebuilding:
            with self.store.datastore.transaction(commit=True) as curs:
                yield curs
        elif self.store.dialect == POSTGRES:
            with self.store.datastore.transaction(commit=True) as curs:
                curs.execute("SET LOCAL synchronous_commit TO OFF")
                yield curs
        else:
            with self._turns, self.store.datastore.get_connection(commit=True) as conn:
                before = {name: _pragma(conn, name) for name in _BULK_LOAD_PRAGMAS}
                for name, value in _BULK_LOAD_PRAGMAS.items():
                    conn.cursor().execute(f"PRAGMA {name} = {value}")
                try:
                    with conn.transaction(commit=True) as curs:
                        yield curs
                finally:
                    for name, value in before.items():
                        conn.cursor().execute(f"PRAGMA {name} = {value}")

    def write_final_rows(self) -> None:
        """A rebuild's end: every contract still in memory gets its rows (the others
        got them when they left it)."""
        assert self.rebuilding
        facts = iter(list(self.cache.values()))
        while chunk := list(islice(facts, FINAL_ROWS_CONTRACTS)):
            batch = Batch(deferred=True)
            for c in chunk:
                batch.rewrite(c)
            with _collector_paused(), self._transaction() as curs:
                writer = Writer(self.store, curs, self.suffix)
                for m in self.models:
                    m.write(batch, writer, 0)

    def finish_rebuild(self, head: int) -> None:
        """Every shadow position at `head` (a sharded rebuild's batches left them),
        and on PostgreSQL the secondary indexes created; SQLite's are created by the
        swap (its indexes cannot be renamed)."""
        behind = [name for name, position in self.positions().items() if position < head]
        with self.store.datastore.transaction(commit=True) as curs:
            for name in behind:
                self.trackers[name]._insert_tracking(curs, Tracking(APP_NAME, head))
            if self.store.dialect == POSTGRES:
                for stmt in self._create_statements(tables=False):
                    curs.execute(stmt)

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
            batch_size: int = REBUILD_BATCH_SIZE,
            on_batch: Callable[[Progress], None] | None = None,
            workers: int | None = None) -> int:
    """Rebuild from event 1 into shadow tables, then swap them in, in one transaction.

    The shadow tables are only complete at the swap: on the way, each batch's
    transaction holds the rows no later event can change (audit rows, charge items,
    settled bills); each contract's other rows are written once, from its final
    facts, at the end (or when it leaves memory). With `workers` > 1 (default: one
    per CPU, up to `MAX_REBUILD_WORKERS`, for logs of `PARALLEL_REBUILD_MIN`
    notifications or more) the contracts are shared out among forked worker
    processes, which read the same log and write into the same shadow tables; the
    positions are set at the end. A crashed rebuild leaves only shadow tables,
    dropped by the next one.

    Readers keep the live tables until the swap commits (PostgreSQL and SQLite WAL
    both give readers the old or the new tables, never an empty one). A live
    follower's next batch then finds the position changed and re-reads it."""
    models = select_models(names)
    drop_tables(store, models, SHADOW)
    runner = Runner(store, models, rebuilding=True, batch_size=batch_size)
    head = store.head()
    n = workers if workers is not None else _default_workers(store, head)
    if n <= 1:
        read = runner.catch_up(stop=head, on_batch=on_batch)
        runner.write_final_rows()
    else:
        mine, *theirs = _shares(n)
        children = [_fork_worker(store.url, [m.name for m in models], batch_size, head, shard)
                    for shard in theirs]
        try:
            own = Runner(store, models, rebuilding=True, batch_size=batch_size, shard=mine)
            read = own.catch_up(stop=head, on_batch=on_batch)
            own.write_final_rows()
        finally:
            failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
            if store.dialect == SQLITE:
                with suppress(FileNotFoundError):
                    os.remove(rebuild_lock_file(store))
        if failed:
            raise RuntimeError(f"rebuild worker process(es) {failed} failed (see stderr)")
    runner.finish_rebuild(head)
    _swap(store, models)
    return read


def _shares(n: int) -> list[tuple[int, int]]:
    """The contracts of `n` workers, as ranges of their id's last hex digit: the
    rebuilding process's share is one digit smaller, for the work it does alone
    (setting up, the swap and its indexes)."""
    if n <= 1:
        return [ALL_CONTRACTS]
    mine = max(1, 16 // n - 1)
    bounds = [ALL_CONTRACTS[0], mine]
    for k in range(1, n):
        bounds.append(mine + (16 - mine) * k // (n - 1))
    return list(pairwise(bounds))


def _default_workers(store: Store, head: int) -> int:
    """Forking is only safe without other threads (their locks would be copied held)
    and useful with a log big enough to pay for a second reader."""
    if (head < PARALLEL_REBUILD_MIN or threading.active_count() > 1
            or not hasattr(os, "fork") or ":memory:" in store.url):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_REBUILD_WORKERS))


def _fork_worker(url: str, names: list[str], batch_size: int, head: int,
                 shard: tuple[int, int]) -> int:
    """A rebuild's worker for `shard`, in a forked process with its own connections (it
    never touches the parent's, and leaves with `os._exit`, closing none of them)."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        with Store(url) as store:
            runner = Runner(store, select_models(names), rebuilding=True,
                            batch_size=batch_size, shard=shard)
            runner.catch_up(stop=head)
            runner.write_final_rows()
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def drop_tables(store: Store, models: Iterable[ReadModel], suffix: str = "") -> None:
    with store.datastore.transaction(commit=True) as curs:
        for m in models:
            for name in [t.name for t in m.tables] + [tracking_table(m)]:
                curs.execute(f"DROP TABLE IF EXISTS {store.qualify(name + suffix)}")


def _swap(store: Store, models: Iterable[ReadModel]) -> None:
    with store.datastore.transaction(commit=True) as curs:
        for m in models:
            for live in [t.name for t in m.tables] + [tracking_table(m)]:
                curs.execute(f"DROP TABLE IF EXISTS {store.qualify(live)}")
                curs.execute(f"ALTER TABLE {store.qualify(live + SHADOW)} RENAME TO {live}")
            for t in m.tables:
                _index_swapped(store, curs, t)


def _index_swapped(store: Store, curs: Any, table: Table) -> None:
    """Index names follow the table name (so the next shadow's never collide). On
    PostgreSQL the shadow's indexes are renamed; SQLite cannot rename an index, so
    its indexes are only created here, once the rows are in (`finish_rebuild`)."""
    live, shadow = table.name, table.name + SHADOW
    if store.dialect == SQLITE:
        if table.appended_by_rebuild:
            curs.execute(key_statement(table, live, SQLITE, store.qualify))
        for stmt in create_statements(table, live, SQLITE, store.qualify)[1:]:
            curs.execute(stmt)
        return
    curs.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                 (store.schema, live))
    for row in curs.fetchall():
        name = row["indexname"]
        if name.startswith(shadow):
            curs.execute(f'ALTER INDEX "{store.schema}"."{name}" RENAME TO '
                         f'"{live + name[len(shadow):]}"')


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
