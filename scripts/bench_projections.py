"""Benchmark: batched projection rebuild vs the library's one-event-per-transaction
`eventsourcing.projection.ProjectionRunner`, on the same data, in the same run.

    .venv/bin/python scripts/bench_projections.py [--store sqlite:////tmp/bench.db]
        [--events 500000] [--pg postgresql://postgres@127.0.0.1:5432/test?schema=bench]
        [--runner-events 20000] [--batch-size 1000] [--rebuild-batch-size 20000]

1. Makes sure the SQLite store holds at least --events notifications (generating
   reference contracts, each advanced to 2026-12-31, in 2 processes, merged), or uses it
   as it is.
2. Copies that log (same stored events) into the PostgreSQL schema --pg (if its head
   differs).
3. Measures `projections.runner.rebuild` of all five read models (batches of
   --rebuild-batch-size notifications per transaction, worker processes as `rebuild`
   chooses them) on SQLite and on PostgreSQL.
4. Measures the library's `ProjectionRunner` on PostgreSQL (its SQLite recorder cannot
   subscribe) doing the same work per event -- fold the event, write the same rows and
   the tracking record -- one event per transaction, over the first --runner-events
   notifications (the runner is slow: a subset, stated in the output), and our batched
   catch-up over the same subset. Prints events/s and the ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner

from ledger.application import LedgerApplication
from ledger.domain.commands import parse_command
from ledger.store.config import store_env
from projections.readmodels import MODELS, Batch, audit_row
from projections.runner import (
    MAX_CACHED_CONTRACTS,
    REBUILD_BATCH_SIZE,
    EventReader,
    FactsCache,
    Runner,
    Store,
    Writer,
    drop_tables,
    rebuild,
    select_models,
)
from projections.schema import create_statements
from projections.source import CONTRACT_TOPIC_PREFIX, EventSource

BENCH = "__bench"
_VIEW_TRACKING = "bench_one_by_one_tracking"  # the library names it after the projection


def _generate(args: tuple[str, int, int]) -> int:
    url, first, count = args
    from tests.scenarios import worked_example_commands

    app = LedgerApplication(url)
    try:
        for i in range(first, first + count):
            cid = f"B{i:06d}"
            extra: list[Any] = [("record_payment", "2025-09-01",
                                 {"amount": "200000.00", "reference": f"PRE-{i}"})]
            if i % 7 == 3:
                extra.append(("terminate", "2026-05-10", {"reason": "mutual"}))
            for c in worked_example_commands(contract_id=cid, extra=extra,
                                             dl2_confirmed_on=date(2025, 10, 10) if i % 2
                                             else None):
                app.execute(parse_command(c))
            app.advance(date(2026, 12, 31), cid)
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def copy_log(src: Any, dst: Any, start: int, chunk: int = 2000) -> None:
    """Append `src`'s notifications from id `start` on to `dst`'s log."""
    while True:
        batch = src.recorder.select_notifications(start, chunk)
        if not batch:
            return
        dst.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version,
                                                n.topic, n.state) for n in batch])
        start = batch[-1].id + 1


def ensure_events(url: str, target: int) -> int:
    """Generate contracts (in 2 processes, merged) until the log holds `target`."""
    app = LedgerApplication(url)
    head = app.recorder.max_notification_id() or 0
    app.close()
    t0 = time.perf_counter()
    round_ = 0
    while head < target:
        contracts = (target - head) // 90 + 2  # ~94 notifications per generated contract
        tmp = tempfile.mkdtemp()
        first = (head // 50 + 1) * 1000 + round_ * 10_000_000  # fresh contract ids
        halves = [(f"sqlite:///{tmp}/part{k}.db", first + k * 1_000_000,
                   contracts // 2 + k % 2) for k in range(2)]
        with multiprocessing.Pool(2) as pool:
            pool.map(_generate, halves)
        dst = LedgerApplication(url)
        for part_url, _, _ in halves:
            part = LedgerApplication(part_url)
            copy_log(part, dst, 1)
            part.close()
        head = dst.recorder.max_notification_id() or 0
        dst.close()
        round_ += 1
        print(f"generated: the log now holds {head:,} notifications "
              f"({time.perf_counter() - t0:.0f} s)")
    return head


def time_rebuild(url: str, batch_size: int) -> tuple[float, int, int]:
    with Store(url) as store:
        t0 = time.perf_counter()
        read = rebuild(store, batch_size=batch_size)
        return time.perf_counter() - t0, read, _contract_events(store, read)


def _contract_events(store: Store, upto: int) -> int:
    table = "stored_events" if store.dialect == "sqlite" else store.qualify("ledger_events")
    col = "rowid" if store.dialect == "sqlite" else "notification_id"
    q = f"SELECT COUNT(*) AS n FROM {table} WHERE {col} <= ? AND topic LIKE ?"
    return int(store.query(q, [upto, CONTRACT_TOPIC_PREFIX + "%"])[0]["n"])


# --------------------------------------------------------------- the library's runner

_BENCH_URL = ""


class BenchApp(EventReader):
    def __init__(self, env: Any = None) -> None:
        super().__init__(_BENCH_URL, env)


class BenchView(PostgresTrackingRecorder):
    """The runner's materialised view: the same five read models, tables `*__bench`."""


