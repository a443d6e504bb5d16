"""Seeded, deterministic synthetic portfolio: contracts with ~24-month lifecycles as
one JSON Lines command file (all contracts' commands sorted by date, command ids set).

Each contract is drawn from its own `random.Random(f"{seed}:{index}")`, so contract
k is the same whatever the size. Its commands are then run through the real
`Contract` aggregate in memory (no store): a command the ledger would refuse (e.g.
an SMS record after an automatic R8 cancellation) is dropped, equipment recovery
is added after whatever termination actually happened, and the events each command
records are counted. Sizes are calibrated by that count: contracts are added until
the portfolio reaches the size's event target, so the file applies cleanly and its
event count is known before any store is touched.

Lifecycles (dates 2025-2026 only: the official PRC calendar data ends in 2026):
signing in Jan-Feb 2025, commands up to `LAST_COMMAND_DAY` (2026-11-30), so that a
benchmark can run the December month end afterwards. Mix: 35 % prepaid, 1-6 lines,
test reports soon / around holidays / late, confirmations same day / in the window
/ late / never, payment personas (punctual, late, erratic, stops paying, never),
tariff changes, monthly SMS usage, acceptance, ICP filings, notices (expiry),
breach/mutual terminations, cross-border 1-month renewals, recovered and lost
equipment. Suspensions, reinstatements, renewals and R8 cancellations follow from
the rules.

    .venv/bin/python scripts/generate_portfolio.py --size small --out /tmp/small.jsonl
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ledger.domain.commands import CommandError, parse_command
from ledger.domain.contract import Context, Contract
from ledger.rules.billing_start import confirmation_window
from ledger.rules.calendar import PrcCalendar, WorkingCalendar
from ledger.rules.dates import add_months
from ledger.rules.policy import DEFAULT_POLICY

#: event targets of the named sizes (issue #6)
SIZES = {"tiny": 3_000, "small": 50_000, "medium": 500_000, "large": 3_000_000}
FIRST_SIGN = date(2025, 1, 2)
LAST_COMMAND_DAY = date(2026, 11, 30)
#: a month-end run after the portfolio moves every clock here
MONTH_END = date(2026, 12, 31)

_KINDS = ["internet", "circuit", "ipvpn"]
_PREFIX = {"internet": "INT", "circuit": "DL", "ipvpn": "VPN"}
#: same-day order (a report before its confirmation, a termination last but equipment)
_PRIORITY = {"sign_contract": 0, "submit_test_report": 1, "confirm_activation": 2,
             "record_icp_filing": 3, "adjust_tariff": 4, "record_sms_usage": 5,
             "record_payment": 6, "record_acceptance": 7, "give_termination_notice": 8,
             "terminate": 9, "report_equipment_lost": 10, "recover_equipment": 11}
#: report dates whose confirmation windows span official holidays or make-up days
_HOLIDAY_REPORTS = [date(2025, 1, 24), date(2025, 1, 27), date(2025, 4, 30), date(2025, 5, 30),
                    date(2025, 9, 26), date(2025, 9, 30), date(2025, 10, 9),
                    date(2025, 12, 31), date(2026, 2, 13), date(2026, 4, 3),
                    date(2026, 4, 30), date(2026, 9, 30)]
_PERSONAS = [("punctual", 50), ("late", 18), ("erratic", 10), ("stops", 14), ("never", 8)]


def _money(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01")))


@dataclass
class Generated:
    contract_id: str
    commands: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    refused: int = 0


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def draw_contract(index: int, seed: int, cal: WorkingCalendar) -> list[dict[str, Any]]:
    """Candidate commands of contract `index` (unsorted, not yet checked)."""
    rng = random.Random(f"{seed}:{index}")
    cid = f"P{index:07d}"
    sign = FIRST_SIGN + timedelta(days=rng.randint(0, 58))
    term_start = sign + timedelta(days=rng.choice([0, 0, 0, 1, 3, 7]))
    cross_border = rng.random() < 0.08
    term_months = rng.choice([12, 12, 12, 24, 6]) if not cross_border else rng.choice([3, 12])
    term_end = add_months(term_start, term_months) - timedelta(days=1)
    mode = "prepaid" if rng.random() < 0.35 else "postpaid"

    def c(kind: str, at: date, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "at": at.isoformat(), "contract_id": cid, **fields}

    n_lines = rng.choices([1, 2, 3, 4, 5, 6], weights=[30, 25, 18, 12, 8, 7])[0]
    lines, counters = [], {k: 0 for k in _KINDS}
    for _ in range(n_lines):
        kind = rng.choice(_KINDS)
        counters[kind] += 1
        fee = Decimal(rng.randrange(800, 30_000) * 10) / 100 * 10
        lines.append({"line_id": f"{_PREFIX[kind]}-{counters[kind]}", "kind": kind,
                      "monthly_fee": _money(fee)})
    fees = {ln["line_id"]: Decimal(ln["monthly_fee"]) for ln in lines}
    sms_quota = rng.choice([0, 0, 10_000, 50_000, 200_000])
    assets = [{"asset_id": f"ONT-{i + 1:04d}", "description": "optical network terminal",
               "value": _money(Decimal(rng.randrange(300, 8_000)))}
              for i in range(rng.choice([0, 1, 1, 2, 3]))]
    cmds = [c("sign_contract", sign, customer=f"Customer {cid}",
              term_start=term_start.isoformat(), term_end=term_end.isoformat(),
              billing_mode=mode, cross_border=cross_border, lines=lines,
              sms_quota=sms_quota, sms_overage_rate=rng.choice(["0.05", "0.10", "0.035"]),
              equipment=assets)]

    # R2: test reports (soon, around a holiday, late) and confirmations
    first_start = None
    for ln in lines:
        how = rng.choices(["soon", "holiday", "late"], weights=[70, 15, 15])[0]
        holidays = [d for d in _HOLIDAY_REPORTS if term_start <= d <= term_start + timedelta(300)]
        if how == "holiday" and holidays:
            report = rng.choice(holidays)
        elif how == "late":
            report = term_start + timedelta(days=rng.randint(21, 150))
        else:
            report = term_start + timedelta(days=rng.randint(0, 20))
        cmds.append(c("submit_test_report", report, line_id=ln["line_id"]))
        window = confirmation_window(report, cal, DEFAULT_POLICY).working_days
        conf = rng.choices(["same_day", "window", "late", "never"], weights=[30, 45, 15, 10])[0]
        confirmed = None
        if conf == "same_day":
            confirmed = report
        elif conf == "window":
            confirmed = rng.choice(window)
        elif conf == "late":
            confirmed = window[-1] + timedelta(days=rng.randint(1, 12))
        if confirmed is not None:
            cmds.append(c("confirm_activation", confirmed, line_id=ln["line_id"]))
        start = confirmed or report + timedelta(days=5)
        first_start = start if first_start is None else min(first_start, start)
        if ln["kind"] == "internet" and rng.random() < 0.5:
            cmds.append(c("record_icp_filing", start + timedelta(days=rng.randint(3, 60)),
                          line_id=ln["line_id"], address=f"{cid.lower()}.example.cn",
                          filing_number=f"ICP-{index:07d}-{ln['line_id']}"))
    assert first_start is not None
    if rng.random() < 0.7:  # R14: after a month of normal running
        cmds.append(c("record_acceptance", add_months(first_start, 1)
                      + timedelta(days=rng.randint(1, 20))))

    # R12: tariff changes, notified ahead
    tariff_days: list[tuple[date, str, Decimal]] = []
    for _ in range(rng.choices([0, 1, 2], weights=[55, 35, 10])[0]):
        ln = rng.choice(lines)
        at = sign + timedelta(days=rng.randint(60, 600))
        eff = at + timedelta(days=rng.choice([0, 1, 15, 31]))
        new = (fees[ln["line_id"]] * Decimal(rng.choice(["0.9", "0.95", "1.05", "1.1"])))
        cmds.append(c("adjust_tariff", at, line_id=ln["line_id"], monthly_fee=_money(new),
                      effective=eff.isoformat()))
        tariff_days.append((eff, ln["line_id"], new))

    # SMS usage, recorded monthly
    if sms_quota:
        monthly = sms_quota // 12
        m = date(term_start.year, term_start.month, 1)
        while (m := add_months(m, 1)) <= LAST_COMMAND_DAY:
            cmds.append(c("record_sms_usage", m + timedelta(days=rng.randint(1, 4)),
                          messages=max(1, int(monthly * rng.uniform(0.3, 1.6)))))

    # payments: personas; amounts are the contract's monthly fees (not the exact bill)
    persona = _weighted(rng, _PERSONAS)
    stop_after = add_months(sign, rng.randint(3, 14))
    resume_on = add_months(stop_after, rng.randint(2, 5)) if rng.random() < 0.5 else None
    ref = 0

    def fee_total(on: date) -> Decimal:
        current = dict(fees)
        for eff, line_id, new in sorted(tariff_days):
            if eff <= on:
                current[line_id] = new
        return sum(current.values(), Decimal(0))

    def pay(at: date, amount: Decimal) -> None:
        nonlocal ref
        if amount > 0 and at <= LAST_COMMAND_DAY:
            ref += 1
            cmds.append(c("record_payment", at, amount=_money(amount),
                          reference=f"{cid}-PAY-{ref:03d}"))

    if persona != "never":
        if mode == "prepaid":
            pay(sign, fee_total(sign) * rng.randint(1, 3))
        m = date(sign.year, sign.month, 1)
        skipped = Decimal(0)
        while (m := add_months(m, 1)) <= LAST_COMMAND_DAY:
            due = fee_total(m)
            # prepaid tops up before the month-end check (R5); postpaid pays last month's bill
            day = rng.randint(18, 27) if mode == "prepaid" else rng.randint(3, 25)
            at = date(m.year, m.month, day)
            if persona == "punctual":
                pay(at, due)
            elif persona == "late":
                if rng.random() < 0.4:
                    skipped += due
                else:
                    pay(at, due + skipped)
                    skipped = Decimal(0)
            elif persona == "erratic":
                pay(at, due * Decimal(rng.choice(["0", "0", "0.5", "1", "2", "3"])))
            elif persona == "stops":
                if at < stop_after:
                    pay(at, due)
                elif resume_on is not None and at >= resume_on:
                    pay(at, due + (skipped if skipped else due * 3))
                    skipped = Decimal(0)
                else:
                    skipped += due

    # R9/R10: notices (in the window or early), breach/mutual terminations
    roll = rng.random()
    if roll < 0.12 and term_end < LAST_COMMAND_DAY:
        cmds.append(c("give_termination_notice", term_end - timedelta(days=rng.randint(1, 29)),
                      party=rng.choice(["customer", "operator"])))
    elif roll < 0.15:
        cmds.append(c("give_termination_notice", term_start + timedelta(days=rng.randint(30, 200)),
                      party="customer"))
    elif roll < 0.21:
        cmds.append(c("terminate", sign + timedelta(days=rng.randint(90, 650)),
                      reason=rng.choice(["breach", "mutual"])))
    return [x for x in cmds if date.fromisoformat(x["at"]) <= LAST_COMMAND_DAY]


def _order(cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    indexed = sorted(enumerate(cmds), key=lambda p: (p[1]["at"], _PRIORITY[p[1]["type"]], p[0]))
    return [x for _, x in indexed]


class _Simulator:
    """One contract run through the real aggregate, in memory."""

    def __init__(self, cal: WorkingCalendar) -> None:
        self.cal = cal
        self.contract: Contract | None = None
        self.accepted: list[Any] = []

    def run(self, raw: dict[str, Any]) -> int | None:
        """Events recorded by the command, or None if the ledger refuses it."""
        cmd = parse_command(raw)
        ctx = Context(cmd.actor, raw["command_id"], cmd.type, self.cal)
        try:
            if self.contract is None:
                self.contract = Contract.sign(cmd, ctx)  # type: ignore[arg-type]
            else:
                self.contract.handle(cmd, ctx)
        except CommandError:
            self._rebuild()  # the refused command's clock events went into the state
            return None
        new = self.contract.collect_events()
        self.accepted.extend(new)
        return len(new)

    def _rebuild(self) -> None:
        contract = None
        for e in self.accepted:
            contract = e.mutate(contract)
        self.contract = contract


def generate_contract(index: int, seed: int, cal: WorkingCalendar) -> Generated:
    """Contract `index`'s commands as the ledger accepts them, with the events they record."""
    cid = f"P{index:07d}"
    out = Generated(cid)
    sim = _Simulator(cal)
    seq = 0

    def feed(cmds: list[dict[str, Any]]) -> None:
        nonlocal seq
        for raw in _order(cmds):
            raw = {"command_id": f"{cid}-{seq + 1:04d}", **raw}
            n = sim.run(raw)
            if n is None:
                out.refused += 1
                continue
            seq += 1
            out.commands.append(raw)
            out.events += n

    feed(draw_contract(index, seed, cal))
    # R11: equipment after whatever termination actually happened (notice, breach, R8)
    s = sim.contract.state if sim.contract else None
    if s is not None and s.terminated_on is not None and s.terminated_on <= LAST_COMMAND_DAY:
        rng = random.Random(f"{seed}:{index}:equipment")
        last = max(s.clock, s.terminated_on)
        tail = []
        for asset in s.equipment.values():
            at = min(last + timedelta(days=rng.randint(0, 40)), LAST_COMMAND_DAY)
            kind = "report_equipment_lost" if rng.random() < 0.15 else "recover_equipment"
            tail.append({"type": kind, "at": at.isoformat(), "contract_id": cid,
                         "asset_id": asset.asset_id})
        feed(tail)
    return out


