"""Helpers for the projection tests: fresh stores, copying a log, comparing with views."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from ledger.application import LedgerApplication
from ledger.domain.commands import parse_command
from projections.export import rows
from projections.readmodels import TABLES
from projections.runner import Store, rebuild
from projections.verify import differences
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
    assert differences(app, store, contract_ids) == []


def assert_rebuild_changes_nothing(store: Store) -> None:
    """A rebuild from event 1 gives the rows the tables already hold."""
    before = snapshot(store)
    rebuild(store)
    assert snapshot(store) == before


__all__ = ["assert_matches_aggregates", "assert_rebuild_changes_nothing", "copy_log",
           "drop_sibling", "load_contracts", "sibling_store", "snapshot"]
