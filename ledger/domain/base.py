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

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

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


class LedgerCreated(LedgerEvent, CanInitAggregate[UUID]):
    """The first event of an aggregate's stream."""

    originator_topic: str


class LedgerAggregate(BaseAggregate[UUID]):
    """Base for ledger aggregates: events are `LedgerEvent` subclasses defined
    at module level, triggered with `trigger_event(EventClass, **fields)`."""
