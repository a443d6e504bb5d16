"""Snapshots of aggregates that keep all their domain state in one pydantic model.

The library's `Snapshot` copies ``vars(aggregate)`` into a ``dict[str, Any]``;
with a pydantic snapshot and our mapper, anything not declared on a model
comes back as raw JSON (Decimal as a string, nested models as dicts). So a
ledger aggregate keeps its whole domain state in one attribute, ``state``, an
instance of the class attribute ``state_model``; the snapshot stores that
model's JSON-mode dump and rebuilds it with ``state_model.model_validate``.

Use it by setting, on the aggregate class::

    state_model: ClassVar[type[BaseModel]] = ContractState
    Snapshot = LedgerSnapshot

`Application.take_snapshot` looks up ``type(aggregate).Snapshot`` (falling
back to the application's ``snapshot_class``), and automatic snapshots are
taken for the aggregate classes listed in the application's
``snapshotting_intervals`` (``{AggregateClass: N}``: after every Nth version).

An aggregate may keep less in its snapshot than in memory: if it defines
``compact_state()``, the snapshot stores that model instead of ``state`` (a
contract leaves its closed history out, see `Contract.compact_state`), so
loading time depends on what is still open, not on the length of the history.

Aggregate versioning works like the library's: if the aggregate class has
``class_version`` N > 1, it is stored in the state dict under
``"class_version"``, and loading older state calls the aggregate class's static
``upcast_v1_v2(state)`` ... on the JSON-mode dict before validation.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, ClassVar, Self, cast
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanSnapshotAggregate
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ConfigDict

__all__ = ["LedgerSnapshot"]

# Attributes set by BaseAggregate.__base_init__; everything else must be `state`.
_BASE_ATTRS = frozenset({"_id", "_version", "_created_on", "_modified_on", "_pending_events"})


class LedgerSnapshot(BaseModel, CanSnapshotAggregate[UUID]):
    """State of an aggregate at ``originator_version``, as a pydantic event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    topic: str
    created_on: datetime
    modified_on: datetime
    state: dict[str, Any]

    @classmethod
    def take(cls, aggregate: Any) -> Self:
        """Snapshot ``aggregate``; refuses aggregates holding state outside
        ``state``, which would otherwise be lost silently."""
        extra = set(vars(aggregate)) - _BASE_ATTRS - {"state"}
        if extra:
            msg = (
                f"{type(aggregate).__qualname__} has attributes {sorted(extra)} outside "
                "'state'; LedgerSnapshot only stores the 'state' model"
            )
            raise TypeError(msg)
        state_model = _state_model(type(aggregate))
        if not isinstance(aggregate.state, state_model):
            msg = f"{type(aggregate).__qualname__}.state is not a {state_model.__qualname__}"
            raise TypeError(msg)
        compact = getattr(aggregate, "compact_state", None)
        kept = compact() if compact is not None else aggregate.state
        state = kept.model_dump(mode="json")
        class_version: int = getattr(type(aggregate), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return cls(
            originator_id=aggregate.id,
            originator_version=aggregate.version,
            timestamp=cls.create_timestamp(),
            topic=get_topic(type(aggregate)),
            created_on=aggregate.created_on,
            modified_on=aggregate.modified_on,
            state=state,
        )

    def mutate(self, _: None) -> BaseAggregate[UUID]:
        """Rebuild the aggregate (validating ``state``) without replaying events."""
        agg_cls = cast(type[BaseAggregate[UUID]], resolve_topic(self.topic))
        state = self.state
        from_version: int = state.get("class_version", 1)
        to_version: int = getattr(agg_cls, "class_version", 1)
        if from_version < to_version:
            # Upcasters mutate in place: never touch the (frozen) snapshot's dict.
            state = copy.deepcopy(state)
            state.pop("class_version", None)
            for v in range(from_version, to_version):
                getattr(agg_cls, f"upcast_v{v}_v{v + 1}")(state)
        elif "class_version" in state:  # validation only reads it: a shallow copy will do
            state = {k: v for k, v in state.items() if k != "class_version"}
        aggregate = object.__new__(agg_cls)
        object.__setattr__(
            aggregate,
            "__dict__",
            {
                "_id": self.originator_id,
                "_version": self.originator_version,
                "_created_on": self.created_on,
                "_modified_on": self.modified_on,
                "_pending_events": [],
                "state": _state_model(agg_cls).model_validate(state),
            },
        )
        return aggregate


def _state_model(agg_cls: type) -> type[BaseModel]:
    model = getattr(agg_cls, "state_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        msg = f"{agg_cls.__qualname__} must declare state_model: ClassVar[type[BaseModel]]"
        raise TypeError(msg)
    return model
