"""The ledger application: loads contracts, runs commands and the clock, saves events.

Each command is atomic: its contract's new events and its idempotency receipt are
saved in one transaction, or nothing is. A command with a `command_id` records a
`CommandAccepted` receipt (its own one-event aggregate, id derived from the
command id): the same id with the same payload is answered as a duplicate, with a
different payload it is refused. Optimistic concurrency conflicts (another
process wrote the same contract first) are retried a bounded number of times.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ledger.domain import commands as c
from ledger.domain.base import LedgerAggregate, LedgerCreated, LedgerEvent
from ledger.domain.commands import CommandError
from ledger.domain.contract import Context, Contract, contract_uuid
from ledger.domain.events import ContractSigned
from ledger.rules.calendar import ExplicitCalendar, PrcCalendar, WorkingCalendar
from ledger.store.app_base import LedgerStoreApplication
from ledger.store.chain_heads import recorder_env

#: Explicit limit: how often a command is retried after a concurrency conflict.
MAX_CONFLICT_RETRIES = 8
_RECEIPTS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:contract-ledger:command")


class CommandAccepted(LedgerCreated):
    """Idempotency receipt: command `command_id` with this payload was applied."""

    contract_id: str
    payload_sha256: str


class CommandReceipt(LedgerAggregate):
    pass


def receipt_uuid(command_id: str) -> UUID:
    return uuid.uuid5(_RECEIPTS, command_id)


def command_receipt(cmd: c.Command, command_id: str, payload_sha256: str) -> CommandAccepted:
    """The receipt of an applied command: the one event of its `CommandReceipt`
    stream, saved in the command's transaction (made directly: no aggregate object
    is needed to write one event)."""
    return CommandAccepted.chained(
        originator_topic=_RECEIPT_TOPIC, originator_id=receipt_uuid(command_id),
        originator_version=CommandReceipt.INITIAL_VERSION,
        timestamp=CommandAccepted.create_timestamp(), prev_hash="",
        business_date=cmd.at, actor=cmd.actor, command_id=command_id,
        command_type=cmd.type, contract_id=cmd.contract_id,  # type: ignore[attr-defined]
        payload_sha256=payload_sha256)


_RECEIPT_TOPIC = get_topic(CommandReceipt)


def replay(contract: Any, events: Iterable[Any]) -> Any:
    """Events (a snapshot first, if any) applied in order: the library's
    `project_aggregate` without its per-event runtime `Protocol` isinstance check,
    which cost ~40 % of loading a contract without a recent snapshot."""
    for event in events:
        contract = event.mutate(contract)
    return contract


@dataclass
class Outcome:
    contract_id: str
    command_id: str
    duplicate: bool = False
    events: list[LedgerEvent] = field(default_factory=list)
    retries: int = 0


def configured_calendar() -> WorkingCalendar:
    """The official PRC calendar, or an explicit one named by LEDGER_CALENDAR_FILE (R2)."""
    path = os.environ.get("LEDGER_CALENDAR_FILE")
    return ExplicitCalendar.from_file(path) if path else PrcCalendar()


class LedgerApplication(LedgerStoreApplication):
    #: A snapshot every N events keeps loading time flat however long the history;
    #: snapshots are compact (1-3 KB), so a short interval costs little.
    snapshotting_intervals: ClassVar[dict[type, int]] = {Contract: 50}

    def __init__(self, store_url: str | None = None, env: dict[str, str] | None = None,
                 calendar: WorkingCalendar | None = None) -> None:
        # The recorder also keeps each stream's chain head (see `ledger verify`).
        super().__init__(store_url, {**recorder_env(store_url), **(env or {})})
        self.calendar = calendar or configured_calendar()
        self.conflicts_retried = 0

    # -- commands ------------------------------------------------------------------
    def execute(self, cmd: c.Command) -> Outcome:
        """Apply one validated command atomically (retrying on conflicts)."""
        command_id = cmd.command_id or f"auto-{uuid.uuid4()}"
        contract_id = cmd.contract_id

        def attempt() -> list[Any] | None:
            if cmd.command_id is not None and self._seen(cmd):
                return None
            ctx = Context(cmd.actor, command_id, cmd.type, self.calendar)
            try:
                contract = self._decide(cmd, ctx)
            except CommandError:
                # Another process may have saved this very command between the receipt
                # check and the load ("line already confirmed"): then it is a duplicate.
                if cmd.command_id is not None and self._seen(cmd):
                    return None
                raise
            if cmd.command_id is None:
                return [contract]
            return [contract, command_receipt(cmd, command_id, cmd.payload_digest())]

        return self._save_retrying(contract_id, command_id, attempt)

    def _save_retrying(self, contract_id: str, command_id: str,
                       attempt: Callable[[], list[Any] | None]) -> Outcome:
        """Decide and save; on a concurrency conflict decide again from fresh state, a
        bounded number of times. `attempt` returns the aggregates to save (the contract
        first), or None when there is nothing to do (a duplicate)."""
        for retries in range(MAX_CONFLICT_RETRIES + 1):
            pending = attempt()
            if pending is None:
                return Outcome(contract_id, command_id, duplicate=True, retries=retries)
            new_events = list(pending[0].pending_events)
            try:
                self.save(*pending)
            except IntegrityError:
                self.conflicts_retried += 1
                continue
            return Outcome(contract_id, command_id, events=new_events, retries=retries)
        raise CommandError("contract_id", f"gave up after {MAX_CONFLICT_RETRIES} concurrency "
                                          f"conflicts on contract {contract_id}; try again")

    def _seen(self, cmd: c.Command) -> bool:
        assert cmd.command_id is not None
        try:
            receipt = self.repository.get(receipt_uuid(cmd.command_id))
        except AggregateNotFoundError:
            return False
        first = next(iter(self.repository.event_store.get(receipt.id)))
        if first.payload_sha256 != cmd.payload_digest():
            raise CommandError("command_id", f"{cmd.command_id!r} was already used for a "
                                             f"different {first.command_type} command")
        return True

    def _decide(self, cmd: c.Command, ctx: Context) -> Contract:
        if isinstance(cmd, c.SignContract):
            if self._exists(contract_uuid(cmd.contract_id)):
                raise CommandError("contract_id", f"contract {cmd.contract_id} already exists")
            return Contract.sign(cmd, ctx)
        contract = self.load(cmd.contract_id)
        contract.handle(cmd, ctx)
        return contract

    def _exists(self, aggregate_id: UUID) -> bool:
        return any(True for _ in self.recorder.select_events(aggregate_id, limit=1))

    def load(self, contract_id: str) -> Contract:
        """The contract from its latest snapshot (compact: no closed history) and the
        events after it."""
        try:
            return self.repository.get(contract_uuid(contract_id), projector_func=replay)
        except AggregateNotFoundError:
            raise CommandError("contract_id", f"unknown contract {contract_id!r}") from None

    # -- the clock -----------------------------------------------------------------
    def advance(self, to: date, contract_id: str, actor: str = "cli",
                command_id: str | None = None) -> Outcome:
        """Move one contract's clock to `to`, firing every rule due on the way."""
        command_id = command_id or f"advance-{uuid.uuid4()}"

        def attempt() -> list[Any] | None:
            contract = self.load(contract_id)
            if contract.state.clock >= to:
                return None
            contract.advance_to(to, Context(actor, command_id, "advance_clock", self.calendar))
            return [contract]

        return self._save_retrying(contract_id, command_id, attempt)

    def contract_ids(self) -> list[str]:
        """Every signed contract, in signing order (read from the notification log)."""
        topic = get_topic(ContractSigned)
        ids: list[str] = []
        start = 1
        while True:
            batch = self.recorder.select_notifications(start, 1000, topics=[topic])
            if not batch:
                return ids
            for n in batch:
                ids.append(self.mapper.to_domain_event(n).contract_id)
            start = batch[-1].id + 1

    # -- reading -------------------------------------------------------------------
    def contract_events(self, contract_id: str, known_at: datetime | None = None
               ) -> list[LedgerEvent]:
        """A contract's events in order; with `known_at`, only those recorded by then."""
        uid = contract_uuid(contract_id)
        out = [e for e in self.repository.event_store.get(uid)
               if known_at is None or e.timestamp <= known_at]
        if not out and not self._exists(uid):
            raise CommandError("contract_id", f"unknown contract {contract_id!r}")
        return out

    def load_history(self, contract_id: str) -> Contract:
        """The contract replayed from its first event, without a snapshot: its state
        holds the whole history (every charge, bill and payment), which views "as of"
        an earlier date or about an old month need. `load` may return a state whose
        snapshot left closed history out (bounded load time)."""
        contract = replay(None, self.contract_events(contract_id))
        assert contract is not None
        return contract

    def contract_as_known_at(self, contract_id: str, known_at: datetime) -> Contract:
        """The contract as the ledger knew it at record time `known_at`."""
        events = self.contract_events(contract_id, known_at)
        if not events:
            raise CommandError("as_known_at", f"contract {contract_id} was not yet signed "
                                              f"at {known_at.isoformat()}")
        contract = replay(None, events)
        assert contract is not None
        return contract


