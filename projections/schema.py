"""Portable table definitions for the read models, and value conversion per store.

Every read-model table is declared once here (name, columns with a logical type
and the question each column answers, key, indexes); the DDL for SQLite and for
PostgreSQL, the parameter values written, and the canonical values exported are
all derived from these declarations, which is what makes exports from the two
stores byte-identical.

Logical types: ``text``, ``int``, ``bool``, ``date`` (ISO text on SQLite, DATE on
PG), ``ts`` (UTC record time: ISO text on SQLite, TIMESTAMPTZ on PG), ``money``
(two decimals: TEXT on SQLite -- never REAL, SQLite has no decimal type --
NUMERIC(18,2) on PG), ``decimal`` (a rate: TEXT / NUMERIC) and ``json`` (sorted-key
JSON text on SQLite, JSONB on PG).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from ledger.rules.money import fmt

SQLITE, POSTGRES = "sqlite", "postgresql"

_DDL_TYPES = {
    SQLITE: {"text": "TEXT", "int": "INTEGER", "bool": "INTEGER", "date": "TEXT", "ts": "TEXT",
             "money": "TEXT", "decimal": "TEXT", "json": "TEXT"},
    POSTGRES: {"text": "TEXT", "int": "BIGINT", "bool": "BOOLEAN", "date": "DATE",
               "ts": "TIMESTAMPTZ", "money": "NUMERIC(18,2)", "decimal": "NUMERIC",
               "json": "JSONB"},
}


@dataclass(frozen=True)
class Col:
    name: str
    type: str
    doc: str


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    cols: tuple[Col, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cols]


def create_statements(table: Table, physical: str, dialect: str, qualify: Any) -> list[str]:
    """CREATE TABLE/INDEX IF NOT EXISTS for `table` stored under the name `physical`
    (the live name, or a shadow name during a rebuild). Index names derive from the
    physical name so that a shadow table's indexes never collide with the live ones."""
    types = _DDL_TYPES[dialect]
    cols = ", ".join(f"{c.name} {types[c.type]}" + (" NOT NULL" if c.name in table.key else "")
                     for c in table.cols)
    out = [f"CREATE TABLE IF NOT EXISTS {qualify(physical)} ({cols}, "
           f"CONSTRAINT {physical}_pk PRIMARY KEY ({', '.join(table.key)}))"]
    for n, cols_ in enumerate(table.indexes, start=1):
        idx = f"{physical}_ix{n}"
        on = qualify(physical)
        out.append(f"CREATE INDEX IF NOT EXISTS {idx} ON {on} ({', '.join(cols_)})")
    return out


def to_db(table: Table, row: dict[str, Any], dialect: str) -> tuple[Any, ...]:
    """Parameters for one row, in column order, typed for the store."""
    out = []
    for c in table.cols:
        v = row.get(c.name)
        if v is not None:
            v = _to_db(c.type, v, dialect)
        out.append(v)
    return tuple(out)


def _to_db(kind: str, v: Any, dialect: str) -> Any:
    if kind == "money":
        d = Decimal(v).quantize(Decimal("0.01")) + 0  # + 0: no "-0.00" (PG has no -0)
        return fmt(d) if dialect == SQLITE else d
    if kind == "decimal":
        return str(v) if dialect == SQLITE else Decimal(v)
    if kind == "date":
        d = v if isinstance(v, date) else date.fromisoformat(v)
        return d.isoformat() if dialect == SQLITE else d
    if kind == "ts":
        assert isinstance(v, datetime) and v.tzinfo is not None
        v = v.astimezone(UTC)
        return v.isoformat() if dialect == SQLITE else v
    if kind == "bool":
        return int(bool(v)) if dialect == SQLITE else bool(v)
    if kind == "json":
        text = orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
        if dialect == SQLITE:
            return text
        from psycopg.types.json import Jsonb

        return Jsonb(v)
    return v


def canonical(kind: str, v: Any) -> Any:
    """A stored value as exported: the same on both stores (money and rates as
    decimal strings, dates ISO, record times ISO UTC, JSON as sorted-key text)."""
    if v is None:
        return None
    if kind == "money":
        return fmt(Decimal(v) + 0)
    if kind == "decimal":
        return str(v)  # SQLite keeps the text written; PG's NUMERIC keeps its scale
    if kind == "date":
        return v.isoformat() if isinstance(v, date) else str(v)
    if kind == "ts":
        if isinstance(v, str):
            v = datetime.fromisoformat(v)
        return v.astimezone(UTC).isoformat()
    if kind == "bool":
        return bool(v)
    if kind == "int":
        return int(v)
    if kind == "json":
        obj = orjson.loads(v) if isinstance(v, (str, bytes)) else v
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
    return v


def as_decimal(v: Any) -> Decimal:
    """A money value read back from either store (TEXT or NUMERIC) as a Decimal."""
    return Decimal(v) if v is not None else Decimal("0.00")
