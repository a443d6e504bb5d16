"""Benchmarks of the ledger against the library's floor and the physical floor (issue #6).

In ONE run, on ONE generated portfolio (scripts/generate_portfolio.py), on this machine:

- ingest: the `ledger apply` path in-process (parse + `BatchApplier`, group commit),
  commands/s and events/s, SQLite and PostgreSQL;
- references: eventsourcing's own recorder inserting the same stored events (in
  transactions of the same size) and selecting + decoding them (the library's floor),
  one event per transaction through the library's tracking recorder (what the
  library's `ProjectionRunner` does per event), and plain sqlite3 + orjson writing
  the same rows in 1,000-row transactions and reading + decoding them (the physical
  floor);
- projection rebuild from event 1 (`projections.runner.rebuild`, if that package is
  present), events/s and peak RSS (measured in a child process);
- queries: `status` and `bill` p50/p99, from the aggregate (snapshot + tail + view)
  and from the projection tables, for contracts of ~100 events and one of ~10,000;
- month end: every contract's clock advanced by one month (`LedgerApplication.advance`).

Every figure is printed with its reference and the ratio; `docs/benchmarks.json` and
`docs/benchmarks.md` get the results, the machine, the versions and the date. Wall
and CPU seconds are both kept: other processes on the machine inflate wall time.

    .venv/bin/python scripts/bench.py --size medium
    .venv/bin/python scripts/bench.py --size tiny --no-pg --out /tmp/x   # CI smoke
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import generate_portfolio as gp  # noqa: E402

from ledger.application import LedgerApplication  # noqa: E402
from ledger.batch import DEFAULT_CACHE, BatchApplier, bulk_gc  # noqa: E402
from ledger.domain import views  # noqa: E402
from ledger.domain.commands import parse_command  # noqa: E402

PG_BASE = os.environ.get("LEDGER_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
LONG_ID = "LONG-10K"
#: explicit limits: one-event-per-transaction references and PG ingest are sampled
ONE_PER_TX_SAMPLE = 5_000
QUERY_SAMPLES = 300


# --------------------------------------------------------------------------- timing
class Timer:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def rate(self, n: int) -> float:
        return n / self.wall if self.wall else 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    t = Timer()
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    yield t
    t.wall, t.cpu = time.perf_counter() - w0, time.process_time() - c0


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- stores
def sqlite_url(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def pg_url(tag: str) -> str | None:
    try:
        import psycopg

        schema = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_BASE, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{PG_BASE}?schema={schema}"
    except Exception as e:  # no server: PG figures are reported as not measured
        log(f"PostgreSQL unavailable: {e}")
        return None


def drop_pg(url: str) -> None:
    import psycopg

    schema = url.split("schema=")[1]
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --------------------------------------------------------------------------- portfolio
def portfolio(size: str, seed: int, workdir: Path) -> tuple[Path, dict[str, Any]]:
    path = workdir / f"portfolio-{size}-seed{seed}.jsonl"
    meta_path = path.with_suffix(".meta.json")
    if not (path.exists() and meta_path.exists()):
        log(f"generating {size} portfolio ...")
        gp.main(["--size", size, "--seed", str(seed), "--out", str(path)])
    return path, orjson.loads(meta_path.read_bytes())


def long_history_commands(target_events: int = 10_000) -> list[dict[str, Any]]:
    """One contract with ~`target_events` events: SMS usage over quota, 2 events each."""
    start, end = date(2025, 1, 2), gp.LAST_COMMAND_DAY
    days = (end - start).days
    n = target_events // 2
    out: list[dict[str, Any]] = [{
        "command_id": f"{LONG_ID}-0", "type": "sign_contract", "at": start.isoformat(),
        "contract_id": LONG_ID, "customer": "Long history", "term_start": start.isoformat(),
        "term_end": "2026-12-31", "billing_mode": "prepaid", "sms_quota": 0,
        "sms_overage_rate": "0.05",
        "lines": [{"line_id": "DL-1", "kind": "circuit", "monthly_fee": "2000.00"}]},
        {"command_id": f"{LONG_ID}-pay", "type": "record_payment", "at": start.isoformat(),
         "contract_id": LONG_ID, "amount": "10000000.00", "reference": "deposit"}]
    for i in range(n):
        at = date.fromordinal(start.toordinal() + 1 + i * (days - 1) // n)
        out.append({"command_id": f"{LONG_ID}-{i + 1}", "type": "record_sms_usage",
                    "at": at.isoformat(), "contract_id": LONG_ID, "messages": 10})
    return out


# --------------------------------------------------------------------------- ingest
def ingest(url: str, path: Path, batch: int, cache: int) -> dict[str, Any]:
    """`ledger apply` in-process: parse + group commit (with its GC setting)."""
    app = LedgerApplication(url)
    try:
        applier = BatchApplier(app, batch, cache_size=cache)
        with timed() as t, bulk_gc(), path.open("rb") as f:
            for line in f:
                applier.submit(parse_command(orjson.loads(line)))
            applier.flush()
        s = applier.saved
        return {"commands": s.applied, "events": s.events, "transactions": applier.transactions,
                "wall_s": t.wall, "cpu_s": t.cpu, "commands_per_s": t.rate(s.applied),
                "events_per_s": t.rate(s.events),
                "stored_rows": app.recorder.max_notification_id()}
    finally:
        app.close()


def apply_long_history(url: str) -> int:
    app = LedgerApplication(url)
    try:
        applier = BatchApplier(app, 500)
        for c in long_history_commands():
            applier.submit(parse_command(c))
        applier.flush()
        return app.repository.get(app.load(LONG_ID).id).version
    finally:
        app.close()


# --------------------------------------------------------------------------- references
def stored_rows(url: str) -> list[Any]:
    app = LedgerApplication(url)
    try:
        return list(app.recorder.select_notifications(1, 10**9))
    finally:
        app.close()


def library_app(url: str) -> Any:
    """eventsourcing's own `Application` and recorder for `url` -- no append-only
    triggers, no chain heads, one `execute` per inserted row -- with the ledger's
    mapper, so stored events decode exactly as the ledger's do."""
    from eventsourcing.application import Application

    from ledger.store.config import store_env
    from ledger.store.serialization import OrjsonTranscoder, PydanticMapper

    class LibraryReference(Application[Any]):
        name = "ledger"  # the same table names on PostgreSQL

        def construct_transcoder(self) -> Any:
            return OrjsonTranscoder()

        def construct_mapper(self) -> Any:
            return self.factory.mapper(transcoder=self.construct_transcoder(),
                                       mapper_class=PydanticMapper)

    return LibraryReference(env=store_env(url))


