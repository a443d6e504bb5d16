"""Base eventsourcing Application for the ledger: store chosen by URL,
pydantic events stored as orjson.

Subclasses keep ``name = "ledger"`` (the library would otherwise rename each
subclass after itself), so PostgreSQL tables are ``ledger_events``,
``ledger_snapshots``, ... and env keys may be prefixed ``LEDGER_``.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Mapper, Transcoder
from eventsourcing.utils import Environment, EnvType

from ledger.store.append_only import ddl_lock, install_append_only
from ledger.store.config import resolve_store_url, store_env
from ledger.store.serialization import OrjsonTranscoder, PydanticMapper

__all__ = ["APP_NAME", "LedgerStoreApplication"]

APP_NAME = "ledger"

# We depend on eventsourcing's "cryptography" extra, not on pycryptodome
# (the library's default cipher when only CIPHER_KEY is given).
_DEFAULT_CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
_FORBIDDEN_KEYS = ("POSTGRES_ENABLE_DB_FUNCTIONS",)


class LedgerStoreApplication(Application[UUID]):
    """Application whose persistence comes from a store URL (see
    `ledger.store.config`). Extra ``env`` (e.g. CIPHER_KEY, COMPRESSOR_TOPIC,
    AGGREGATE_CACHE_MAXSIZE) is merged over the URL's keys; the process
    environment is read too, as the library does."""

    name = APP_NAME

    def __init_subclass__(cls, **kwargs: Any) -> None:
        explicit_name = "name" in cls.__dict__
        super().__init_subclass__(**kwargs)
        if not explicit_name:
            cls.name = APP_NAME

    def __init__(self, store_url: str | None = None, env: EnvType | None = None) -> None:
        self._closed = False
        self.store_url = resolve_store_url(store_url)
        self._store_env = store_env(self.store_url)
        try:
            super().__init__(env={**self._store_env, **(env or {})})
        except BaseException:
            # E.g. PG unreachable: don't leave a connection pool open until GC.
            factory = getattr(self, "factory", None)
            if factory is not None:
                with contextlib.suppress(Exception):
                    factory.close()
            self._closed = True
            raise

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        environment = super().construct_env(name, env)
        prefix = f"{name.upper()}_"
        # A stray LEDGER_SQLITE_DBNAME etc. in os.environ would beat the URL's key
        # (prefixed keys win in Environment.get): the URL is authoritative.
        for key in self._store_env:
            environment.pop(prefix + key, None)
        for key in _FORBIDDEN_KEYS:
            environment.pop(key, None)
            environment.pop(prefix + key, None)
        if environment.get("CIPHER_KEY") and not environment.get("CIPHER_TOPIC"):
            environment["CIPHER_TOPIC"] = _DEFAULT_CIPHER_TOPIC
        return environment

    def construct_recorder(self) -> ApplicationRecorder:
        # The library creates tables but not a ?schema=NAME schema; do it here so
        # a new schema URL works like a new SQLite file.
        with ddl_lock(self.factory):  # PG: concurrent first starts would race
            if type(self.factory).__module__ == "eventsourcing.postgres":
                self._create_pg_schema()
            recorder = super().construct_recorder()
            if self.factory.env_create_table():
                # Stored events are append-only in the database too (UPDATE/DELETE abort).
                install_append_only(recorder)
        return recorder

    def _create_pg_schema(self) -> None:
        # Imported here: SQLite-only runs need not load psycopg.
        from eventsourcing.postgres import PostgresFactory
        from psycopg import sql

        if isinstance(self.factory, PostgresFactory) and self.factory.env_create_table():
            schema = self.factory.datastore.schema
            if schema != "public":
                with self.factory.datastore.transaction(commit=True) as curs:
                    # Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE right on
                    # the database even when the schema exists (an app role lacks it).
                    curs.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
                    if curs.fetchone() is None:
                        curs.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                            sql.Identifier(schema)))

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[UUID]:
        # The factory adds the cipher and compressor configured in the env.
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=PydanticMapper
        )

    def close(self) -> None:
        """Release connections; safe to call more than once (and from __del__)."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        super().close()
