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

    def sealed(self, prev_hash: str) -> LedgerEvent:
        """This event chained to `prev_hash`, with its own hash filled in (one copy)."""
        body = self.model_dump(mode="json", exclude={"hash"})
        body["prev_hash"] = prev_hash
        return self.model_copy(update={"prev_hash": prev_hash,
                                       "hash": _digest(prev_hash, body)})


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
        aggregate = super()._create(event_class, id=id, **kwargs)
        aggregate._seal_last()
        return aggregate

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        super().trigger_event(event_class, **kwargs)
        self._seal_last()

    def _seal_last(self) -> None:
        pending = self._pending_events
        event = pending[-1]
        assert isinstance(event, LedgerEvent) and not event.hash
        sealed = event.sealed(self.chain_head)
        pending[-1] = sealed
        self._set_chain_head(sealed.hash)
