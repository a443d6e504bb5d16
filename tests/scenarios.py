"""Random contract scenarios for property tests, and the DOMAIN.md reference contract.

``scenario()`` is a hypothesis strategy producing ``(commands, end_date)`` for ONE contract:
``commands`` is a list of command dicts in the ledger's JSON Lines format (``command_id``,
``type``, ``at`` ISO date, fields at top level, money as decimal strings), sorted by date,
with unique command ids; ``end_date`` is a ``date`` no later than 2026-12-31 and no earlier
than the signing date. All command dates are <= ``end_date``. Dates stay within 2025-2026,
the years with an official PRC calendar.

``worked_example_commands(...)`` builds the reference contract of DOMAIN.md (postpaid,
INT-1/DL-1/DL-2/DL-3, the four billing-start cases) plus optional extra commands.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.oracle import add_months, confirmation_window

LAST_DAY = date(2026, 12, 31)
FIRST_SIGN = date(2025, 1, 1)

#: same-day order of generated commands (a report before its confirmation, etc.)
_PRIORITY = {
    "sign_contract": 0,
    "submit_test_report": 1,
    "confirm_activation": 2,
    "adjust_tariff": 3,
    "record_sms_usage": 4,
    "record_payment": 5,
    "give_termination_notice": 6,
    "terminate": 7,
    "report_equipment_lost": 8,
    "recover_equipment": 9,
}

#: report dates around the official holidays (windows spanning them, make-up days)
_HOLIDAY_REPORT_DATES = [
    date(2025, 1, 24), date(2025, 1, 25), date(2025, 1, 26), date(2025, 1, 27),
    date(2025, 4, 30), date(2025, 5, 30),
    date(2025, 9, 25), date(2025, 9, 26), date(2025, 9, 27), date(2025, 9, 28),
    date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 9),
    date(2025, 12, 26), date(2025, 12, 27), date(2025, 12, 29), date(2025, 12, 30),
    date(2025, 12, 31),
    date(2026, 1, 30), date(2026, 2, 11), date(2026, 2, 12), date(2026, 2, 13),
    date(2026, 2, 14), date(2026, 4, 3), date(2026, 4, 30),
    date(2026, 9, 24), date(2026, 9, 26), date(2026, 9, 30),
]

_KINDS = ["internet", "circuit", "ipvpn"]
_PREFIX = {"internet": "INT", "circuit": "DL", "ipvpn": "VPN"}


def _iso(d: date) -> str:
    return d.isoformat()


def _cents(c: int) -> str:
    return str((Decimal(c) / 100).quantize(Decimal("0.01")))


def _finish(cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by (date, same-day priority, generation order) and number the command ids."""
    indexed = list(enumerate(cmds))
    indexed.sort(key=lambda p: (p[1]["at"], _PRIORITY.get(p[1]["type"], 50), p[0]))
    out = []
    for n, (_, c) in enumerate(indexed, start=1):
        c = dict(c)
        c["command_id"] = f"{c['contract_id']}-cmd-{n:04d}"
        out.append({"command_id": c.pop("command_id"), **c})
    return out