def library_insert_select(url: str, save_url: str, rows: list[Any], per_tx: int
                          ) -> dict[str, Any]:
    """eventsourcing's own recorder: insert the same StoredEvents in transactions of
    `per_tx` events, then select them back and decode them with the ledger's mapper.
    Also (into `save_url`) the library's `EventStore.put` of the same domain events,
    decoded beforehand: mapper (pydantic dump + orjson) and insert, per transaction."""
    from eventsourcing.persistence import StoredEvent

    app = library_app(url)
    try:
        rec = app.recorder
        events = [StoredEvent(r.originator_id, r.originator_version, r.topic, r.state)
                  for r in rows]
        with timed() as ins:
            for i in range(0, len(events), per_tx):
                rec.insert_events(events[i:i + per_tx])
        with timed() as sel:
            n, start = 0, 1
            while batch := rec.select_notifications(start, 1000):
                for note in batch:
                    app.mapper.to_domain_event(note)
                n += len(batch)
                start = batch[-1].id + 1
        sample = events[:ONE_PER_TX_SAMPLE]
        fresh = [StoredEvent(uuid.uuid4(), 1, r.topic, r.state) for r in sample]
        with timed() as one:
            for e in fresh:
                rec.insert_events([e])
    finally:
        app.close()
    saver = library_app(save_url)
    try:
        save_wall = 0.0
        for i in range(0, len(events), per_tx):
            chunk = [saver.mapper.to_domain_event(e) for e in events[i:i + per_tx]]
            gc.collect()
            t0 = time.perf_counter()
            saver.events.put(chunk)
            save_wall += time.perf_counter() - t0
    finally:
        saver.close()
    return {"insert_events_per_s": ins.rate(len(events)), "insert_wall_s": ins.wall,
            "insert_cpu_s": ins.cpu, "events_per_tx": per_tx,
            "save_events_per_s": len(events) / save_wall if save_wall else 0.0,
            "select_decode_events_per_s": sel.rate(n), "select_wall_s": sel.wall,
            "one_event_per_tx_per_s": one.rate(len(fresh)), "one_per_tx_sample": len(fresh)}