def generate(target_events: int, seed: int = 6, contracts: int | None = None,
             progress: bool = False) -> tuple[list[Generated], int]:
    """Contracts 0, 1, ... until `target_events` (or exactly `contracts` contracts)."""
    cal = PrcCalendar()
    out: list[Generated] = []
    total = 0
    t0 = time.perf_counter()
    while (total < target_events) if contracts is None else (len(out) < contracts):
        g = generate_contract(len(out), seed, cal)
        out.append(g)
        total += g.events
        if progress and len(out) % 500 == 0:
            print(f"  {len(out)} contracts, {total} events, {time.perf_counter() - t0:.0f}s",
                  file=sys.stderr)
    return out, total


def write_jsonl(contracts: list[Generated], path: Path) -> int:
    """All commands in date order (same-day: contract order, then each contract's order)."""
    rows = []
    for ci, g in enumerate(contracts):
        for k, cmd in enumerate(g.commands):
            rows.append((cmd["at"], ci, k, orjson.dumps(cmd)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for r in rows:
            f.write(r[3] + b"\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--contracts", type=int, help="exactly this many contracts (overrides --size)")
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    contracts, events = generate(SIZES[a.size], a.seed, a.contracts, progress=True)
    n = write_jsonl(contracts, a.out)
    meta = {"size": a.size, "seed": a.seed, "contracts": len(contracts), "commands": n,
            "events": events, "refused_dropped": sum(g.refused for g in contracts),
            "events_per_contract": round(events / len(contracts), 1)}
    a.out.with_suffix(".meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(meta).decode(), f"({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
