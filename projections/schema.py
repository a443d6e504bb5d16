"""Portable table definitions for the read models, and value conversion per store.

Every read-model table is declared once here (name, columns with a logical type
and the question each column answers, key, indexes); the DDL for SQLite and for
PostgreSQL, the casts of the values written (`projections.runner.Writer`), and the
canonical values exported are all derived from these declarations, which is what
makes exports from the two stores byte-identical.

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
    #: A rebuild only ever appends rows to it: its shadow table gets its key after the
    #: rows are in (`key_statement`), instead of an index updated all over per insert.
    appended_by_rebuild: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cols]


def create_statements(table: Table, physical: str, dialect: str, qualify: Any, *,
                      key: bool = True) -> list[str]:
    """CREATE TABLE/INDEX IF NOT EXISTS for `table` stored under the name `physical`
    (the live name, or a shadow name during a rebuild), the table without its key
    constraint if not `key`. Index names derive from the physical name so that a
    shadow table's indexes never collide with the live ones."""
    types = _DDL_TYPES[dialect]
    cols = ", ".join(f"{c.name} {types[c.type]}" + (" NOT NULL" if c.name in table.key else "")
                     for c in table.cols)
    constraint = f", CONSTRAINT {physical}_pk PRIMARY KEY ({', '.join(table.key)})" if key else ""
    out = [f"CREATE TABLE IF NOT EXISTS {qualify(physical)} ({cols}{constraint})"]
    for n, cols_ in enumerate(table.indexes, start=1):
        idx = f"{physical}_ix{n}"
        on = qualify(physical)
        out.append(f"CREATE INDEX IF NOT EXISTS {idx} ON {on} ({', '.join(cols_)})")
    return out


def key_statement(table: Table, physical: str, dialect: str, qualify: Any) -> str:
    """The key of a table created without it: on PostgreSQL the primary key constraint
    itself; SQLite cannot add one to a table, so a unique index of the same name (the
    same for `ON CONFLICT` and for lookups)."""
    if dialect == POSTGRES:
        return (f"ALTER TABLE {qualify(physical)} ADD CONSTRAINT {physical}_pk "
                f"PRIMARY KEY ({', '.join(table.key)})")
    return (f"CREATE UNIQUE INDEX IF NOT EXISTS {physical}_pk ON {qualify(physical)} "
            f"({', '.join(table.key)})")


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