@st.composite
def scenario(draw) -> tuple[list[dict[str, Any]], date]:
    cid = f"C-{draw(st.integers(1, 999_999)):06d}"
    sign = FIRST_SIGN + timedelta(days=draw(st.integers(0, 364)))
    term_start = sign + timedelta(days=draw(st.sampled_from([0, 0, 0, 0, 1, 3, 10])))
    term_months = draw(st.sampled_from([12, 12, 12, 6, 3, 24]))
    term_end = add_months(term_start, term_months) - timedelta(days=1)
    cross_border = draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else False
    mode = draw(st.sampled_from(["prepaid", "postpaid"]))
    horizon = draw(st.sampled_from(["full", "random", "random", "short"]))
    if horizon == "full":
        end = LAST_DAY
    elif horizon == "short":
        end = min(LAST_DAY, sign + timedelta(days=draw(st.integers(0, 90))))
    else:
        end = draw(st.dates(min_value=sign, max_value=LAST_DAY))

    def c(kind: str, at: date, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "at": _iso(at), "contract_id": cid, **fields}

    def day_between(lo: date, hi: date) -> date:
        if hi <= lo:
            return lo
        return lo + timedelta(days=draw(st.integers(0, (hi - lo).days)))

    # ---- lines
    n_lines = draw(st.integers(1, 4))
    lines = []
    counters: dict[str, int] = {}
    for _ in range(n_lines):
        kind = draw(st.sampled_from(_KINDS))
        counters[kind] = counters.get(kind, 0) + 1
        fee_cents = draw(st.integers(10_000, 999_999))
        lines.append(
            {"line_id": f"{_PREFIX[kind]}-{counters[kind]}", "kind": kind,
             "monthly_fee": _cents(fee_cents)}
        )
    total_fee = sum(Decimal(ln["monthly_fee"]) for ln in lines)

    sms_quota = draw(st.sampled_from([0, 1_000, 50_000, 200_000]))
    sms_rate = draw(st.sampled_from(["0.05", "0.10", "0.035", "0.012"]))
    n_assets = draw(st.integers(0, 3))
    equipment = [
        {"asset_id": f"ONT-{i + 1:04d}", "description": "optical network terminal",
         "value": _cents(draw(st.integers(10_000, 800_000)))}
        for i in range(n_assets)
    ]

    cmds: list[dict[str, Any]] = [
        c("sign_contract", sign, customer=f"Customer {cid}", term_start=_iso(term_start),
          term_end=_iso(term_end), billing_mode=mode, cross_border=cross_border,
          lines=lines, sms_quota=sms_quota, sms_overage_rate=sms_rate, equipment=equipment)
    ]

    # ---- test reports and confirmations
    holiday_dates = [x for x in _HOLIDAY_REPORT_DATES
                     if term_start <= x <= LAST_DAY - timedelta(30)]
    for ln in lines:
        how = draw(st.sampled_from(["soon", "soon", "soon", "holiday", "later", "never"]))
        if how == "never":
            continue
        if how == "holiday" and holiday_dates:
            report = draw(st.sampled_from(holiday_dates))
        elif how == "later":
            report = term_start + timedelta(days=draw(st.integers(0, 200)))
        else:
            report = term_start + timedelta(days=draw(st.integers(0, 20)))
        if report > LAST_DAY - timedelta(days=30):
            continue
        cmds.append(c("submit_test_report", report, line_id=ln["line_id"]))
        window = confirmation_window(report)
        conf = draw(st.sampled_from(["same_day", "window", "window", "late", "never"]))
        if conf == "same_day":
            cmds.append(c("confirm_activation", report, line_id=ln["line_id"]))
        elif conf == "window":
            cmds.append(c("confirm_activation", draw(st.sampled_from(window)),
                          line_id=ln["line_id"]))
        elif conf == "late":
            late = window[-1] + timedelta(days=draw(st.integers(1, 10)))
            cmds.append(c("confirm_activation", late, line_id=ln["line_id"]))

    # ---- payments
    style = draw(st.sampled_from(["upfront", "monthly", "monthly", "erratic", "never"]))
    ref = 0

    def pay(at: date, amount: Decimal) -> None:
        nonlocal ref
        if amount <= 0:
            return
        ref += 1
        cmds.append(c("record_payment", at, amount=str(amount.quantize(Decimal("0.01"))),
                      reference=f"PAY-{ref:04d}"))

    if style == "upfront":
        pay(sign, total_fee * draw(st.integers(1, 30)))
    elif style in ("monthly", "erratic"):
        if mode == "prepaid":
            pay(sign, total_fee * draw(st.integers(0, 3)))
        m = date(sign.year, sign.month, 1)
        while m <= LAST_DAY:
            if style == "monthly":
                factor = Decimal(draw(st.sampled_from(["1", "1", "1", "1.2", "0.5", "0"])))
                day = draw(st.integers(1, 28))
            else:
                factor = Decimal(draw(st.sampled_from(["0", "0", "0", "2", "4", "0.3"])))
                day = draw(st.integers(1, 28))
            at = date(m.year, m.month, day)
            if at >= sign:
                pay(at, (total_fee * factor).quantize(Decimal("0.01")) + draw(
                    st.integers(0, 99)) * Decimal("0.01"))
            m = add_months(m, 1)

    # ---- tariff changes (per line, effective dates increasing, no overlap)
    for _ in range(draw(st.integers(0, 2))):
        ln = draw(st.sampled_from(lines))
        prior = [x for x in cmds if x["type"] == "adjust_tariff" and x["line_id"] == ln["line_id"]]
        lo = max([sign] + [date.fromisoformat(x["effective"]) for x in prior])
        at = day_between(lo, min(lo + timedelta(days=300), LAST_DAY))
        eff = at + timedelta(days=draw(st.sampled_from([0, 1, 5, 15, 31, 45])))
        new_fee = _cents(draw(st.integers(10_000, 999_999)))
        cmds.append(c("adjust_tariff", at, line_id=ln["line_id"], monthly_fee=new_fee,
                      effective=_iso(eff)))

    # ---- SMS usage
    for _ in range(draw(st.integers(0, 5))):
        at = day_between(term_start, min(term_start + timedelta(days=500), LAST_DAY))
        top = max(sms_quota, 1_000)
        cmds.append(c("record_sms_usage", at, messages=draw(st.integers(0, top))))

    # ---- notice / termination / equipment
    ended_on: date | None = None
    if draw(st.integers(1, 5)) == 5:
        at = day_between(sign, min(term_end, LAST_DAY))
        cmds.append(c("give_termination_notice", at,
                      party=draw(st.sampled_from(["customer", "operator"]))))
        if term_end + timedelta(days=1) <= LAST_DAY:
            ended_on = term_end + timedelta(days=1)
    if draw(st.integers(1, 8)) == 8:
        at = day_between(sign, min(term_end, LAST_DAY))
        cmds.append(c("terminate", at, reason=draw(st.sampled_from(["breach", "mutual"]))))
        ended_on = at if ended_on is None else min(ended_on, at)
    if ended_on is not None and equipment:
        for a in equipment:
            at = day_between(ended_on, min(ended_on + timedelta(days=40), LAST_DAY))
            kind = draw(st.sampled_from(["report_equipment_lost", "recover_equipment", None]))
            if kind:
                cmds.append(c(kind, at, asset_id=a["asset_id"]))

    if ended_on is not None:  # the contract is known to be over: only money/equipment after
        keep = {"sign_contract", "record_payment", "report_equipment_lost", "recover_equipment"}
        explicit = any(x["type"] == "terminate" and date.fromisoformat(x["at"]) == ended_on
                       for x in cmds)

        def alive(x: dict[str, Any]) -> bool:
            at = date.fromisoformat(x["at"])
            if at < ended_on or x["type"] in keep:
                return True
            # a terminate command ends the day's run of commands (same-day order by priority)
            return explicit and at == ended_on and _PRIORITY[x["type"]] <= _PRIORITY["terminate"]

        cmds = [x for x in cmds if alive(x)]
        terms = [x for x in cmds if x["type"] == "terminate"]
        cmds = [x for x in cmds if x["type"] != "terminate" or x is terms[0]]
    cmds = [x for x in cmds if date.fromisoformat(x["at"]) <= end]
    return _finish(cmds), end