def event_floor(url: str, rows: list[Any], per_tx: int) -> dict[str, Any]:
    """The ledger's own floor for ingest, with no decisions at all: every stored event
    built again from its fields (pydantic validation), chained (dump + SHA-256), mapped
    and inserted with the ledger's recorder, `per_tx` per transaction, into `url`."""
    from ledger.domain.base import LedgerEvent

    app = LedgerApplication(url)
    try:
        fields = []
        for r in rows:
            e = app.mapper.to_domain_event(r)
            if isinstance(e, LedgerEvent):
                fields.append((type(e), {k: v for k, v in e.__dict__.items()
                                         if k in type(e).model_fields and k != "hash"}))
        with timed() as build:
            built = [cls.chained(**f) for cls, f in fields]
        with timed() as store:
            for i in range(0, len(built), per_tx):
                app.events.put(built[i:i + per_tx])
        n = len(built)
        return {"events": n, "build_chain_per_s": build.rate(n), "store_per_s": store.rate(n),
                "events_per_s": n / (build.wall + store.wall)}
    finally:
        app.close()


def library_one_event_projection(url: str, sample: int) -> dict[str, Any]:
    """What the library's `ProjectionRunner` does per event -- read the notification,
    decode it, and record the position with its tracking recorder in its own
    transaction -- driven by polling (SQLite recorders cannot `subscribe()`, which
    the runner itself needs)."""
    from eventsourcing.persistence import Tracking
    from eventsourcing.sqlite import SQLiteTrackingRecorder

    app = LedgerApplication(url)
    try:
        if type(app.factory).__module__ == "eventsourcing.sqlite":
            tracker: Any = SQLiteTrackingRecorder(app.factory.datastore)
        else:
            from eventsourcing.postgres import PostgresTrackingRecorder

            tracker = PostgresTrackingRecorder(app.factory.datastore,
                                               tracking_table_name="bench_tracking")
        tracker.create_table()
        notes = app.recorder.select_notifications(1, sample)
        with timed() as t:
            for note in notes:
                app.mapper.to_domain_event(note)
                tracker.insert_tracking(Tracking("ledger", note.id))
        return {"events_per_s": t.rate(len(notes)), "sample": len(notes)}
    finally:
        app.close()


def library_projection_runner_pg(url: str, sample: int) -> dict[str, Any] | None:
    """The library's own `ProjectionRunner` (PostgreSQL: it needs LISTEN/NOTIFY)."""
    try:
        from eventsourcing.postgres import PostgresTrackingRecorder
        from eventsourcing.projection import Projection, ProjectionRunner
    except ImportError:
        return None

    class CountingView(PostgresTrackingRecorder):
        pass

    class Counting(Projection[CountingView]):
        name = "bench_counting"
        topics = ()

        def process_event(self, domain_event: Any, tracking: Any) -> None:
            self.view.insert_tracking(tracking)

    schema = url.split("schema=")[1]
    host_part = PG_BASE.split("//")[1]
    user, rest = host_part.split("@")
    hostport, dbname = rest.split("/")
    host, port = hostport.split(":")
    from ledger.store.config import store_env

    env = {**store_env(url), "POSTGRES_SCHEMA": schema}
    view_env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": dbname,
                "POSTGRES_HOST": host, "POSTGRES_PORT": port, "POSTGRES_USER": user,
                "POSTGRES_PASSWORD": "", "POSTGRES_SCHEMA": schema}
    class FixedStoreApp(LedgerApplication):
        def __init__(self, env: Any = None) -> None:  # the runner passes env only
            super().__init__(url, env)

    runner = None
    try:
        runner = ProjectionRunner(
            application_class=FixedStoreApp, projection_class=Counting,
            view_class=CountingView,
            env={**env, **{f"BENCH_COUNTING_{k}": v for k, v in view_env.items()}})
        with timed() as t:
            runner.wait(sample, timeout=600)
        return {"events_per_s": t.rate(sample), "sample": sample}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        if runner is not None:
            runner.stop()