class OneEventPerTransaction(Projection[BenchView]):
    name = "bench_one_by_one"

    def __init__(self, view: BenchView) -> None:
        super().__init__(view)
        self.store = Store(_BENCH_URL)
        self.cache = FactsCache(EventSource(self.store), MAX_CACHED_CONTRACTS)
        self.models = select_models(None)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:  # type: ignore[override]
        batch = Batch()
        if type(domain_event).__module__ + ":" == CONTRACT_TOPIC_PREFIX:
            fields = domain_event.model_dump(mode="json",
                                             exclude={"originator_id", "originator_version"})
            entry = (tracking.notification_id, domain_event.originator_id,
                     domain_event.originator_version, type(domain_event).__name__, fields)
            batch.audit.append(audit_row(entry, self.cache.fold(entry, batch)))
        with self.view.datastore.transaction(commit=True) as curs:
            self.view._insert_tracking(curs, tracking)
            writer = Writer(self.store, curs, BENCH)
            for m in self.models:
                m.write(batch, writer, 0)


def time_library_runner(pg_url: str, events: int) -> float:
    global _BENCH_URL
    _BENCH_URL = pg_url
    with Store(pg_url) as store:
        drop_tables(store, MODELS.values(), BENCH)
        with store.datastore.transaction(commit=True) as curs:
            for m in MODELS.values():
                for t in m.tables:
                    for stmt in create_statements(t, t.name + BENCH, store.dialect,
                                                  store.qualify):
                        curs.execute(stmt)
            curs.execute(f"DROP TABLE IF EXISTS {store.qualify(_VIEW_TRACKING)}")
    env = store_env(pg_url)
    t0 = time.perf_counter()
    with ProjectionRunner(application_class=BenchApp, projection_class=OneEventPerTransaction,
                          view_class=BenchView, env=env) as runner:
        runner.wait(events, timeout=3600)
        elapsed = time.perf_counter() - t0
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", default="sqlite:////tmp/bench_projections.db")
    p.add_argument("--events", type=int, default=500_000)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test?schema=bench_proj")
    p.add_argument("--runner-events", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=1000, help="catch-up batch size")
    p.add_argument("--rebuild-batch-size", type=int, default=REBUILD_BATCH_SIZE)
    a = p.parse_args()

    head = ensure_events(a.store, a.events)
    src = LedgerApplication(a.store)
    dst = LedgerApplication(a.pg)
    t0 = time.perf_counter()
    if (dst.recorder.max_notification_id() or 0) != head:
        copy_log(src, dst, (dst.recorder.max_notification_id() or 0) + 1)
        print(f"copied the log to {a.pg} in {time.perf_counter() - t0:.0f} s")
    src.close()
    dst.close()

    print(f"log: {head:,} notifications; catch-up batch size {a.batch_size}, rebuild batch "
          f"size {a.rebuild_batch_size}; 5 read models")
    results = {}
    for label, url in (("sqlite", a.store), ("postgres", a.pg)):
        secs, read, evs = time_rebuild(url, a.rebuild_batch_size)
        results[label] = read / secs
        print(f"rebuild {label:8s}: {read:,} notifications ({evs:,} contract events) in "
              f"{secs:.1f} s = {read / secs:,.0f} notifications/s ({evs / secs:,.0f} contract "
              "events/s)")

    n = min(a.runner_events, head)
    with Store(a.pg) as store:
        drop_tables(store, MODELS.values())
        t1 = time.perf_counter()
        runner = Runner(store, select_models(None), batch_size=a.batch_size)
        runner.catch_up(stop=n)
        ours = n / (time.perf_counter() - t1)
        runner.catch_up()  # leave the live tables complete
    lib_secs = time_library_runner(a.pg, n)
    lib = n / lib_secs
    print(f"library ProjectionRunner (postgres, one event per transaction, same rows): first "
          f"{n:,} notifications in {lib_secs:.1f} s = {lib:,.0f} notifications/s")
    print(f"batched catch-up (postgres) over the same {n:,}: {ours:,.0f} notifications/s")
    print(f"ratio batched/ProjectionRunner, same subset, postgres: {ours / lib:.1f}x")
    print(f"ratio full rebuild/ProjectionRunner: postgres {results['postgres'] / lib:.1f}x, "
          f"sqlite {results['sqlite'] / lib:.1f}x")


if __name__ == "__main__":
    main()
