"""Tamper evidence: re-check every hash chain from the raw stored rows.

For each stream (a contract, or a command receipt) the rows are read through the
application's recorder, in version order, and checked:

1. versions run 1, 2, 3, ... without a gap (a deleted middle event);
2. each row decodes with the application's mapper (a row that does not is a break);
3. the hash recomputed over the row's stored content equals its recorded `hash`
   (an edited byte, or a row moved to another version: the hash covers the version);
4. its `prev_hash` equals the previous row's `hash` (reordering, deletion);
5. the last row is the stream's chain head (`ledger.store.chain_heads`), by version
   and by a digest of its stored bytes (a deleted or replaced LAST event).

The hash is recomputed from the stored JSON itself (after decryption and
decompression, before upcasting), exactly as `LedgerEvent.content_hash` computed it
when the event was written, so upcasting an old event never breaks its chain.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from ledger.domain.contract import contract_uuid
from ledger.store.chain_heads import ChainHead, state_digest

#: Explicit limit: rows read per page of the notification log.
PAGE = 1000


@dataclass(frozen=True)
class Break:
    stream: str  # contract id, "receipt <command id>", or the originator UUID
    originator_id: str
    version: int
    reason: str


@dataclass
class VerifyReport:
    streams: int = 0
    events: int = 0
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "streams": self.streams, "events": self.events,
                "breaks": [vars(b) for b in self.breaks], "notes": self.notes}


def raw_state(mapper: Any, stored: StoredEvent) -> dict[str, Any]:
    """The stored JSON object of an event (decrypted and decompressed, not upcast)."""
    data = stored.state
    if mapper.cipher:
        data = mapper.cipher.decrypt(data)
    if mapper.compressor:
        data = mapper.compressor.decompress(data)
    state = mapper.transcoder.decode(data)
    if not isinstance(state, dict):
        raise TypeError("stored state is not a JSON object")
    return state


def stored_hash(stored: StoredEvent, state: dict[str, Any]) -> str:
    """`LedgerEvent.content_hash` over the stored content: every field but `hash` (and
    the mapper's `class_version` marker), with the row's id and version."""
    body = {k: v for k, v in state.items() if k not in ("hash", "class_version")}
    body["originator_id"] = str(stored.originator_id)
    body["originator_version"] = stored.originator_version
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    prev = str(state.get("prev_hash", ""))
    return hashlib.sha256(prev.encode() + b"\n" + canonical).hexdigest()


def _stream_name(mapper: Any, rows: list[StoredEvent], key: str) -> str:
    first = rows[0] if rows and rows[0].originator_version == 1 else None
    if first is not None:
        try:
            state = raw_state(mapper, first)
            if "contract_id" in state and "payload_sha256" in state:
                return f"receipt {state.get('command_id')}"
            if "contract_id" in state:
                return str(state["contract_id"])
        except Exception:  # check_stream reports an undecodable row
            pass
    return key  # no readable first event: the originator id


def check_stream(mapper: Any, name: str, oid: Any, rows: list[StoredEvent],
                 head: ChainHead | None) -> Break | None:
    """The first broken link of one stream, or None."""
    prev_hash = ""
    expected = 1
    for row in rows:
        v = row.originator_version
        if v != expected:
            return Break(name, str(oid), expected, f"version {expected} is missing: version "
                         f"{v} follows {expected - 1} (events deleted)")
        try:
            state = raw_state(mapper, row)
            mapper.to_domain_event(row)
        except Exception as e:  # any decoding failure is a break
            return Break(name, str(oid), v, f"stored event cannot be decoded: "
                                            f"{type(e).__name__}: {str(e)[:200]}")
        recorded = state.get("hash")
        if stored_hash(row, state) != recorded:
            return Break(name, str(oid), v, "content does not match its hash (the event "
                                            "was edited, or moved from another version)")
        if state.get("prev_hash", "") != prev_hash:
            return Break(name, str(oid), v, f"prev_hash does not link to version {v - 1}'s "
                                            "hash (events reordered, replaced or deleted)")
        prev_hash = str(recorded)
        expected += 1
    last = rows[-1].originator_version if rows else 0
    if head is None:
        return Break(name, str(oid), last, "no chain head recorded for this stream")
    if head.version != last:
        return Break(name, str(oid), head.version if head.version > last else last + 1,
                     f"the chain head records version {head.version} but the stream ends at "
                     f"version {last}" + (" (last events deleted)" if head.version > last
                                          else " (events written around the recorder)"))
    if rows and head.state_sha256 != state_digest(rows[-1].state):
        return Break(name, str(oid), last, "the last event differs from the one recorded as "
                                           "the chain head")
    return None


def _heads(recorder: Any) -> dict[str, ChainHead] | None:
    select = getattr(recorder, "select_chain_heads", None)
    if select is None:
        return None
    return {str(h.originator_id): h for h in select()}


def verify_store(app: Any, contract_id: str | None = None) -> VerifyReport:
    """Check every stream of the store, or one contract's."""
    report = VerifyReport()
    recorder, mapper = app.recorder, app.mapper
    heads = _heads(recorder)
    if heads is None:
        report.notes.append("this store's recorder keeps no chain heads: a deleted last "
                            "event cannot be detected")
    streams: dict[str, list[StoredEvent]] = defaultdict(list)
    if contract_id is not None:
        oid = contract_uuid(contract_id)
        streams[str(oid)] = list(recorder.select_events(oid))
        wanted = {str(oid)}
    else:
        start = 1
        while True:
            batch = recorder.select_notifications(start, PAGE)
            if not batch:
                break
            for n in batch:
                streams[str(n.originator_id)].append(n)
            start = batch[-1].id + 1
        wanted = set(streams) | set(heads or {})
    ordered = [k for k in streams if k in wanted]  # notification-log order
    ordered += sorted(k for k in wanted if k not in streams)  # heads without any row
    for key in ordered:
        rows = sorted(streams.get(key, []), key=lambda r: r.originator_version)
        name = contract_id if contract_id is not None else _stream_name(mapper, rows, key)
        report.streams += 1
        report.events += len(rows)
        head = heads.get(key) if heads is not None else None
        if heads is None:  # nothing to compare the end of the chain with
            head = ChainHead(key, rows[-1].originator_version if rows else 0,
                             state_digest(rows[-1].state) if rows else "")
        brk = check_stream(mapper, name, UUID(key) if _is_uuid(key) else key, rows, head)
        if brk is not None:
            report.breaks.append(brk)
    return report


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