def physical_floor(path: Path, rows: list[Any]) -> dict[str, Any]:
    """Plain sqlite3 + orjson: the same rows in 1,000-row transactions (WAL), read back
    and decoded."""
    db = sqlite_url(path).removeprefix("sqlite:///")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
                 "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")
    data = [(str(r.originator_id), r.originator_version, r.topic, bytes(r.state)) for r in rows]
    with timed() as w:
        for i in range(0, len(data), 1000):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", data[i:i + 1000])
            conn.execute("COMMIT")
    with timed() as r:
        n = 0
        for row in conn.execute("SELECT rowid, originator_id, originator_version, topic, state "
                                "FROM stored_events ORDER BY rowid"):
            orjson.loads(row[4])
            n += 1
    conn.close()
    return {"write_rows_per_s": w.rate(len(data)), "read_decode_rows_per_s": r.rate(n)}


# --------------------------------------------------------------------------- projections
#: VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec (the parent's peak)
_PEAK = r"""
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

_REBUILD_CHILD = _PEAK + r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from projections.runner import Store, rebuild
t0, c0 = time.perf_counter(), time.process_time()
with Store(sys.argv[1]) as st:
    n = rebuild(st)
w, c = time.perf_counter() - t0, time.process_time() - c0
kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # forked rebuild workers, if any
print(json.dumps({"events": n, "wall_s": w, "cpu_s": c,
                  "workers_cpu_s": kids.ru_utime + kids.ru_stime,
                  "peak_rss_mb": peak_rss_mb(),
                  "worker_peak_rss_mb": kids.ru_maxrss / 1024}))
"""

_SELECT_CHILD = _PEAK + r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
from ledger.application import LedgerApplication
app = LedgerApplication(sys.argv[1])
t0 = time.perf_counter(); n = 0; start = 1
while batch := app.recorder.select_notifications(start, 1000):
    for note in batch:
        app.mapper.to_domain_event(note)
    n += len(batch); start = batch[-1].id + 1
