"""Store fixtures: a fresh SQLite file, or a fresh PostgreSQL schema, per test.

PostgreSQL is the machine's local server (127.0.0.1:5432, trust auth,
database ``test``); override with ``LEDGER_TEST_PG_URL`` (no query string).
When it is unreachable, PG tests fail under CI (env ``CI`` set) and are
skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_BASE_URL = os.environ.get("LEDGER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

_pg_error: str | None = None
_pg_checked = False


def _pg_unavailable() -> str | None:
    """Why PostgreSQL can't be used (checked once per session), or None."""
    global _pg_checked, _pg_error
    if not _pg_checked:
        _pg_checked = True
        try:
            with psycopg.connect(PG_BASE_URL, connect_timeout=3, autocommit=True):
                pass
        except psycopg.Error as e:
            _pg_error = f"PostgreSQL at {PG_BASE_URL} is unreachable: {e}".strip()
    return _pg_error


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    reason = _pg_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(
                reason + " (CI is set, so this is a failure; see scripts/ensure-postgres.sh)"
            )
        pytest.skip(reason + " (run scripts/ensure-postgres.sh)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_BASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield f"{PG_BASE_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_BASE_URL, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))
