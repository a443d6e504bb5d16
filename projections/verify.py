"""Projections checked against a replay of the aggregates (used by the tests and by
`ledger verify`, which calls `verify_against_replay`)."""

from __future__ import annotations

from typing import Any

from ledger.domain import views
from ledger.rules.dates import parse_month
from projections.export import rows
from projections.readmodels import TABLES
from projections.runner import Store, status


def differences(app: Any, store: Store, contract_ids: list[str] | None = None) -> list[str]:
    """Where projection rows differ from what `ledger.domain.views` says of each aggregate
    as of its clock: status, term, balance, unbilled, arrears, lines, every item of every
    service month, every issued bill. Empty when they agree."""
    out: list[str] = []

    def check(what: str, got: Any, want: Any) -> None:
        if got != want:
            out.append(f"{what}: projection has {got!r}, the aggregate says {want!r}")

    def by(table: str, *key: str) -> dict[Any, dict[str, Any]]:
        return {tuple(r[k] for k in key): r for r in rows(store, TABLES[table])}

    c_rows, b_rows = by("proj_contract", "contract_id"), by("proj_balance", "contract_id")
    l_rows = by("proj_contract_line", "contract_id", "line_id")
    months = by("proj_service_month", "contract_id", "service_month")
    bills = by("proj_bill", "bill_id")
    items: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows(store, TABLES["proj_charge_item"]):
        items.setdefault((r["contract_id"], r["service_month"]), []).append(r)
    for cid in contract_ids if contract_ids is not None else app.contract_ids():
        s = app.load_history(cid).state
        v = views.status_view(s, s.clock)
        c, b = c_rows.get((cid,), {}), b_rows.get((cid,), {})
        for k in ("as_of", "status", "term_start", "term_end", "terminated_on",
                  "termination_reason"):
            check(f"{cid} contract {k}", c.get(k), v[k])
        for k in ("as_of", "balance", "unbilled", "arrears_since", "status"):
            check(f"{cid} balance {k}", b.get(k), v[k])
        for lv in v["lines"]:
            row = l_rows.get((cid, lv["line_id"]), {})
            for k in ("kind", "status", "billing_start", "monthly_fee"):
                check(f"{cid} line {lv['line_id']} {k}", row.get(k), lv[k])
        charged = sorted({x.service_month for x in s.charges})
        check(f"{cid} service months", sorted(m for k, m in items if k == cid), charged)
        for m in charged:
            bv = views.bill_view(s, parse_month(m), s.clock)
            got = sorted(items.get((cid, m), []), key=lambda r: r["charge_id"])
            want = sorted(bv["items"], key=lambda r: r["charge_id"])
            check(f"{cid} {m} items", [{k: r.get(k) for k in want[0]} for r in got], want)
            month = months.get((cid, m), {})
            check(f"{cid} {m} total/items", (month.get("total"), month.get("items")),
                  (bv["total"], len(want)))
        issued = views.bills_issued(s, s.clock)
        check(f"{cid} bills", sorted(r["bill_id"] for r in bills.values()
                                     if r["contract_id"] == cid),
              sorted(x["bill_id"] for x in issued))
        for want_bill in issued:
            got_bill = bills.get((want_bill["bill_id"],), {})
            check(f"bill {want_bill['bill_id']}", {k: got_bill.get(k) for k in want_bill},
                  want_bill)
    return out


def verify_against_replay(ledger: Any) -> tuple[list[str], list[str]]:
    """For `ledger verify`: (differences, notes). A caught-up projection that differs
    from a replay is a break; one that is behind or not built yet is only a note."""
    with Store(ledger.store_url) as store:
        found = status(store)
        if any(s.position is None for s in found):
            return [], ["projections not checked: not built yet (ledger projections catch-up)"]
        behind = [f"{s.name} is {s.lag} notification(s) behind" for s in found if s.lag]
        if behind:
            return [], ["projections not compared: " + "; ".join(behind)]
        diffs = differences(ledger, store)
    return diffs, ([] if diffs else ["projections agree with a replay of every contract"])
