"""Helpers for the projection tests: fresh stores, copying a log, comparing with views."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from eventsourcing.persistence import StoredEvent

from ledger.application import LedgerApplication
from ledger.domain import views
from ledger.domain.commands import parse_command
from ledger.rules.dates import parse_month
from projections.export import rows
from projections.readmodels import TABLES
from projections.runner import Store
from projections.schema import canonical
from tests.scenarios import worked_example_commands

__test__ = False


def sibling_store(url: str, tag: str) -> str:
    """Another empty store next to `url` (a new file, or a new PG schema)."""
    if url.startswith("sqlite:///"):
        return url.removesuffix(".db") + f"-{tag}.db"
    base, _, query = url.partition("?schema=")
    schema = f"{query}_{tag}"[:60]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    return f"{base}?schema={schema}"


def drop_sibling(url: str) -> None:
    if url.startswith("postgresql"):
        base, _, schema = url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    return {name: list(rows(store, t)) for name, t in TABLES.items()}


def load_contracts(app: LedgerApplication, n: int, prefix: str = "K") -> None:
    """`n` reference contracts (some unpaid, one terminated early), advanced to 2026-12-31."""
    for i in range(n):
        cid = f"{prefix}{i:04d}"
        extra: list[Any] = []
        if i % 3 == 0:
            extra.append(("record_payment", "2025-09-01",
                          {"amount": "90000.00", "reference": f"PRE-{i}"}))
        if i % 5 == 4:
            extra.append(("terminate", "2026-03-10", {"reason": "mutual"}))
            extra.append(("report_equipment_lost", "2026-03-20", {"asset_id": "RTR-0001"}))
        for c in worked_example_commands(contract_id=cid, extra=extra,
                                         dl2_confirmed_on=date(2025, 10, 10) if i % 2 else None):
            app.execute(parse_command(c))
        app.advance(date(2026, 12, 31), cid)


def copy_log(src: LedgerApplication, dst: LedgerApplication) -> int:
    """The same stored events (ids, record times, hashes) in another store."""
    start, copied = 1, 0
    while True:
        batch = src.recorder.select_notifications(start, 1000)
        if not batch:
            return copied
        dst.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic,
                                                n.state) for n in batch])
        copied += len(batch)
        start = batch[-1].id + 1


def assert_matches_aggregates(app: LedgerApplication, store: Store,
                              contract_ids: list[str] | None = None) -> None:
    """Projection rows equal what `ledger.domain.views` says of each aggregate, as of its
    clock: status, term, balance, unbilled, arrears, lines, every item of every service
    month, every issued bill."""
    ids = contract_ids if contract_ids is not None else app.contract_ids()
    c_rows = {r["contract_id"]: r for r in rows(store, TABLES["proj_contract"])}
    l_rows = {(r["contract_id"], r["line_id"]): r
              for r in rows(store, TABLES["proj_contract_line"])}
    b_rows = {r["contract_id"]: r for r in rows(store, TABLES["proj_balance"])}
    items: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows(store, TABLES["proj_charge_item"]):
        items.setdefault((r["contract_id"], r["service_month"]), []).append(r)
    months = {(r["contract_id"], r["service_month"]): r
              for r in rows(store, TABLES["proj_service_month"])}
    bills = {r["bill_id"]: r for r in rows(store, TABLES["proj_bill"])}
    for cid in ids:
        s = app.load(cid).state
        v = views.status_view(s, s.clock)
        c, b = c_rows[cid], b_rows[cid]
        assert c["as_of"] == v["as_of"] == b["as_of"]
        for k in ("status", "term_start", "term_end", "terminated_on", "termination_reason"):
            assert c[k] == v[k], (cid, k)
        for k in ("balance", "unbilled", "arrears_since", "status"):
            assert b[k] == v[k], (cid, k)
        for lv in v["lines"]:
            row = l_rows[(cid, lv["line_id"])]
            for k in ("kind", "status", "billing_start", "monthly_fee"):
                assert row[k] == lv[k], (cid, lv["line_id"], k)
        for m in sorted({x.service_month for x in s.charges}):
            bv = views.bill_view(s, parse_month(m), s.clock)
            got = sorted(items[(cid, m)], key=lambda r: r["charge_id"])
            want = sorted(bv["items"], key=lambda r: r["charge_id"])
            assert [{k: r[k] for k in want[0]} for r in got] == want, (cid, m)
            assert months[(cid, m)]["total"] == bv["total"]
            assert months[(cid, m)]["items"] == len(want)
        assert len([k for k in items if k[0] == cid]) == len({x.service_month for x in s.charges})
        issued = views.bills_issued(s, s.clock)
        assert len([x for x in bills.values() if x["contract_id"] == cid]) == len(issued)
        for want_bill in issued:
            got_bill = bills[want_bill["bill_id"]]
            assert {k: got_bill[k] for k in want_bill} == want_bill
        assert Decimal(b["overdue_amount"]) >= 0


__all__ = ["assert_matches_aggregates", "canonical", "copy_log", "drop_sibling",
           "load_contracts", "sibling_store", "snapshot"]
