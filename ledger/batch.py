"""Group commit: many commands per transaction, each command still all-or-nothing.

`LedgerApplication.execute` saves every command in its own transaction, which
costs a commit (and an fsync) per command. `BatchApplier` decides commands one
by one against aggregates it keeps in memory and saves all their new events,
with the commands' idempotency receipts, in ONE `app.save(...)` per batch:

- a refused command (`CommandError`) records nothing: its aggregate is rebuilt
  from the last saved state plus the batch's earlier events for it (deciding
  mutates the in-memory state, so the events must not merely be dropped), then
  the error is raised; the caller flushes, so the commands before it are saved;
- idempotency: a command id is checked against the receipts pending in the
  batch (same id + same payload: a duplicate) and against the store. The store
  check is optimistic: the receipt's id is unique, so saving a command that was
  already applied fails the whole batch (nothing is written), which is then
  decided again checking every receipt in the store. After a batch that found
  duplicates the next one checks up front too (a re-run file is all duplicates);
  a batch without any goes back to optimistic (one select per command saved);
- concurrency: another writer may have saved the same contract. The save then
  fails with `IntegrityError` (versions collide) and the whole batch is decided
  again from freshly loaded state, a bounded number of times;
- saved aggregates stay in a bounded LRU cache, so the next batch does not load
  them again (a batch sorted by date touches each contract about once). A stale
  cache entry cannot be saved (its versions collide, as above); a command that a
  cached aggregate refuses is re-checked against the store before it is refused.
"""

from __future__ import annotations

import gc
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from ledger.application import (
    MAX_CONFLICT_RETRIES,
    CommandAccepted,
    LedgerApplication,
    Outcome,
    command_receipt,
    receipt_uuid,
)
from ledger.domain import commands as c
from ledger.domain.commands import CommandError
from ledger.domain.contract import Context, Contract, contract_uuid

#: Explicit limits: commands per transaction, and saved aggregates kept in memory.
DEFAULT_BATCH = 500
MAX_BATCH = 100_000
#: A date-sorted command file touches every contract within days: when the cache holds
#: fewer contracts than the file, nearly every command reloads its contract (measured at
#: `medium`, 5,177 contracts: 701 stored events/s with 2,000 cached, 4,056/s with 6,000;
#: cached contracts are compact (no closed history): about 30 KB each, measured at
#: `medium`: 202 MB peak with all 5,177 cached).
DEFAULT_CACHE = 50_000


@contextmanager
def bulk_gc() -> Iterator[None]:
    """While applying a file: deciding allocates many short-lived pydantic objects, and
    CPython's default generation-0 threshold (700 allocations) then runs the cyclic
    collector thousands of times a second for little garbage. A higher threshold (the
    old one restored after) cut ingest CPU by about a fifth."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@dataclass(frozen=True)
class AdvanceClock:
    """Move one contract's clock to `at` (month end, `ledger advance`), in a batch.

    Not a user command: like `LedgerApplication.advance` it records no receipt (the
    clock only moves forward, so doing it twice records nothing the second time)."""

    contract_id: str
    at: date
    actor: str = "cli"
    command_id: None = None
    type: str = "advance_clock"


class BatchRefusal(CommandError):
    """A command refused when its batch was decided again at save time; the message
    starts with the command's label (e.g. "line 12: command_id: ...")."""

    def __init__(self, label: str, refusal: CommandError) -> None:
        super().__init__(refusal.field, refusal.reason)
        self.label = label
        self.args = (f"{label}: {refusal}",)


class _Stale(Exception):
    """A cached aggregate is behind the store: decide the batch again."""


def _gave_up() -> CommandError:
    return CommandError("", f"gave up after {MAX_CONFLICT_RETRIES} concurrency conflicts "
                            "saving a batch of commands; try again")


@dataclass
class Totals:
    applied: int = 0
    duplicates: int = 0
    events: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.duplicate:
            self.duplicates += 1
        else:
            self.applied += 1
            self.events += len(outcome.events)