# --------------------------------------------------------------------------- DOMAIN example

REFERENCE_CONTRACT_ID = "REF-2025-001"


def worked_example_commands(
    *,
    contract_id: str = REFERENCE_CONTRACT_ID,
    billing_mode: str = "postpaid",
    cross_border: bool = False,
    dl2_confirmed_on: date | None = None,
    extra: list[tuple[str, date | str, dict[str, Any]]] | tuple = (),
) -> list[dict[str, Any]]:
    """The DOMAIN.md reference contract: term 2025-09-01..2026-08-31, INT-1 internet
    3,000.00, DL-1 circuit 2,000.00, DL-2 circuit 2,000.00, DL-3 ipvpn 1,500.00, SMS quota
    200,000 at 0.05, assets ONT-0001..0004 (1,200.00) and RTR-0001 (6,000.00).

    Activation facts: INT-1 reported and confirmed 2025-09-01; DL-1 reported 2025-09-10,
    confirmed 2025-09-12; DL-3 reported 2025-09-26, confirmed late 2025-10-09; DL-2
    reported 2025-09-30 and never confirmed, unless ``dl2_confirmed_on`` is given.
    ``extra`` is a sequence of ``(type, at, fields)`` appended (then everything is sorted).
    """
    def c(kind: str, at: date | str, **fields: Any) -> dict[str, Any]:
        at = at if isinstance(at, str) else at.isoformat()
        return {"type": kind, "at": at, "contract_id": contract_id, **fields}

    equipment = [
        {"asset_id": f"ONT-{i:04d}", "description": "optical network terminal", "value": "1200.00"}
        for i in range(1, 5)
    ] + [{"asset_id": "RTR-0001", "description": "router", "value": "6000.00"}]
    cmds = [
        c("sign_contract", "2025-09-01", customer="Party A Co., Ltd.",
          term_start="2025-09-01", term_end="2026-08-31", billing_mode=billing_mode,
          cross_border=cross_border,
          lines=[
              {"line_id": "INT-1", "kind": "internet", "monthly_fee": "3000.00"},
              {"line_id": "DL-1", "kind": "circuit", "monthly_fee": "2000.00"},
              {"line_id": "DL-2", "kind": "circuit", "monthly_fee": "2000.00"},
              {"line_id": "DL-3", "kind": "ipvpn", "monthly_fee": "1500.00"},
          ],
          sms_quota=200_000, sms_overage_rate="0.05", equipment=equipment),
        c("submit_test_report", "2025-09-01", line_id="INT-1"),
        c("confirm_activation", "2025-09-01", line_id="INT-1"),
        c("submit_test_report", "2025-09-10", line_id="DL-1"),
        c("confirm_activation", "2025-09-12", line_id="DL-1"),
        c("submit_test_report", "2025-09-26", line_id="DL-3"),
        c("submit_test_report", "2025-09-30", line_id="DL-2"),
        c("confirm_activation", "2025-10-09", line_id="DL-3"),
    ]
    if dl2_confirmed_on is not None:
        cmds.append(c("confirm_activation", dl2_confirmed_on, line_id="DL-2"))
    for kind, at, fields in extra:
        cmds.append(c(kind, at, **fields))
    return _finish(cmds)
