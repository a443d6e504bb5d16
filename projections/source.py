"""The notification log as the projections read it: pages of raw rows, decoded to dicts.

The projections never build pydantic events: decoding them is most of the cost of
reading the log. A page is one plain SQL select over the recorder's own events table
(SQLite or PostgreSQL), and each contract event's state bytes go through the store's
transcoder chain -- the mapper's cipher and compressor, then orjson -- into a dict of
JSON-mode values (dates ISO, money as decimal strings), upcast with the event class's
own ``upcast_vN_vN+1`` functions and given the defaults of fields an older class did not
have, exactly as the mapper would before validating. Other notifications (the
`CommandAccepted` receipts) are not decoded at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from pydantic_core import to_jsonable_python

from ledger.domain.events import ContractEvent

#: Only events of this module are contract events; receipts etc. are skipped.
CONTRACT_TOPIC_PREFIX = ContractEvent.__module__ + ":"
#: Above every topic with that prefix (";" follows ":"): `topic >= PREFIX AND topic < END`.
CONTRACT_TOPIC_END = ContractEvent.__module__ + ";"
_ID_FIELDS = ("originator_id", "originator_version")


#: One contract event: (notification_id, originator_id, version, event type, fields).
#: The originator id is the store's own value (hex text on SQLite, a UUID on PG).
ContractEntry = tuple[int, Any, int, str, dict[str, Any]]


class Page(NamedTuple):
    """Notifications read: how many, the last one's id, and the contract events."""

    read: int
    last: int
    events: list[ContractEntry]


@dataclass(frozen=True)
class _Topic:
    """What decoding needs to know about one contract event class, resolved once."""

    event_type: str
    version: int
    upcasters: tuple[Any, ...]
    defaults: dict[str, Any]  # JSON-mode defaults of the fields that have one
    size: int  # fields in a current-version dict, the id fields excluded


#: Every contract (the hex digit range of a rebuild in one process; see `EventSource`).
ALL_CONTRACTS = (-1, 16)


class EventSource:
    """Reads the store's events table directly; decodes like the store's mapper.

    With `shard=(low, high)` (a rebuild's worker: `ALL_CONTRACTS` in one process) a page
    is a range of notification ids, and only the contract events of contracts whose id
    ends with a hex digit from `low` to `high` - 1 are selected: the database leaves
    the receipts and the other workers' events out. (Ids are UUIDs, so the last digit
    is uniform; anything else would count as -1, the first worker's.)"""

    def __init__(self, store: Any, shard: tuple[int, int] | None = None) -> None:
        self.store, self.shard = store, shard
        mapper = store.mapper
        self._mapper = mapper
        self._cipher, self._compressor = mapper.cipher, mapper.compressor
        self._topics: dict[str, _Topic | None] = {}
        table = store.qualify(store.recorder.events_table_name)
        sqlite = store.dialect == "sqlite"
        nid = "rowid" if sqlite else "notification_id"
        columns = f"SELECT {nid}, originator_id, originator_version, topic, state FROM {table}"
        self._page_sql = store.sql(
            f"{columns} WHERE {nid} >= ? AND {nid} <= ? ORDER BY {nid} LIMIT ?")
        last_digit = ("instr('0123456789abcdef', substr(originator_id, -1)) - 1" if sqlite
                      else "position(right(originator_id::text, 1) in '0123456789abcdef') - 1")
        self._shard_sql = store.sql(
            f"{columns} WHERE {nid} >= ? AND {nid} <= ? AND topic >= ? AND topic < ? "
            f"AND {last_digit} BETWEEN ? AND ? ORDER BY {nid}")
        self._history_sql = store.sql(
            f"{columns} WHERE originator_id = ? AND originator_version <= ? "
            "ORDER BY originator_version")

    def page(self, start: int, limit: int, stop: int) -> Page:
        """Notifications `start`..`stop` (at most `limit`), in log order."""
        if self.shard is not None:
            last = min(start + limit - 1, stop)
            low, high = self.shard
            rows = self._select(self._shard_sql, (start, last, CONTRACT_TOPIC_PREFIX,
                                                  CONTRACT_TOPIC_END, low, high - 1))
            return Page(last - start + 1, last, self._decode(rows))
        rows = self._select(self._page_sql, (start, stop, limit))
        return Page(len(rows), rows[-1][0] if rows else start - 1, self._decode(rows))

    def history(self, originator_id: Any, upto: int) -> Iterator[ContractEntry]:
        """One contract's events, versions 1..`upto` (for folding it again)."""
        return iter(self._decode(self._select(self._history_sql, (originator_id, upto))))

    def _select(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self.store.datastore.transaction(commit=False) as curs:
            raw = getattr(curs, "sqlite_cursor", curs)  # SQLite: the library wraps it
            raw.row_factory = None if self.store.dialect == "sqlite" else _tuple_row()
            raw.execute(statement, params)
            return raw.fetchall()

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[ContractEntry]:
        topics, cipher, compressor, loads = self._topics, self._cipher, self._compressor, \
            orjson.loads
        out: list[ContractEntry] = []
        append = out.append
        for nid, oid, version, topic, data in rows:
            info = topics.get(topic, _UNSEEN)
            if info is _UNSEEN:
                info = topics[topic] = self._resolve(topic)
            if info is None:  # not a contract event: not even decoded
                continue
            if cipher:
                data = cipher.decrypt(data)
            if compressor:
                data = compressor.decompress(data)
            fields = loads(data)
            stored_version = fields.pop("class_version", 1)
            if stored_version < info.version:
                for upcast in info.upcasters[stored_version - 1:]:
                    upcast(fields)
            if len(fields) != info.size:  # stored before a field with a default was added
                for name, value in info.defaults.items():
                    fields.setdefault(name, value)
            append((nid, oid, version, info.event_type, fields))
        return out

    def _resolve(self, topic: str) -> _Topic | None:
        if not topic.startswith(CONTRACT_TOPIC_PREFIX):
            return None
        # The mapper's own per-class record: class version and upcasters, resolved once.
        info = self._mapper._class_info(topic)
        model_fields = info.cls.model_fields
        defaults = {name: to_jsonable_python(f.get_default(call_default_factory=True))
                    for name, f in model_fields.items()
                    if not f.is_required() and name not in _ID_FIELDS}
        return _Topic(info.cls.__name__, info.version, tuple(info.upcasters), defaults,
                      len(model_fields) - len(_ID_FIELDS))


_UNSEEN: Any = object()


def _tuple_row() -> Any:
    from psycopg.rows import tuple_row

    return tuple_row
