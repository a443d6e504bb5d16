"""The contract aggregate: decides what happens and records it as events.

Every command first moves the contract's clock to the command's date: every
time rule effective on or before that date fires, in date order, exactly once
(rules are checks against the recorded state, so moving the clock again finds
nothing left to do). Then the command is decided. Pure rule functions live in
`ledger.rules`; this module only decides which facts to record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain import commands as c
from ledger.domain import events as ev
from ledger.domain.base import LedgerAggregate, LedgerEvent
from ledger.domain.commands import CommandError
from ledger.domain.snapshot import LedgerSnapshot
from ledger.domain.state import (
    ContractState,
    LineState,
    add_charge_run,
    charge_id,
    charge_number,
)
from ledger.rules.arrears import (
    OpenItem,
    allocate_oldest_first,
    arrears_since,
    arrears_suspension_date,
    open_run_start,
    overdue_bills,
)
from ledger.rules.billing_start import ConfirmationWindow, confirmation_window
from ledger.rules.calendar import CalendarError, WorkingCalendar
from ledger.rules.dates import (
    add_months,
    month_end,
    month_key,
    month_start,
    months_between,
    next_month_start,
    parse_month,
)
from ledger.rules.money import ZERO, fmt, round_fen
from ledger.rules.policy import DEFAULT_POLICY, Policy
from ledger.rules.rent import (
    AccountService,
    FeeStep,
    LineService,
    Posted,
    Suspension,
    fee_on,
    rent_due,
    rent_postings,
)
from ledger.rules.term import cancellation_date, notice_in_window, renewed_term

CLOCK_ACTOR = "system:clock"
#: Explicit limit: one clock move may not span more than this (a typo guard).
MAX_ADVANCE_DAYS = 366 * 30
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:contract-ledger")


@dataclass(frozen=True)
class Context:
    """Who is acting, for which command, with which calendar."""

    actor: str
    command_id: str
    command_type: str
    calendar: WorkingCalendar


def contract_uuid(contract_id: str) -> UUID:
    return uuid5(_NAMESPACE, "contract:" + contract_id)


class Contract(LedgerAggregate):
    state_model: ClassVar[type[ContractState]] = ContractState
    Snapshot = LedgerSnapshot
    #: Version 2 of the state adds running totals and compact snapshots (see
    #: `compact_state`); version 1 snapshots are upcast by `upcast_v1_v2`.
    class_version: ClassVar[int] = 2
    if TYPE_CHECKING:  # set by ContractSigned.apply; not a constructor argument
        state: ContractState

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version 1 snapshot holds the whole history and no running totals: derive
        them from it (the state stays complete: `compacted_on` is None)."""
        def total(items: list[dict[str, Any]], field: str) -> str:
            return str(sum((Decimal(x[field]) for x in items), ZERO))

        charges = state["charges"]
        state["charge_count"] = len(charges)
        state["charged_total"] = total(charges, "amount")
        state["billed_total"] = total(state["bills"], "total")
        state["paid_total"] = total(state["payments"], "amount")
        months: dict[str, Any] = {}
        for number, x in enumerate(charges, 1):
            add_charge_run(months, x["service_month"], x["line_id"], number)
        state["charge_months"] = months

    @property
    def chain_head(self) -> str:
        return self.state.head_hash

    def _set_chain_head(self, value: str) -> None:
        self.state.head_hash = value

    # -- creation -------------------------------------------------------------------
    @classmethod
    def sign(cls, cmd: c.SignContract, ctx: Context, policy: Policy = DEFAULT_POLICY
             ) -> Contract:
        return cls._create(
            ev.ContractSigned,
            id=contract_uuid(cmd.contract_id),
            business_date=cmd.at, actor=cmd.actor, command_id=ctx.command_id,
            command_type=ctx.command_type,
            contract_id=cmd.contract_id, customer=cmd.customer,
            term_start=cmd.term_start, term_end=cmd.term_end,
            billing_mode=cmd.billing_mode, cross_border=cmd.cross_border,
            lines=[ev.LineSpec(line_id=x.line_id, kind=x.kind, monthly_fee=x.monthly_fee)
                   for x in cmd.lines],
            sms_quota=cmd.sms_quota, sms_overage_rate=cmd.sms_overage_rate,
            equipment=[ev.AssetSpec(asset_id=a.asset_id, description=a.description,
                                    value=a.value) for a in cmd.equipment],
            policy=policy,
        )

    # -- plumbing -------------------------------------------------------------------
    def _emit(self, event_class: type[LedgerEvent], on: date, *, by_clock: bool = False,
              **fields: Any) -> None:
        ctx = self._ctx
        self.trigger_event(event_class, business_date=on,
                           actor=CLOCK_ACTOR if by_clock else ctx.actor,
                           command_id=ctx.command_id, command_type=ctx.command_type, **fields)

    def handle(self, cmd: c.Command, ctx: Context) -> None:
        """Move the clock to the command's date, then decide the command."""
        self._ctx = ctx
        try:
            self._advance(cmd.at, record=False)
            handler = getattr(self, "_on_" + cmd.type)
            handler(cmd)
            if self.state.billing_mode == "prepaid":
                self._post_rent(cmd.at, cmd.at)  # R4: prepaid rent is deducted as soon as it is due
        finally:
            del self._ctx  # not state: never part of a snapshot

    def advance_to(self, target: date, ctx: Context) -> None:
        """Move the clock to `target` and record that it moved (ClockAdvanced)."""
        self._ctx = ctx
        try:
            self._advance(target, record=True)
        finally:
            del self._ctx

    def _advance(self, target: date, record: bool) -> None:
        """Fire every time rule effective on or before `target`, in date order."""
        s = self.state
        if target < s.clock:
            raise CommandError("at", f"{target} is before the contract's clock {s.clock} "
                                     f"(contract {s.contract_id}); commands must be in date order")
        if (target - s.clock).days > MAX_ADVANCE_DAYS:
            raise CommandError("at", f"{target} is more than {MAX_ADVANCE_DAYS} days after "
                                     f"the contract's clock {s.clock}")
        cursor = s.clock
        while True:
            d = self._next_rule_date(cursor)
            if d > target:
                break
            self._run_rules(d)
            cursor = d
        if record and s.clock < target:
            self._emit(ev.ClockAdvanced, target, by_clock=True)

    # -- snapshots ------------------------------------------------------------------
    def compact_state(self) -> ContractState:
        """The state a snapshot keeps (`LedgerSnapshot.take`): what deciding and
        `status` as of the clock need, and the running totals. Its size depends on the
        open items, not on the length of the history.

        Left out (it stays in the events, see `LedgerApplication.load_history`):
        charges already on a bill and every prepaid charge (the totals answer for
        them, `charge_months` finds a month's items for a dispute, R13); payments
        (`paid_total`); bills settled before the arrears run of every unpaid bill
        began, which can never join an arrears period again (R6); rent postings of
        months no fact can reach any more (`_rent_open_from`). Lines, terms,
        suspensions and disputes are kept: they grow with events people cause, not
        with time or usage."""
        s = self.state
        open_from = month_key(self._rent_open_from())
        run_start = open_run_start(self._open_items())
        return s.model_copy(update={
            "charges": [x for x in s.charges
                        if s.billing_mode == "postpaid" and x.bill_id is None],
            "payments": [],
            "bills": [b for b in s.bills if b.settled_on is None
                      or (run_start is not None and b.settled_on >= run_start)],
            "rent_posted": {k: p for k, p in s.rent_posted.items()
                            if k.split("|")[1] >= open_from},
            "rent_open_from": open_from,
            "compacted_on": s.clock,
        })

    def compact(self) -> None:
        """Leave the closed history out of the state in memory too, as a snapshot does:
        deciding needs none of it, so a long-lived cache of contracts stays small
        (views of the past then need `load_history`)."""
        self.state = self.compact_state()

    def _rent_open_from(self) -> date:
        """The first service month whose rent can still change. A fact recorded from
        now on takes effect on or after the clock (a tariff from a notified date,
        R12; a suspension, reinstatement or termination on the day it fires or is
        commanded, R5-R8, R10), except a billing start, which R2 may back-date to its
        test report's T+5; facts recorded but not yet reconciled reach back as far as
        `_rent_begin` looks."""
        s = self.state
        first = month_start(s.clock)
        for ln in s.lines.values():
            if ln.billing_start is None and ln.report_date is not None:
                first = min(first, month_start(ln.report_date))
        begin = self._rent_begin(s.clock)
        return first if begin is None else min(first, begin)

    # -- the clock ------------------------------------------------------------------
    def _next_rule_date(self, after: date) -> date:
        s = self.state
        candidates = [next_month_start(after)]
        for line in s.lines.values():
            if line.billing_start is None and line.decided_on is not None:
                candidates.append(line.decided_on)
            elif line.billing_start is not None:
                candidates.append(line.billing_start)
        if not s.is_terminated:
            candidates.append(s.term.end + timedelta(days=1))
            susp = s.open_suspension
            if susp is not None:
                candidates.append(cancellation_date(susp.start, s.policy))
        return min(x for x in candidates if x > after)

    def _run_rules(self, d: date) -> None:
        """All rules effective on `d`: end-of-day checks of d-1 first, then postings."""
        s = self.state
        if not s.is_terminated:
            for line in s.lines.values():  # R2: windows that closed at the end of d-1
                if (line.billing_start is None and line.decided_on is not None
                        and line.decided_on <= d):
                    self._activate(line, self._window(line).deemed_start, "deemed", d)
            susp = s.open_suspension
            if susp is not None and cancellation_date(susp.start, s.policy) <= d:
                self._emit(ev.ContractTerminated, d, by_clock=True,  # R8
                           terminated_on=cancellation_date(susp.start, s.policy),
                           reason="cancellation")
            elif susp is None and d.day == 1:
                if s.billing_mode == "prepaid":
                    self._prepaid_month_end_check(d)
                else:
                    self._arrears_check(d)
            # After R5/R6/R8: a contract cancelled on the day its term would renew ends
            # there (no renewal), and the month-end checks see the term that just ran.
            self._end_of_term(d)
        if s.billing_mode == "prepaid":
            self._post_rent(d, d, by_clock=True)
        elif d.day == 1:
            self._post_rent(d - timedelta(days=1), d, by_clock=True)
            self._issue_bill(d)

    def _end_of_term(self, d: date) -> None:
        """R9/R10: at term_end + 1, expire after a notice, otherwise renew."""
        s = self.state
        while not s.is_terminated and s.term.end < d:
            end = s.term.end
            if s.notice is not None and s.notice.term_end == end:
                self._emit(ev.ContractTerminated, end + timedelta(days=1), by_clock=True,
                           terminated_on=end + timedelta(days=1), reason="expiry")
            else:
                start, new_end = renewed_term(end, s.cross_border, s.policy)
                self._emit(ev.ContractRenewed, start, by_clock=True,
                           previous_term_end=end, term_start=start, term_end=new_end)

    def _prepaid_month_end_check(self, d: date) -> None:
        """R5 (Art.4.4): balance short of next month's rent at month end -> suspend."""
        s = self.state
        last = d - timedelta(days=1)
        account = self._account()
        in_service = [ln for ln in self._line_services(last) if account.in_service(ln, last)]
        if not in_service:
            return
        required = sum((fee_on(ln.schedule, d) for ln in in_service), ZERO)
        balance = self.prepaid_balance()
        if balance < required:
            self._emit(ev.Suspended, d, by_clock=True, suspended_on=d, reason="prepaid_balance",
                       balance=balance, required=required,
                       cancellation_on=cancellation_date(d, s.policy))

    def _arrears_check(self, d: date) -> None:
        """R6 (Art.4.4): suspend on the 1st of month 3 of an unbroken arrears period."""
        s = self.state
        items = self._open_items()
        since = arrears_since(items, d)
        if since is None:
            return
        if arrears_suspension_date(since, s.policy.arrears_suspension_month) <= d:
            self._emit(ev.Suspended, d, by_clock=True, suspended_on=d, reason="arrears",
                       balance=self.postpaid_balance(), overdue_bill_ids=overdue_bills(items, d),
                       arrears_since=since, cancellation_on=cancellation_date(d, s.policy))

    # -- rent ------------------------------------------------------------------------
    def _line_services(self, horizon: date) -> list[LineService]:
        """Lines as the rent rules see them; a start after `horizon` is not yet due."""
        out = []
        for line in self.state.lines.values():
            start = line.billing_start
            if start is not None and start > horizon:
                start = None
            out.append(LineService(line.line_id, start, tuple(
                FeeStep(step.effective, step.fee) for step in line.schedule)))
        return out

    def _account(self, reinstate_on: date | None = None) -> AccountService:
        s = self.state
        suspensions = [Suspension(x.start, x.end) for x in s.suspensions]
        if reinstate_on is not None and suspensions and suspensions[-1].end is None:
            suspensions[-1] = Suspension(suspensions[-1].start, reinstate_on)
        return AccountService(tuple(suspensions), s.terminated_on)

    def _rent_months(self, horizon: date) -> list[date]:
        """Service months whose rent may differ from what was posted: months not yet
        posted, and months touched by facts recorded after the last rent posting.
        Nothing is due after the termination's month (R10), and nothing was posted
        after it either (rent is posted up to the clock's month at the latest)."""
        terminated_on = self.state.terminated_on
        if terminated_on is not None:
            horizon = min(horizon, terminated_on)
        begin = self._rent_begin(horizon)
        return [] if begin is None else list(months_between(begin, horizon))

    def _rent_begin(self, horizon: date) -> date | None:
        """The first month of `_rent_months(horizon)`, or None if no line has started.
        Never before `rent_open_from`: those months' postings are no longer held, and
        posting them again would charge them twice."""
        s = self.state
        starts = [ln.billing_start for ln in s.lines.values()
                  if ln.billing_start is not None and ln.billing_start <= horizon]
        if not starts:
            return None
        first = month_start(min(starts))
        if s.rent_open_from is not None:
            first = max(first, parse_month(s.rent_open_from))
        begin = (next_month_start(parse_month(s.rent_posted_through))
                 if s.rent_posted_through else first)
        since = s.last_rent_version
        for ln in s.lines.values():
            if ln.billing_start and (ln.start_recorded_version or 0) > since:
                begin = min(begin, month_start(ln.billing_start))
            elif ln.billing_start and first <= ln.billing_start <= horizon:
                # A start dated after the posting that followed its recording (a deemed
                # start in the future, R2) is due from its start month on.
                prefix = f"{ln.line_id}|{month_key(ln.billing_start)}|"
                if not any(k.startswith(prefix) for k in s.rent_posted):
                    begin = min(begin, month_start(ln.billing_start))
            for step in ln.schedule:
                if step.recorded_version > since:
                    begin = min(begin, month_start(step.effective))
        for x in s.suspensions:
            if x.recorded_version > since:
                begin = min(begin, month_start(x.start))
            if x.end is not None and (x.end_recorded_version or 0) > since:
                begin = min(begin, month_start(x.end))
        if s.terminated_on and (s.termination_recorded_version or 0) > since:
            begin = min(begin, month_start(s.terminated_on))
        return max(begin, first)

    def _post_rent(self, horizon: date, on: date, by_clock: bool = False) -> None:
        """R3/R4/R7/R10/R12: post what is due up to `horizon`'s month and not yet posted.

        Postpaid calls this for completed months at the bill run; prepaid for the
        current month (deducted in advance). A change after posting is corrected by a
        new charge for the difference (R13: nothing recorded is edited)."""
        s = self.state
        months = self._rent_months(horizon)
        if not months:
            return
        keys = {month_key(m) for m in months}
        due = rent_due(self._line_services(horizon), self._account(), months)
        posted = self._posted(keys)
        if s.is_terminated:
            why = ("R10", "Art.4.1")
        elif s.open_suspension is not None:
            why = ("R7", "Art.4.4")
        else:
            why = ("R12", "Art.3.5")
        for p in rent_postings(due, posted, keys, why):
            item = p.item
            formula = item.formula
            if p.is_correction:
                formula = (f"{fmt(item.rate)} x {item.days}/{item.days_in_month} = "
                           f"{fmt(item.amount)} now due, less {fmt(p.corrects_amount)} "
                           f"posted before = {fmt(p.amount)}")
            self._emit(ev.ChargePosted, on, by_clock=by_clock,
                       charge_id=self._next_charge_id(),
                       kind="adjustment" if p.is_correction else item.kind,
                       line_id=item.line_id, service_month=month_key(item.month),
                       service_from=item.service_from, service_to=item.service_to,
                       days=p.days, days_in_month=item.days_in_month, rate=item.rate,
                       amount=p.amount, rule=item.rule, clause=item.clause, formula=formula,
                       rent_key=f"{item.line_id}|{month_key(item.month)}|{fmt(item.rate)}")

    def _posted(self, months: set[str]) -> dict[tuple[str, str, Decimal], Posted]:
        """Rent posted so far for `months`, keyed as `rent_due` keys what is due."""
        out = {}
        for key, p in self.state.rent_posted.items():
            line_id, month, rate = key.split("|")
            if month in months:
                out[(line_id, month, Decimal(rate))] = Posted(
                    p.days, p.amount, p.service_from, p.service_to, p.days_in_month)
        return out

    def _next_charge_id(self) -> str:
        return charge_id(self.state.contract_id, self.state.charge_count + 1)

    def _is_charge(self, cid: str) -> bool:
        """Whether `cid` names a charge posted on this contract (numbered 1, 2, ...)."""
        number = charge_number(self.state.contract_id, cid)
        return number is not None and 1 <= number <= self.state.charge_count

    def _issue_bill(self, d: date) -> None:
        """R4 (Art.4.3, Art.4.4): on the 1st, bill everything posted and not yet billed."""
        s = self.state
        unbilled = [x for x in s.charges if x.bill_id is None]
        if not unbilled:
            return
        period = month_key(d - timedelta(days=1))
        total = sum((x.amount for x in unbilled), ZERO)
        credit_applied = min(s.credit, total) if total > 0 else ZERO
        self._emit(ev.BillIssued, d, by_clock=True, bill_id=f"{s.contract_id}/{period}",
                   period=period, issued_on=d, due_on=month_end(d),
                   charge_ids=[x.charge_id for x in unbilled], total=total,
                   credit_applied=credit_applied)

    # -- money questions (also used by views) -----------------------------------------
    def prepaid_balance(self) -> Decimal:
        s = self.state
        return s.paid_total - s.charged_total

    def postpaid_balance(self) -> Decimal:
        s = self.state
        return s.paid_total - s.billed_total

    def _open_items(self) -> list[OpenItem]:
        return [OpenItem(b.bill_id, b.due_on, b.settled_on) for b in self.state.bills]

    # -- R2 activation ------------------------------------------------------------------
    def _window(self, line: LineState) -> ConfirmationWindow:
        assert line.report_date is not None and line.deemed_start is not None
        return ConfirmationWindow(line.report_date, tuple(line.window_days), line.deemed_start)

    def _activate(self, line: LineState, start: date, how: str, on: date) -> None:
        assert line.report_date is not None
        self._emit(ev.LineActivated, on, by_clock=(how == "deemed"), line_id=line.line_id,
                   billing_start=start, decided_by=how, report_date=line.report_date,
                   confirmed_on=line.confirmed_on, window_days=line.window_days,
                   calendar=line.calendar or "")

    def _line(self, line_id: str) -> LineState:
        line = self.state.lines.get(line_id)
        if line is None:
            raise CommandError("line_id", f"unknown line {line_id!r} in contract "
                                          f"{self.state.contract_id} (lines: "
                                          + ", ".join(self.state.lines) + ")")
        return line

    def _require_open(self, field: str = "contract_id") -> None:
        s = self.state
        if s.is_terminated:
            raise CommandError(field, f"contract {s.contract_id} was terminated on "
                                      f"{s.terminated_on} ({s.termination_reason})")

    # -- command handlers ------------------------------------------------------------
    def _on_submit_test_report(self, cmd: c.SubmitTestReport) -> None:
        self._require_open()
        line = self._line(cmd.line_id)
        if line.billing_start is not None:
            raise CommandError("line_id", f"line {line.line_id} is already activated "
                                          f"(billing start {line.billing_start})")
        if line.confirmed_on is not None:
            raise CommandError("line_id", f"line {line.line_id} was already confirmed")
        cal = self._ctx.calendar
        try:
            window = confirmation_window(cmd.at, cal, self.state.policy)
        except CalendarError as e:
            raise CommandError("at", str(e)) from None
        self._emit(ev.TestReportSubmitted, cmd.at, line_id=line.line_id, report_date=cmd.at,
                   window_days=list(window.working_days), decided_on=window.decided_on,
                   deemed_start=window.deemed_start, calendar=f"{cal.name} {cal.version}")

    def _on_confirm_activation(self, cmd: c.ConfirmActivation) -> None:
        self._require_open()
        line = self._line(cmd.line_id)
        if line.report_date is None:
            raise CommandError("line_id", f"no test report has been submitted for line "
                                          f"{line.line_id}; confirmation follows the report (R2)")
        if line.confirmed_on is not None:
            raise CommandError("line_id", f"line {line.line_id} was already confirmed on "
                                          f"{line.confirmed_on}")
        in_window = self._window(line).confirmed_in_window(cmd.at)
        self._emit(ev.ActivationConfirmed, cmd.at, line_id=line.line_id, confirmed_on=cmd.at,
                   in_window=in_window)
        if in_window and line.billing_start is None:
            self._activate(line, cmd.at, "confirmed", cmd.at)

    def _on_record_payment(self, cmd: c.RecordPayment) -> None:
        s = self.state
        if s.billing_mode == "postpaid":
            open_bills = [(b.bill_id, b.total - b.paid) for b in s.bills if b.paid < b.total]
            allocations, credit = allocate_oldest_first(cmd.amount, open_bills)
        else:
            allocations, credit = [], ZERO
        self._emit(ev.PaymentReceived, cmd.at, amount=cmd.amount, reference=cmd.reference,
                   allocations=[ev.Allocation(bill_id=a.bill_id, amount=a.amount)
                                for a in allocations], credit=credit)
        self._maybe_reinstate(cmd.at)

    def _maybe_reinstate(self, d: date) -> None:
        """R7: postpaid on the day all overdue bills are paid; prepaid on the day the
        balance covers the rest of the current month's rent (then deducted)."""
        s = self.state
        susp = s.open_suspension
        if susp is None or s.is_terminated:
            return
        if susp.reason == "arrears":
            if not overdue_bills(self._open_items(), d):
                self._emit(ev.Reinstated, d, reinstated_on=d, reason="all overdue bills paid")
            return
        months = [month_start(d)]
        keys = {month_key(d)}
        due = rent_due(self._line_services(d), self._account(reinstate_on=d), months)
        posted = self._posted(keys)
        needed = sum((p.amount for p in rent_postings(due, posted, keys)), ZERO)
        if self.prepaid_balance() >= needed:
            self._emit(ev.Reinstated, d, reinstated_on=d,
                       reason=f"balance covers the rest of the month's rent {fmt(needed)}")

    def _on_adjust_tariff(self, cmd: c.AdjustTariff) -> None:
        self._require_open()
        line = self._line(cmd.line_id)
        if cmd.effective < cmd.at:
            raise CommandError("effective", f"{cmd.effective} is before the command date "
                                            f"{cmd.at}; tariff changes apply from a notified "
                                            "future date (R12, Art.3.5)")
        previous = fee_on([FeeStep(x.effective, x.fee) for x in line.schedule], cmd.effective)
        self._emit(ev.TariffAdjusted, cmd.at, line_id=line.line_id,
                   monthly_fee=cmd.monthly_fee, previous_fee=previous, effective=cmd.effective)

    def _on_record_sms_usage(self, cmd: c.RecordSmsUsage) -> None:
        self._require_open()
        s = self.state
        before = s.sms_used_in_term
        after = before + cmd.messages
        over = max(0, after - s.sms_quota) - max(0, before - s.sms_quota)
        self._emit(ev.SmsUsageRecorded, cmd.at, messages=cmd.messages, used_in_term=after,
                   quota=s.sms_quota, overage_messages=over)
        if over > 0:
            amount = round_fen(s.sms_overage_rate * over)
            self._emit(ev.ChargePosted, cmd.at, charge_id=self._next_charge_id(),
                       kind="overage", line_id=None, service_month=month_key(cmd.at),
                       service_from=cmd.at, service_to=cmd.at, days=None, days_in_month=None,
                       quantity=over, rate=s.sms_overage_rate, amount=amount,
                       rule="SMS", clause="Art.1",
                       formula=f"{over} messages over the quota of {s.sms_quota} x "
                               f"{s.sms_overage_rate} = {fmt(amount)} "
                               "(rounded half-up to 0.01, R1)")

    def _on_record_acceptance(self, cmd: c.RecordAcceptance) -> None:
        s = self.state
        if s.accepted_on is not None:
            raise CommandError("type", f"acceptance was already recorded on {s.accepted_on}")
        needed_since = add_months(cmd.at, -s.policy.acceptance_after_months)
        if not any(ln.billing_start is not None and ln.billing_start <= needed_since
                   for ln in s.lines.values()):
            raise CommandError("at", f"acceptance follows {s.policy.acceptance_after_months} "
                                     "month(s) of normal running (R14, Art.4.5): no line has "
                                     f"been in service since {needed_since}")
        self._emit(ev.AcceptanceRecorded, cmd.at, accepted_on=cmd.at)

    def _on_give_termination_notice(self, cmd: c.GiveTerminationNotice) -> None:
        self._require_open()
        s = self.state
        if s.notice is not None and s.notice.term_end == s.term.end:
            raise CommandError("type", f"notice was already given on {s.notice.received_on} "
                                       f"for the term ending {s.term.end}")
        self._emit(ev.TerminationNoticeGiven, cmd.at, party=cmd.party, received_on=cmd.at,
                   term_end=s.term.end,
                   in_window=notice_in_window(cmd.at, s.term.end, s.policy))

    def _on_terminate(self, cmd: c.Terminate) -> None:
        self._require_open()
        self._emit(ev.ContractTerminated, cmd.at, terminated_on=cmd.at, reason=cmd.reason)

    def _asset(self, asset_id: str) -> Any:
        s = self.state
        asset = s.equipment.get(asset_id)
        if asset is None:
            raise CommandError("asset_id", f"unknown asset {asset_id!r} in contract "
                                           f"{s.contract_id}")
        if not s.is_terminated:
            raise CommandError("asset_id", "equipment recovery opens only after termination "
                                           "(R11, Art.2.8)")
        if asset.status != "placed":
            raise CommandError("asset_id", f"asset {asset_id} was already {asset.status} on "
                                           f"{asset.resolved_on}")
        return asset

    def _on_recover_equipment(self, cmd: c.RecoverEquipment) -> None:
        self._asset(cmd.asset_id)
        self._emit(ev.EquipmentRecovered, cmd.at, asset_id=cmd.asset_id)

    def _on_report_equipment_lost(self, cmd: c.ReportEquipmentLost) -> None:
        asset = self._asset(cmd.asset_id)
        self._emit(ev.EquipmentReportedLost, cmd.at, asset_id=asset.asset_id, value=asset.value)
        self._emit(ev.ChargePosted, cmd.at, charge_id=self._next_charge_id(),
                   kind="compensation", line_id=None, service_month=month_key(cmd.at),
                   service_from=cmd.at, service_to=cmd.at, days=None, days_in_month=None,
                   quantity=1, rate=asset.value, amount=asset.value, rule="R11",
                   clause="Art.2.8", asset_id=asset.asset_id,
                   formula=f"declared value of {asset.asset_id} = {fmt(asset.value)}")

    def _on_open_dispute(self, cmd: c.OpenDispute) -> None:
        """R13 (Art.3.6): record the question and the items it is about."""
        s = self.state
        if cmd.line_id is not None:
            self._line(cmd.line_id)
        if cmd.month > month_key(cmd.at):
            raise CommandError("month", f"{cmd.month} is after the dispute's date {cmd.at}; "
                                        "only charged months can be questioned")
        items = [charge_id(s.contract_id, n)
                 for line_id, first, last in s.charge_months.get(cmd.month, [])
                 if cmd.line_id is None or line_id == cmd.line_id
                 for n in range(first, last + 1)]
        dispute_id = f"{s.contract_id}/D{len(s.disputes) + 1:04d}"  # finds the contract
        self._emit(ev.DisputeOpened, cmd.at, dispute_id=dispute_id, month=cmd.month,
                   line_id=cmd.line_id, question=cmd.question, charge_ids=items)

    def _on_resolve_dispute(self, cmd: c.ResolveDispute) -> None:
        """R13 (Art.3.6): the outcome, and an adjustment as a NEW charge (credit negative,
        debit positive) linked to the dispute and the items it corrects."""
        if cmd.outcome == "rejected" and cmd.adjustment is not None:
            raise CommandError("adjustment", "a rejected dispute carries no adjustment")
        s = self.state
        dispute = next((x for x in s.disputes if x.dispute_id == cmd.dispute_id), None)
        if dispute is None:
            raise CommandError("dispute_id", f"unknown dispute {cmd.dispute_id!r}")
        if dispute.resolved_on is not None:
            raise CommandError("dispute_id", f"dispute {cmd.dispute_id} was already resolved "
                                             f"on {dispute.resolved_on} ({dispute.outcome})")
        for i, cid in enumerate(cmd.charge_ids):
            if not self._is_charge(cid):
                raise CommandError(f"charge_ids.{i}", f"unknown charge {cid!r} in contract "
                                                      f"{s.contract_id}")
        corrects = list(cmd.charge_ids) or list(dispute.charge_ids)
        charge_id = self._next_charge_id() if cmd.adjustment is not None else None
        self._emit(ev.DisputeResolved, cmd.at, dispute_id=dispute.dispute_id,
                   outcome=cmd.outcome, reason=cmd.reason, adjustment=cmd.adjustment,
                   adjustment_charge_id=charge_id, corrects=corrects)
        if cmd.adjustment is not None:
            month = parse_month(dispute.month)
            sense = "credit" if cmd.adjustment < 0 else "debit"
            self._emit(ev.ChargePosted, cmd.at, charge_id=charge_id, kind="adjustment",
                       line_id=dispute.line_id, service_month=dispute.month,
                       service_from=month, service_to=month_end(month), days=None,
                       days_in_month=None, rate=cmd.adjustment, amount=cmd.adjustment,
                       rule="R13", clause="Art.3.6", dispute_id=dispute.dispute_id,
                       formula=f"{sense} {fmt(cmd.adjustment)} resolving dispute "
                               f"{dispute.dispute_id} ({cmd.outcome}), correcting "
                               + (", ".join(corrects) or "no recorded item"))

    def _on_record_icp_filing(self, cmd: c.RecordIcpFiling) -> None:
        self._require_open()
        line = self._line(cmd.line_id)
        if line.kind != "internet":
            raise CommandError("line_id", f"line {line.line_id} is a {line.kind} line; ICP "
                                          "filing and web ports concern internet lines (R16)")
        if line.icp_filing_number is not None:
            raise CommandError("line_id", f"line {line.line_id} already has ICP filing "
                                          f"{line.icp_filing_number}")
        self._emit(ev.IcpFilingRecorded, cmd.at, line_id=line.line_id, address=cmd.address,
                   filing_number=cmd.filing_number)
        self._emit(ev.WebPortsOpened, cmd.at, line_id=line.line_id, ports=[80, 8080, 443, 8443])