w = time.perf_counter() - t0
app.close()
print(json.dumps({"events": n, "wall_s": w,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def child(script: str, url: str) -> dict[str, Any]:
    p = subprocess.run([sys.executable, "-c", script, url, str(ROOT)], capture_output=True,
                       text=True, timeout=7200)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed"}
    return orjson.loads(p.stdout.strip().splitlines()[-1])


def projections_available() -> bool:
    try:
        from projections.runner import Store, rebuild  # noqa: F401
    except Exception as e:
        log(f"projections not importable: {type(e).__name__}: {e}")
        return False
    return True


# --------------------------------------------------------------------------- queries
#: a long-running reader: the library's aggregate cache, fast-forwarded from the store
#: on every get (one indexed select), not deep-copied (queries only read)
CACHED_ENV = {"AGGREGATE_CACHE_MAXSIZE": "10000", "AGGREGATE_CACHE_FASTFORWARD": "y",
              "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}


def query_latencies(url: str, ids: list[str], month_of: Callable[[str], date]
                    ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, env in (("aggregate", None), ("aggregate_cached", CACHED_ENV)):
        out[name] = _aggregate_latencies(url, ids, month_of, env)
    out.update(_projection_latencies(url, ids, month_of))
    return out


def _aggregate_latencies(url: str, ids: list[str], month_of: Callable[[str], date],
                         env: dict[str, str] | None) -> dict[str, Any]:
    app = LedgerApplication(url, env=env)
    try:
        if env:  # warm the cache: the figures are for a reader that has seen them once
            for cid in set(ids):
                app.load(cid)
        status_ms, bill_ms = [], []
        for cid in ids:
            t0 = time.perf_counter()
            s = app.load(cid).state
            views.status_view(s, s.clock)
            status_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            s = app.load_history(cid).state  # a bill reads the contract's history
            views.bill_view(s, month_of(cid), s.clock)
            bill_ms.append((time.perf_counter() - t0) * 1000)
            s = None  # freed here, not inside the next timed status query
        return {"status_p50_ms": pct(status_ms, 50), "status_p99_ms": pct(status_ms, 99),
                "bill_p50_ms": pct(bill_ms, 50), "bill_p99_ms": pct(bill_ms, 99),
                "samples": len(ids)}
    finally:
        app.close()


def _projection_latencies(url: str, ids: list[str], month_of: Callable[[str], date]
                          ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if projections_available():
        from projections.runner import Store

        try:
            with Store(url) as st:
                status_ms, bill_ms = [], []
                for cid in ids:
                    t0 = time.perf_counter()
                    st.query("SELECT * FROM proj_contract WHERE contract_id = ?", (cid,))
                    st.query("SELECT * FROM proj_contract_line WHERE contract_id = ?", (cid,))
                    status_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    st.query("SELECT * FROM proj_charge_item WHERE contract_id = ? AND "
                             "service_month = ?", (cid, month_of(cid).strftime("%Y-%m")))
                    bill_ms.append((time.perf_counter() - t0) * 1000)
            out["projection"] = {"status_p50_ms": pct(status_ms, 50),
                                 "status_p99_ms": pct(status_ms, 99),
                                 "bill_p50_ms": pct(bill_ms, 50), "bill_p99_ms": pct(bill_ms, 99),
                                 "samples": len(ids)}
        except Exception as e:
            out["projection"] = {"error": f"{type(e).__name__}: {e}"}
    else:
        out["projection"] = {"error": "projections package not available"}
    return out


def contract_versions(url: str) -> dict[str, int]:
    app = LedgerApplication(url)
    try:
        counts: dict[Any, int] = {}
        for note in app.recorder.select_notifications(1, 10**9):
            counts[note.originator_id] = max(counts.get(note.originator_id, 0),
                                             note.originator_version)
        from ledger.domain.contract import contract_uuid

        return {cid: counts[contract_uuid(cid)] for cid in app.contract_ids()}
    finally:
        app.close()


# --------------------------------------------------------------------------- month end
def month_end(url: str, to: date, limit: int | None = None) -> dict[str, Any]:
    """`ledger advance --to`: every contract's clock moved, in batches (group commit)."""
    from ledger.batch import AdvanceClock

    app = LedgerApplication(url)
    try:
        ids = app.contract_ids()[:limit]
        events = 0
        with timed() as t, bulk_gc():
            applier = BatchApplier(app)
            for cid in ids:
                events += len(applier.submit(AdvanceClock(cid, to, actor="bench")).events)
            applier.flush()
        return {"contracts": len(ids), "events": events, "wall_s": t.wall, "cpu_s": t.cpu,
                "contracts_per_s": t.rate(len(ids))}
    finally:
        app.close()


# --------------------------------------------------------------------------- report
def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for pkg in ("eventsourcing", "pydantic", "orjson", "psycopg"):
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = "?"
    try:
        import psycopg

        with psycopg.connect(PG_BASE, connect_timeout=3) as conn:
            out["postgresql"] = str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception:
        out["postgresql"] = "unavailable"
    return out


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "load_average_at_start": os.getloadavg()}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def rows_for_table(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, figure, reference, ratio) rows of the printed/markdown table."""
    out = []

    def add(name: str, value: float | None, unit: str, ref_name: str, ref: float | None,
            target: str = "") -> None:
        v = f"{value:,.1f} {unit}" if value is not None else "n/a"
        rf = f"{ref_name} {ref:,.1f}" if ref else ""
        rt = ratio(value, ref)
        out.append((name, v, rf, (f"{rt:.3f}" if rt is not None else "") +
                    (f" (target {target})" if target else "")))

    lib = r.get("library_sqlite", {})
    floor = r.get("physical_floor_sqlite", {})
    one = r.get("library_one_event_per_tx_sqlite", {})
    for store in ("sqlite", "postgres"):
        ing = r.get(f"ingest_{store}")
        if not ing:
            continue
        libs = r.get(f"library_{store}", {})
        add(f"ingest {store}: commands/s", ing["commands_per_s"], "/s", "", None)
        add(f"ingest {store}: contract events/s", ing["events_per_s"], "/s", "", None)
        rows_per_s = ing["stored_rows"] / ing["wall_s"]  # events + receipts, as referenced
        add(f"ingest {store}: stored events/s", rows_per_s, "/s",
            "library insert_events/s", libs.get("insert_events_per_s"),
            ">= 0.5" if store == "sqlite" else "")
        add(f"ingest {store}: stored events/s vs library save", rows_per_s, "/s",
            "library EventStore.put/s", libs.get("save_events_per_s"))
        if store == "sqlite":
            ef = r.get("event_floor_sqlite", {})
            add("ingest sqlite: stored events/s vs events built+stored, no decisions",
                rows_per_s, "/s", "event floor/s", ef.get("events_per_s"))
            add("event floor sqlite (build+chain, then map+insert): events/s",
                ef.get("events_per_s"), "/s", "library insert_events/s",
                libs.get("insert_events_per_s"))
        if store == "sqlite":
            add("ingest sqlite: stored events/s vs physical floor", rows_per_s, "/s",
                "sqlite3 writes/s", floor.get("write_rows_per_s"))
    rb = r.get("rebuild_sqlite", {})
    if "events_per_s" in rb:
        add("projection rebuild sqlite: events/s", rb["events_per_s"], "/s",
            "library select+decode/s", lib.get("select_decode_events_per_s"), ">= 0.7")
        add("projection rebuild sqlite: vs one event per tx", rb["events_per_s"], "/s",
            "library 1 event/tx/s", one.get("events_per_s"), ">= 15")
        add("projection rebuild sqlite: peak RSS, rebuilding process + largest worker",
            rb.get("peak_rss_mb", 0) + rb.get("worker_peak_rss_mb", 0), "MB",
            "library select+decode peak RSS", r.get("select_child_sqlite", {}).get("peak_rss_mb"),
            "< 400 MB at large")
    else:
        out.append(("projection rebuild", "n/a", rb.get("error", "not available"), ""))
    if "select_decode_events_per_s" in lib:
        add("library select+decode sqlite: events/s", lib["select_decode_events_per_s"], "/s",
            "sqlite3 read+decode/s", floor.get("read_decode_rows_per_s"))
        add("library insert sqlite: events/s", lib["insert_events_per_s"], "/s",
            "sqlite3 writes/s", floor.get("write_rows_per_s"))
        add("library EventStore.put sqlite (mapper + insert): events/s",
            lib.get("save_events_per_s"), "/s", "library insert_events/s",
            lib["insert_events_per_s"])
    for hist in ("h100", "h10k"):
        q = r.get(f"queries_{hist}", {})
        for src in ("aggregate", "aggregate_cached", "projection"):
            x = q.get(src, {})
            if "status_p50_ms" not in x:
                out.append((f"query {hist} {src}", "n/a", x.get("error", ""), ""))
                continue
            tgt = 1.0 if src == "projection" else 5.0
            p = "p50" if src == "projection" else "p99"
            add(f"status {hist} {src} p50 ms", x["status_p50_ms"], "ms", "", None)
            add(f"status {hist} {src} p99 ms", x["status_p99_ms"], "ms",
                "target ms", tgt if p == "p99" else None)
            if p == "p50":
                out[-2] = (out[-2][0], out[-2][1], f"target ms {tgt}",
                           f"{x['status_p50_ms'] / tgt:.3f} (target <= 1)")
            add(f"bill {hist} {src} p50 ms", x["bill_p50_ms"], "ms", "", None)
            add(f"bill {hist} {src} p99 ms", x["bill_p99_ms"], "ms", "", None)
    me = r.get("month_end_sqlite")
    if me:
        add("month end sqlite: contracts/s", me["contracts_per_s"], "/s",
            "library 1 event/tx saves/s", lib.get("one_event_per_tx_per_s"))
    return out


def render_md(r: dict[str, Any], table: list[tuple[str, str, str, str]]) -> str:
    lines = [f"# Benchmarks ({r['size']}, {r['date']})", "",
             "Measured by `scripts/bench.py --size " + r["size"] + "` in one run on one "
             "generated portfolio. Every figure is measured in the same run as its "
             "reference; ratio = figure / reference.", "",
             f"- machine: {r['machine']['cpu']}, {r['machine']['cores']} cores, "
             f"{r['machine']['memory']}, {r['machine']['os']}; load average at start "
             f"{', '.join(f'{x:.2f}' for x in r['machine']['load_average_at_start'])}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
             f"- portfolio: {r['portfolio']['contracts']} contracts, "
             f"{r['portfolio']['commands']} commands, {r['portfolio']['events']} events "
             f"(seed {r['portfolio']['seed']}), batch {r['batch']} commands/transaction", "",
             "| measure | figure | reference | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table]
    notes = NOTES.read_text() if NOTES.exists() else ""
    return "\n".join(lines) + "\n\n" + notes


#: Hand-written findings (profiles, changes, what is left), kept in their own file so that
#: every regenerated benchmarks.md carries them under the measured table.
NOTES = ROOT / "docs" / "benchmarks-notes.md"


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=sorted(gp.SIZES), default="small")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--cache", type=int, default=DEFAULT_CACHE,
                   help="contracts kept in memory while ingesting (`ledger apply --cache`)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ledger-bench"))
    p.add_argument("--out", type=Path, default=ROOT / "docs",
                   help="directory for benchmarks.json and benchmarks.md")
    p.add_argument("--no-pg", action="store_true", help="SQLite only")
    p.add_argument("--no-long", action="store_true", help="skip the 10,000-event contract")
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    if a.size == "tiny":  # the CI smoke: seconds, not minutes
        global ONE_PER_TX_SAMPLE, QUERY_SAMPLES
        ONE_PER_TX_SAMPLE, QUERY_SAMPLES = 300, 40
    rng = random.Random(a.seed)
    r: dict[str, Any] = {"size": a.size, "batch": a.batch,
                         "date": datetime.now(UTC).isoformat(timespec="seconds"),
                         "machine": machine(), "versions": versions()}
    path, meta = portfolio(a.size, a.seed, a.workdir)
    r["portfolio"] = meta

    log("ingest sqlite ...")
    url = sqlite_url(a.workdir / f"ledger-{a.size}.db")
    r["ingest_sqlite"] = ing = ingest(url, path, a.batch, a.cache)
    per_tx = max(1, round(ing["stored_rows"] / max(1, ing["transactions"])))
    rows = stored_rows(url)

    log("references sqlite ...")
    r["library_sqlite"] = library_insert_select(
        sqlite_url(a.workdir / f"library-{a.size}.db"),
        sqlite_url(a.workdir / f"library-save-{a.size}.db"), rows, per_tx)
    r["physical_floor_sqlite"] = physical_floor(a.workdir / f"floor-{a.size}.db", rows)
    r["event_floor_sqlite"] = event_floor(
        sqlite_url(a.workdir / f"event-floor-{a.size}.db"), rows, per_tx)
    r["library_one_event_per_tx_sqlite"] = library_one_event_projection(
        url, min(ONE_PER_TX_SAMPLE, len(rows)))

    if not a.no_pg:
        pgu = pg_url(a.size)
        if pgu:
            try:
                log("ingest postgres ...")
                r["ingest_postgres"] = ing_pg = ingest(pgu, path, a.batch, a.cache)
                lib_pg, save_pg = pg_url(a.size + "_lib"), pg_url(a.size + "_save")
                if lib_pg and save_pg:
                    r["library_postgres"] = library_insert_select(
                        lib_pg, save_pg, rows, max(1, round(ing_pg["stored_rows"] /
                                                            max(1, ing_pg["transactions"]))))
                for u in (lib_pg, save_pg):
                    if u:
                        drop_pg(u)
                r["library_projection_runner_postgres"] = library_projection_runner_pg(
                    pgu, min(ONE_PER_TX_SAMPLE, len(rows)))
            finally:
                drop_pg(pgu)

    log("projection rebuild ...")
    r["select_child_sqlite"] = child(_SELECT_CHILD, url)
    if projections_available():
        rb = child(_REBUILD_CHILD, url)
        if "wall_s" in rb:
            rb["events_per_s"] = rb["events"] / rb["wall_s"]
        r["rebuild_sqlite"] = rb
    else:
        r["rebuild_sqlite"] = {"error": "projections package not available"}

    log("queries ...")
    versions_by_id = contract_versions(url)
    near100 = sorted(versions_by_id, key=lambda c: abs(versions_by_id[c] - 100))
    ids100 = [rng.choice(near100[:50]) for _ in range(QUERY_SAMPLES)]
    last_month = date(2026, 10, 1)
    r["queries_h100"] = query_latencies(url, ids100, lambda _: last_month)
    r["queries_h100"]["history_events"] = statistics.median(versions_by_id[c] for c in ids100)
    if not a.no_long:
        log("long history ...")
        r["long_history_events"] = apply_long_history(url)
        if projections_available():  # bring the projections up to date with it
            child(_REBUILD_CHILD, url)
        r["queries_h10k"] = query_latencies(url, [LONG_ID] * QUERY_SAMPLES,
                                            lambda _: last_month)
        r["queries_h10k"]["history_events"] = r["long_history_events"]

    log("month end ...")
    r["month_end_sqlite"] = month_end(url, gp.MONTH_END)

    table = rows_for_table(r)
    width = max(len(x[0]) for x in table)
    print(f"\nportfolio {meta['contracts']} contracts, {meta['commands']} commands, "
          f"{meta['events']} events; batch {a.batch}")
    for name, fig, ref, rt in table:
        print(f"{name:<{width}}  {fig:>18}  {ref:<38} {rt}")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "benchmarks.json").write_bytes(orjson.dumps(r, option=orjson.OPT_INDENT_2))
    (a.out / "benchmarks.md").write_text(render_md(r, table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