class BatchApplier:
    """Apply commands through `submit`, then `flush` (also done every `batch_size`)."""

    def __init__(self, app: LedgerApplication, batch_size: int = DEFAULT_BATCH,
                 cache_size: int = DEFAULT_CACHE) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise CommandError("batch", f"must be between 1 and {MAX_BATCH}")
        self.app = app
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.saved = Totals()  # committed
        self.transactions = 0
        self._cache: OrderedDict[UUID, Contract] = OrderedDict()
        #: check receipts in the store before deciding (else rely on the unique id)
        self.check_receipts = False
        self._reset()

    # -- public -------------------------------------------------------------------------
    def submit(self, cmd: c.Command | AdvanceClock, label: str | None = None) -> Outcome:
        """Decide `cmd` into the current batch (not yet saved); `CommandError` if refused.

        A command may also be refused later, when its batch is saved and has to be
        decided again (a command id already used in the store, another writer):
        `flush` then raises `BatchRefusal`, naming the command by `label` (e.g.
        "line 12") and saving the commands before it."""
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            try:
                outcome = self._decide(cmd)
                break
            except _Stale:
                self.app.conflicts_retried += 1
                self._redo()
        else:
            raise _gave_up()
        self._commands.append(cmd)
        self._labels.append(label)
        self._pending.add(outcome)
        if len(self._commands) >= self.batch_size:
            self.flush()
        return outcome

    def flush(self) -> None:
        """Save the batch in one transaction (retrying the batch on conflicts)."""
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            if not self._commands:
                return
            try:
                self._save()
            except IntegrityError:  # a stored receipt, or another writer's versions
                self.app.conflicts_retried += 1
                self.check_receipts = True
                self._redo()
                continue
            self.transactions += 1
            self.saved.applied += self._pending.applied
            self.saved.duplicates += self._pending.duplicates
            self.saved.events += self._pending.events
            for uid, contract in self._live.items():
                self._remember(uid, contract)
            self.check_receipts = self._pending.duplicates > 0
            self._reset()
            return
        self._forget_batch()
        raise _gave_up()

    def _save(self) -> None:
        """`Application.save` in one transaction, except that snapshots are taken from
        the aggregates in memory (at their new head) instead of being rebuilt from the
        store at each multiple of the interval: same snapshot content, no re-read."""
        app = self.app
        interval = app.snapshotting_intervals.get(Contract)
        crossed = [x for x in self._live.values()
                   if interval and app.snapshots is not None
                   and (x.version - len(x.pending_events)) // interval < x.version // interval]
        # Collected by hand: `ProcessingEvent.collect_events` runs two runtime
        # `Protocol` isinstance checks per aggregate (a sixth of the save's time).
        pe: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in self._live.values():
            pe.events.extend(aggregate.collect_events())
            pe.aggregates[aggregate.id] = aggregate
        pe.events.extend(self._receipts.values())
        recordings = app._record(pe)
        if crossed:
            assert app.snapshots is not None
            app.snapshots.put([Contract.Snapshot.take(x) for x in crossed])
        app._notify(recordings)

    # -- deciding -----------------------------------------------------------------------
    def _reset(self) -> None:
        self._commands: list[c.Command | AdvanceClock] = []
        self._labels: list[str | None] = []
        self._live: dict[UUID, Contract] = {}
        self._receipts: dict[str, CommandAccepted] = {}  # command_id -> receipt (unsaved)
        self._digests: dict[str, str] = {}  # command_id -> payload digest (unsaved)
        self._pending = Totals()

    def _decide(self, cmd: c.Command | AdvanceClock) -> Outcome:
        app = self.app
        contract_id: str = cmd.contract_id  # type: ignore[attr-defined]
        prefix = "advance" if isinstance(cmd, AdvanceClock) else "auto"
        command_id = cmd.command_id or f"{prefix}-{uuid.uuid4()}"
        if cmd.command_id is not None and self._seen(cmd, in_store=self.check_receipts):
            return Outcome(contract_id, command_id, duplicate=True)
        ctx = Context(cmd.actor, command_id, cmd.type, app.calendar)
        uid = contract_uuid(contract_id)
        try:
            if isinstance(cmd, c.SignContract):
                if uid in self._live or uid in self._cache or app._exists(uid):
                    raise CommandError("contract_id", f"contract {contract_id} already exists")
                contract = Contract.sign(cmd, ctx)
                mark = 0
            else:
                contract = self._contract(uid, contract_id)
                mark = len(contract.pending_events)
                try:
                    if isinstance(cmd, AdvanceClock):
                        if contract.state.clock < cmd.at:
                            contract.advance_to(cmd.at, ctx)
                    else:
                        contract.handle(cmd, ctx)
                except BaseException:
                    self._restore(uid, contract, mark)
                    raise
        except CommandError:
            # Another process may have saved this very command since the receipt check
            # (the state we loaded includes it): that is a duplicate, not a refusal.
            if (cmd.command_id is not None and cmd.command_id not in self._digests
                    and self._seen(cmd)):
                return Outcome(contract_id, command_id, duplicate=True)
            raise
        self._live[uid] = contract
        if cmd.command_id is not None:
            self._digests[cmd.command_id] = cmd.payload_digest()
            self._receipts[cmd.command_id] = command_receipt(
                cmd, command_id, self._digests[cmd.command_id])
        return Outcome(contract_id, command_id, events=list(contract.pending_events[mark:]))

    def _seen(self, cmd: c.Command, in_store: bool = True) -> bool:
        """Same answer as `LedgerApplication._seen`, also for receipts pending in the
        batch, with one indexed select instead of a repository load (no snapshot
        lookup, no second read of the receipt's event). `in_store=False` looks at
        the batch only (the save's unique receipt id checks the store)."""
        assert cmd.command_id is not None
        digest = self._digests.get(cmd.command_id)
        command_type = "pending"
        if digest is None:
            if not in_store:
                return False
            stored = self.app.recorder.select_events(receipt_uuid(cmd.command_id), limit=1)
            if not stored:
                return False
            receipt = self.app.mapper.to_domain_event(stored[0])
            digest, command_type = receipt.payload_sha256, receipt.command_type
        if digest != cmd.payload_digest():
            raise CommandError("command_id", f"{cmd.command_id!r} was already used for a "
                                             f"different {command_type} command")
        return True

    def _contract(self, uid: UUID, contract_id: str) -> Contract:
        contract = self._live.get(uid) or self._cache.get(uid)
        return contract if contract is not None else self.app.load(contract_id)

    def _restore(self, uid: UUID, contract: Contract, mark: int) -> None:
        """Undo a refused command: the saved state plus this batch's earlier events for
        `uid`. Raises `_Stale` if the saved state moved on (the refusal may be wrong)."""
        kept = list(contract.pending_events[:mark])
        base_version = contract.version - len(contract.pending_events)
        self._live.pop(uid, None)
        self._cache.pop(uid, None)
        fresh: Contract | None = self.app.repository.get(uid) if base_version else None
        if (fresh.version if fresh is not None else 0) != base_version:
            raise _Stale
        for event in kept:
            fresh = event.mutate(fresh)
        if fresh is not None:
            if kept:
                fresh.pending_events.extend(kept)
                self._live[uid] = fresh
            else:
                self._remember(uid, fresh)

    def _redo(self) -> None:
        """Decide the batch's commands again from the store's current state."""
        commands, labels = self._commands, self._labels
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            self._forget_batch()
            try:
                for cmd, label in zip(commands, labels, strict=True):
                    try:
                        outcome = self._decide(cmd)
                    except CommandError as e:
                        self.flush()  # the commands before the refused one are saved
                        raise BatchRefusal(label or f"command {cmd.command_id or cmd.type}",
                                           e) from None
                    self._commands.append(cmd)
                    self._labels.append(label)
                    self._pending.add(outcome)
                return
            except _Stale:
                self.app.conflicts_retried += 1
        raise _gave_up()

    def _forget_batch(self) -> None:
        self._cache.clear()  # another writer is active: trust nothing cached
        self._reset()

    def _remember(self, uid: UUID, contract: Contract) -> None:
        contract.compact()  # as its snapshot would: deciding needs no closed history
        self._cache[uid] = contract
        self._cache.move_to_end(uid)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
