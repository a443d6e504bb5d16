"""Choose the event store from one URL.

Accepted URLs:

- ``sqlite:///RELATIVE/path.db``, ``sqlite:////ABSOLUTE/path.db`` (the
  SQLAlchemy convention: what follows ``sqlite:///`` is the path) and
  ``sqlite:///:memory:``;
- ``postgresql://[user[:password]@]host[:port]/dbname[?schema=NAME]``
  (``postgres://`` too). Optional query parameters ``pool_size``,
  ``max_overflow`` and ``connect_timeout`` (seconds) tune the pool. A missing
  user means the OS user, as with libpq; user and password may be
  percent-encoded. `LedgerStoreApplication` creates a missing schema.

The URL comes from the CLI, else the ``LEDGER_STORE`` environment variable,
else `DEFAULT_STORE_URL`. `store_env` turns it into the environment keys that
eventsourcing 9.5.6's factories read. ``POSTGRES_ENABLE_DB_FUNCTIONS`` is
never set: with it the library skips its table lock and concurrent readers of
the log can miss events.
"""

from __future__ import annotations

import getpass
import os
import re
from typing import NoReturn
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "DEFAULT_STORE_URL",
    "STORE_ENV_VAR",
    "StoreConfigError",
    "resolve_store_url",
    "store_env",
]

DEFAULT_STORE_URL = "sqlite:///./ledger.db"
STORE_ENV_VAR = "LEDGER_STORE"

ACCEPTED = (
    "accepted: 'sqlite:///path/to.db', 'sqlite:///:memory:' or "
    "'postgresql://user[:password]@host[:port]/dbname[?schema=NAME]'"
)

# Defaults made explicit (library: pool 5 + overflow 10, connect timeout 30 s;
# a shorter timeout makes a down server fail a CLI command quickly).
_PG_DEFAULTS = {
    "POSTGRES_POOL_SIZE": "5",
    "POSTGRES_MAX_OVERFLOW": "10",
    "POSTGRES_CONNECT_TIMEOUT": "10",
}
_PG_QUERY_KEYS = {
    "schema": "POSTGRES_SCHEMA",
    "pool_size": "POSTGRES_POOL_SIZE",
    "max_overflow": "POSTGRES_MAX_OVERFLOW",
    "connect_timeout": "POSTGRES_CONNECT_TIMEOUT",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}\Z")


class StoreConfigError(ValueError):
    """The store URL cannot be used."""


def resolve_store_url(cli_value: str | None) -> str:
    """The CLI value, else ``$LEDGER_STORE``, else the default (empty = unset)."""
    return cli_value or os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE_URL


def store_env(url: str) -> dict[str, str]:
    """eventsourcing Application env for the store at ``url``."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        _fail(url, "not a URL (expected SCHEME://...)")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _sqlite_env(url)
    if scheme in ("postgresql", "postgres"):
        return _postgres_env(url)
    _fail(url, f"unknown scheme {scheme!r}")


def _fail(url: str, problem: str) -> NoReturn:
    msg = f"Invalid store URL {_redact(url)!r}: {problem}; {ACCEPTED}"
    raise StoreConfigError(msg)


def _redact(url: str) -> str:
    """Hide a password (user:PASSWORD@) from messages."""
    return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", url)


def _sqlite_env(url: str) -> dict[str, str]:
    prefix = "sqlite:///"
    if url[: len(prefix)].lower() != prefix:
        _fail(url, "a SQLite URL has no host: write 'sqlite:///' then the path")
    path = url[len(prefix) :]
    if not path or "?" in path or "#" in path:
        _fail(url, "missing SQLite database path, or unsupported '?'/'#' in it")
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}


def _postgres_env(url: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        _fail(url, str(e))
    if not parts.hostname:
        _fail(url, "missing host")
    dbname = unquote(parts.path.removeprefix("/"))
    if not dbname or "/" in dbname:
        _fail(url, "the path must be exactly one database name")
    if parts.fragment:
        _fail(url, "unexpected '#fragment'")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_USER": unquote(parts.username) if parts.username else getpass.getuser(),
        # The library requires the key; "" means no password (trust/peer auth).
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        **_PG_DEFAULTS,
    }
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as e:
        _fail(url, f"bad query string: {e}")
    for name, value in query:
        key = _PG_QUERY_KEYS.get(name)
        if key is None:
            _fail(url, f"unknown query parameter {name!r} (known: {', '.join(_PG_QUERY_KEYS)})")
        if name == "schema":
            if not _IDENTIFIER.match(value):
                _fail(url, f"schema {value!r} is not a plain SQL identifier")
        elif not value.isdigit():
            _fail(url, f"{name} must be a non-negative integer, got {value!r}")
        env[key] = value
    return env
