"""Mapper and transcoder that store pydantic domain events as orjson bytes.

eventsourcing 9.5.6 ships neither. The library's own `Mapper` copies
``vars(event)`` and rebuilds events with ``object.__new__`` (skipping
validation), and its `JSONTranscoder` cannot encode ``date``. Here events are
dumped with ``model_dump(mode="json")`` (Decimal -> "10.10", date -> ISO,
UUID -> text), encoded with orjson, and rebuilt with ``model_validate`` so
every field comes back with its declared type.

Versioning follows the library's convention: a class whose ``class_version``
is N > 1 writes ``"class_version": N`` into the stored state, and reading older
state calls the class's static methods ``upcast_v1_v2(state)``, ...,
``upcast_v{N-1}_vN(state)``, which mutate the JSON-mode dict in place. The same
path serves snapshots (see `ledger.domain.snapshot`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

__all__ = ["OrjsonTranscoder", "PydanticMapper"]

# Fields that the recorders keep in their own columns, not in the state bytes.
_ID_FIELDS: set[str] = {"originator_id", "originator_version"}

Upcaster = Callable[[dict[str, Any]], None]


class OrjsonTranscoder(Transcoder):
    """JSON via orjson. Expects JSON-mode values (the mapper dumps pydantic
    models with ``mode="json"`` first, because orjson cannot encode Decimal)."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class _ClassInfo:
    """What decoding needs to know about one topic, resolved once."""

    __slots__ = ("cls", "upcasters", "version")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        self.version: int = getattr(cls, "class_version", 1)
        # upcasters[v - 1] upgrades state from version v to v + 1.
        self.upcasters: list[Upcaster] = []
        for v in range(1, self.version):
            name = f"upcast_v{v}_v{v + 1}"
            upcaster = getattr(cls, name, None)
            if upcaster is None:
                msg = f"{cls.__qualname__} has class_version {self.version} but no {name}()"
                raise TypeError(msg)
            self.upcasters.append(upcaster)


class PydanticMapper(Mapper[UUID]):
    """Converts pydantic domain events and snapshots to and from `StoredEvent`.

    Honours the compressor and cipher the application's factory gives it, in
    the library's order: compress then encrypt on write, the reverse on read.
    """

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor=compressor, cipher=cipher)
        self._classes: dict[str, _ClassInfo] = {}

    def _class_info(self, topic: str) -> _ClassInfo:
        try:
            return self._classes[topic]
        except KeyError:
            cls = resolve_topic(topic)
            if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
                msg = f"Topic {topic!r} resolves to {cls!r}, not a pydantic model class"
                raise TypeError(msg) from None
            info = self._classes[topic] = _ClassInfo(cls)
            return info

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, BaseModel):
            msg = f"PydanticMapper can only store pydantic models, got {type(domain_event)!r}"
            raise TypeError(msg)
        json_dump = getattr(domain_event, "json_dump", None)  # ledger events: no re-dump
        if json_dump is not None:
            state = json_dump()
            for name in _ID_FIELDS:
                del state[name]
        else:
            state = domain_event.model_dump(mode="json", exclude=_ID_FIELDS)
        class_version: int = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,  # type: ignore[attr-defined]
            originator_version=domain_event.originator_version,  # type: ignore[attr-defined]
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        info = self._class_info(stored_event.topic)
        try:
            data = stored_event.state
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state: dict[str, Any] = self.transcoder.decode(data)
            state["originator_id"] = stored_event.originator_id
            state["originator_version"] = stored_event.originator_version
            from_version: int = state.pop("class_version", 1)
            for upcast in info.upcasters[from_version - 1 :]:
                upcast(state)
            return info.cls.model_validate(state)
        except Exception as e:
            msg = (
                f"Failed to deserialise stored event with topic {stored_event.topic!r}, "
                f"originator_id {stored_event.originator_id!r} and "
                f"originator_version {stored_event.originator_version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e
