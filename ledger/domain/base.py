"""Base classes that let pydantic v2 models be `eventsourcing` domain events.

Every ledger event is a frozen pydantic model. Besides the library's
`originator_id`, `originator_version` and `timestamp` (the *record time*, UTC,
set by the library when the event is triggered), each event records:

- `business_date`: the contract's business date (Asia/Shanghai calendar date)
  on which the event was recorded;
- `actor`: who caused it (a user name, or ``system:clock`` for time rules);
- `command_id` and `command_type`: the command that caused it (for time rules,
  the command that moved the clock).

Events are versioned with `class_version`; a class at version N > 1 defines
static methods ``upcast_v1_v2(state: dict) -> None`` ... that the mapper calls
on stored state of older versions (see `ledger.store.serialization`).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

import orjson
from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic
from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: UUID
    originator_version: int
    timestamp: datetime


class LedgerEvent(DomainEvent, CanMutateAggregate[UUID]):
    """An immutable fact about one contract, named in the past tense."""

    class_version: ClassVar[int] = 1

    business_date: date
    actor: str
    command_id: str
    command_type: str
    prev_hash: str = ""
    hash: str = ""

    def content_hash(self) -> str:
        """SHA-256 over the previous event's hash and this event's content (every
        field but `hash`, as canonical JSON). Tamper evidence: see `ledger verify`."""
        return _digest(self.prev_hash, self.model_dump(mode="json", exclude={"hash"}))

    @classmethod
    def chained(cls, **fields: Any) -> Any:
        """A new event, validated, with `hash` computed over its content and the
        `prev_hash` given (the chain's head): construction in one step for the
        caller; `hash` is filled in before anyone else sees the event.

        The JSON-mode dump made for the hash is kept with the event, so the mapper
        stores it without dumping the event a second time."""
        event = cls(**fields)
        body = event.model_dump(mode="json")
        digest = _digest(event.prev_hash, {k: v for k, v in body.items() if k != "hash"})
        body["hash"] = digest  # in its field's place: stored bytes keep the field order
        # Set in __dict__ (fields live there), so no second validated copy is made.
        # The dump is not a field (not dumped, not compared by ==).
        event.__dict__["hash"] = digest
        event.__dict__[_SEALED_JSON] = (id(event), body)
        return event

    def json_dump(self) -> dict[str, Any]:
        """`model_dump(mode="json")`, from the sealing dump when this object made it (a
        copy of a sealed event does not reuse it: its fields may differ)."""
        kept = self.__dict__.get(_SEALED_JSON)
        if kept is not None and kept[0] == id(self):
            return dict(kept[1])
        return self.model_dump(mode="json")


#: where `sealed` keeps its JSON-mode dump in the event's __dict__
_SEALED_JSON = "_sealed_json"


def _digest(prev_hash: str, body: dict[str, object]) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


class LedgerCreated(LedgerEvent, CanInitAggregate[UUID]):
    """The first event of an aggregate's stream."""

    originator_topic: str


class LedgerAggregate(BaseAggregate[UUID]):
    """Base for ledger aggregates: events are `LedgerEvent` subclasses defined
    at module level, triggered with `trigger_event(EventClass, **fields)`.

    Every new event is sealed into the aggregate's hash chain before it is
    saved: `prev_hash` is the previous event's `hash`. Subclasses keep the head
    of the chain in `chain_head` (restored by replay and by snapshots).
    """

    @property
    def chain_head(self) -> str:
        return ""

    def _set_chain_head(self, value: str) -> None:
        """Subclasses that have more than one event store the head here."""

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        """The library's `_create`, with the created event chained (prev_hash "")."""
        assert isinstance(id, UUID), "ledger aggregates have ids derived from their key"
        event = event_class.chained(
            originator_topic=get_topic(cls), originator_id=id,
            originator_version=cls.INITIAL_VERSION, timestamp=event_class.create_timestamp(),
            prev_hash="", **kwargs)
        aggregate = event.mutate(None)
        aggregate._set_chain_head(event.hash)
        aggregate.pending_events.append(event)
        return aggregate

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        """The library's `trigger_event`, with the new event chained to the head."""
        event = event_class.chained(
            originator_id=self.id, originator_version=self.version + 1,
            timestamp=event_class.create_timestamp(), prev_hash=self.chain_head, **kwargs)
        event.mutate(self)
        self._set_chain_head(event.hash)
        self._pending_events.append(event)
