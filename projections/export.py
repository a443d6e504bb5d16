"""Reading the read models: exports for downstream tools, and the two reports.

Exports are ordered by each table's key and use canonical values (see
`projections.schema.canonical`), so SQLite and PostgreSQL export the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import orjson

from ledger.rules.money import ZERO, fmt
from projections.readmodels import AGING_BUCKETS, BALANCE, LINE_KINDS, PORTFOLIO, TABLES
from projections.runner import Store
from projections.schema import Table, as_decimal, canonical

FORMATS = ("csv", "jsonl", "parquet")


class ExportError(ValueError):
    pass


def resolve_table(name: str) -> Table:
    """`proj_bill` or just `bill`."""
    table = TABLES.get(name) or TABLES.get(f"proj_{name}")
    if table is None:
        short = ", ".join(t.removeprefix("proj_") for t in TABLES)
        raise ExportError(f"unknown table {name!r} (known: {short})")
    return table


def rows(store: Store, table: Table) -> Iterator[dict[str, Any]]:
    """Every row of `table`, in key order, with canonical values."""
    if not store.table_exists(table.name):
        raise ExportError(f"table {table.name} does not exist yet: run "
                          "`ledger projections catch-up` first")
    order = ", ".join(table.key)
    for r in store.query(f"SELECT {', '.join(table.names)} FROM {store.qualify(table.name)} "
                         f"ORDER BY {order}"):
        yield {c.name: canonical(c.type, r[c.name]) for c in table.cols}


def export(store: Store, table: Table, fmt_: str, out: IO[bytes]) -> int:
    """Write `table` to the binary stream `out`; returns the number of rows."""
    data = list(rows(store, table))
    if fmt_ == "csv":
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(table.names)
        for r in data:
            writer.writerow(["" if v is None else ("true" if v is True else "false")
                             if isinstance(v, bool) else v for v in r.values()])
        out.write(text.getvalue().encode())
    elif fmt_ == "jsonl":
        json_cols = [c.name for c in table.cols if c.type == "json"]
        for r in data:
            for c in json_cols:  # embed the payload as an object, not as a string
                r[c] = orjson.Fragment(r[c]) if r[c] is not None else None
            out.write(orjson.dumps(r) + b"\n")
    elif fmt_ == "parquet":
        _parquet(table, data, out)
    else:
        raise ExportError(f"--format: {fmt_!r} is not one of {', '.join(FORMATS)}")
    return len(data)


def _parquet(table: Table, data: list[dict[str, Any]], out: IO[bytes]) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"text": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "date": pa.date32(),
             "ts": pa.timestamp("us", tz="UTC"), "money": pa.decimal128(18, 2),
             "decimal": pa.string(), "json": pa.string()}
    parse = {"date": dt.date.fromisoformat, "ts": dt.datetime.fromisoformat, "money": Decimal}
    columns = {}
    for c in table.cols:
        f = parse.get(c.type)
        values = [r[c.name] if r[c.name] is None or f is None else f(r[c.name]) for r in data]
        columns[c.name] = pa.array(values, type=types[c.type])
    pq.write_table(pa.table(columns), out)


# ------------------------------------------------------------------------ reports


def portfolio_report(store: Store, month: str) -> dict[str, Any]:
    """The portfolio in `month` (YYYY-MM): sums of the month's per-contract rows."""
    found = [r for r in rows(store, PORTFOLIO) if r["month"] == month]
    by_status = dict.fromkeys(("signed", "active", "suspended", "terminated"), 0)
    lines = dict.fromkeys(("active", "suspended", "pending", "terminated"), 0)
    mrr = dict.fromkeys(LINE_KINDS, ZERO)
    sums = dict.fromkeys(("renewed", "terminated", "cancelled", "equipment_outstanding",
                          "equipment_recovered", "equipment_lost"), 0)
    rent = ZERO
    open_ = 0
    for r in found:
        by_status[r["status"]] += 1
        for k in lines:
            lines[k] += r[f"lines_{k}"]
        for k in LINE_KINDS:
            mrr[k] += as_decimal(r[f"mrr_{k}"])
        for k in sums:
            sums[k] += r[k]
        rent += as_decimal(r["rent_charged"])
        open_ += int(r["as_of"] < _last_day(month))
    return {
        "month": month, "contracts": len(found), "contracts_by_status": by_status,
        "lines_by_status": lines, "mrr_by_kind": {k: fmt(v) for k, v in mrr.items()},
        "mrr_total": fmt(sum(mrr.values(), ZERO)), "rent_charged": fmt(rent),
        "renewals": sums["renewed"], "terminations": sums["terminated"],
        "cancellations": sums["cancelled"],
        "equipment_outstanding": sums["equipment_outstanding"],
        "equipment_recovered": sums["equipment_recovered"],
        "equipment_lost": sums["equipment_lost"],
        "contracts_with_clock_before_month_end": open_,
    }


def _last_day(month: str) -> str:
    from ledger.rules.dates import month_end, parse_month

    return month_end(parse_month(month)).isoformat()


def arrears_report(store: Store) -> dict[str, Any]:
    """Aging of every contract (bucket totals) and the contracts in arrears, oldest first."""
    all_rows = list(rows(store, BALANCE))
    buckets = {label: {"contracts": 0, "overdue_amount": ZERO}
               for label, _ in reversed(AGING_BUCKETS)}
    for r in all_rows:
        b = buckets[r["aging_bucket"]]
        b["contracts"] += 1
        b["overdue_amount"] += as_decimal(r["overdue_amount"])
    late = sorted((r for r in all_rows if r["arrears_days"] > 0),
                  key=lambda r: (-r["arrears_days"], r["contract_id"]))
    keep = ("contract_id", "customer", "status", "as_of", "balance", "overdue_bills",
            "overdue_amount", "oldest_unpaid_due_on", "arrears_since", "arrears_days",
            "aging_bucket")
    return {
        "buckets": {k: {"contracts": v["contracts"], "overdue_amount": fmt(v["overdue_amount"])}
                    for k, v in buckets.items()},
        "contracts": [{k: r[k] for k in keep} for r in late],
    }
