"""Append-only in the database itself: triggers that refuse to rewrite stored events.

The application never updates or deletes an event, but that is a promise of the
code. These triggers make it a property of the store, whoever connects:

- SQLite (`stored_events`): BEFORE UPDATE and BEFORE DELETE triggers abort, and a
  BEFORE INSERT trigger aborts an insert whose (originator_id, originator_version)
  already exists, because ``INSERT OR REPLACE`` deletes the old row *without*
  firing DELETE triggers (SQLite fires them only with recursive_triggers on).
  A refused plain insert stays a constraint error (`sqlite3.IntegrityError`), so
  the library still sees a version conflict as `IntegrityError`.
- PostgreSQL (`<schema>.ledger_events`): a row trigger refuses UPDATE and DELETE and
  a statement trigger refuses TRUNCATE. ``ON CONFLICT DO UPDATE`` fires the UPDATE
  trigger, so it is refused too. With the role setup of docs/reliability.md
  (scripts/pg-roles.sql) the application's user has no UPDATE/DELETE privilege and
  cannot drop the triggers (only the owner can).

Snapshots (`stored_snapshots`, `ledger_snapshots`) stay writable: they are a cache,
taken after the save and rebuilt from events. Triggers are installed when the
application creates its tables (`CREATE_TABLE`, the library's default), idempotently
and safely from several processes at once. Someone with the SQLite *file*, or the PG
owner, can still drop them; the per-contract hash chain is the evidence for that case.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["REFUSAL", "ddl_lock", "install_append_only", "pg_role_statements", "sqlite_statements"]

#: Start of every refusal message (tests and operators grep for it).
REFUSAL = "ledger: stored events are append-only"


def sqlite_statements(table: str = "stored_events") -> list[str]:
    """DDL for the SQLite triggers (IF NOT EXISTS: safe to run at every start)."""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL} (UPDATE refused)'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL} (DELETE refused)'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE originator_id = NEW.originator_id "
        f"AND originator_version = NEW.originator_version) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL} (event already recorded)'); END",
    ]


def _pg_statements(schema: str, table: str) -> list[Any]:
    from psycopg import sql

    names = {
        "schema": sql.Identifier(schema),
        "table": sql.Identifier(table),
        "func": sql.Identifier(f"{table}_append_only"),
        "row_trigger": sql.Identifier(f"{table}_no_update_delete"),
        "stmt_trigger": sql.Identifier(f"{table}_no_truncate"),
        "refusal": sql.Literal(REFUSAL),
    }
    return [
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{func}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% (% refused on %.%)', {refusal}, TG_OP, "
            "TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
            "END $$"
        ).format(**names),
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {row_trigger} BEFORE UPDATE OR DELETE ON "
            "{schema}.{table} FOR EACH ROW EXECUTE FUNCTION {schema}.{func}()"
        ).format(**names),
        sql.SQL(
            "CREATE OR REPLACE TRIGGER {stmt_trigger} BEFORE TRUNCATE ON "
            "{schema}.{table} FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{func}()"
        ).format(**names),
    ]


@contextmanager
def ddl_lock(factory: Any) -> Iterator[None]:
    """PostgreSQL: one process at a time creates schema, tables and triggers.

    Two processes opening a new store at once otherwise fail in the library's own
    ``CREATE TABLE IF NOT EXISTS`` (PostgreSQL races on the table's row type:
    duplicate key in ``pg_type_typname_nsp_index``). A session advisory lock, held
    on its own pooled (autocommit) connection, serializes the whole start-up DDL.
    """
    pg = sys.modules.get("eventsourcing.postgres")
    if pg is None or not isinstance(factory, pg.PostgresFactory) or not factory.env_create_table():
        yield
        return
    key = f"ledger-ddl:{factory.datastore.schema}"
    with factory.datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def install_append_only(recorder: Any) -> None:
    """Install the triggers on `recorder`'s events table (SQLite or PostgreSQL)."""
    # isinstance, not the module name: project recorders (e.g. the audit's chain-head
    # recorders) subclass the library's and keep its events table.
    from eventsourcing.sqlite import SQLiteAggregateRecorder

    if isinstance(recorder, SQLiteAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as curs:
            for statement in sqlite_statements(recorder.events_table_name):
                curs.execute(statement)
        return
    pg = sys.modules.get("eventsourcing.postgres")  # loaded iff a PG store is in use
    if pg is not None and isinstance(recorder, pg.PostgresAggregateRecorder):
        _install_pg(recorder)
    # Otherwise (e.g. POPO in-memory stores) there is nothing on disk to protect.


def _install_pg(recorder: Any) -> None:
    schema: str = recorder.datastore.schema
    table: str = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as curs:
        # Several processes may start at once: CREATE OR REPLACE FUNCTION run
        # concurrently fails ("tuple concurrently updated"), so serialize, then
        # skip the DDL when the triggers are already there (the usual case, and
        # the only one open to an app role that may not create triggers).
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{table}",))
        curs.execute(
            "SELECT count(*) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND t.tgname = ANY(%s)",
            (schema, table, [f"{table}_no_update_delete", f"{table}_no_truncate"]),
        )
        row = curs.fetchone()
        if row is not None and row["n"] == 2:
            return
        for statement in _pg_statements(schema, table):
            curs.execute(statement, prepare=False)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a plain SQL identifier")
    return f'"{name}"'


def pg_role_statements(schema: str, app_role: str, password: str | None = None,
                       events_table: str = "ledger_events") -> list[str]:
    """SQL giving `app_role` what the ledger needs, and no UPDATE/DELETE on events.

    Run as the role that owns the tables (it created them: start the ledger once as
    that role first), or a superuser. Idempotent. Every other table in the schema
    (snapshots, chain heads, projections: derived data) stays fully writable.

    TRUNCATE on the events table is granted because eventsourcing 9.5.6 takes
    ``LOCK TABLE ... IN EXCLUSIVE MODE`` on every insert (so that readers of the log
    never see gaps) and PostgreSQL 15 allows that mode only to a role with UPDATE,
    DELETE or TRUNCATE; the trigger ``<table>_no_truncate`` refuses TRUNCATE itself.
    """
    s, app, events = _ident(schema), _ident(app_role), _ident(events_table)
    pw = "" if password is None else " PASSWORD '" + password.replace("'", "''") + "'"
    create = f"CREATE ROLE {app} LOGIN{pw}"
    return [
        f"DO $ledger$ BEGIN IF to_regclass('{s}.{events}') IS NULL THEN RAISE EXCEPTION "
        f"'{schema}.{events_table} does not exist: start the ledger once as the owner "
        f"first'; END IF; END $ledger$",
        f"DO $ledger$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
        f"'{app_role}') THEN {create}; "
        f"END IF; END $ledger$",
        f"GRANT USAGE ON SCHEMA {s} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {app}",
        # The point of it all: events are insert-and-read only.
        f"REVOKE UPDATE, DELETE ON {s}.{events} FROM {app}",
        f"GRANT TRUNCATE ON {s}.{events} TO {app}",
    ]


def main(argv: list[str] | None = None) -> None:
    """`python -m ledger.store.append_only --schema S --app-role R [--password P]`
    prints the role setup SQL (pipe it into psql as the tables' owner)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--schema", default="public")
    parser.add_argument("--app-role", default="ledger_app")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    for statement in pg_role_statements(args.schema, args.app_role, args.password):
        sys.stdout.write(statement + ";\n")


if __name__ == "__main__":
    main()
