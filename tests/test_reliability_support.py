"""Shared by the reliability tests (no tests here): command workloads, running the real
`ledger` CLI as OS processes, and reading a store's raw contents to compare."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from ledger.application import LedgerApplication
from ledger.domain import views

LEDGER = [sys.executable, "-m", "ledger.cli"]
# Fields that differ between two runs of the same commands (record time and the
# hash chain that covers it); everything else must be identical.
RUN_DEPENDENT = {"timestamp", "prev_hash", "hash"}


def sign(contract_id: str, at: str = "2025-08-25", customer: str = "Reliable Trading Co.",
         billing_mode: str = "postpaid") -> dict[str, Any]:
    return {"type": "sign_contract", "at": at, "contract_id": contract_id,
            "command_id": f"{contract_id}-sign", "customer": customer,
            "term_start": "2025-09-01", "term_end": "2026-08-31", "billing_mode": billing_mode,
            "lines": [{"line_id": "L1", "kind": "internet", "monthly_fee": "1000.00"},
                      {"line_id": "L2", "kind": "circuit", "monthly_fee": "800.00"}],
            "sms_quota": 1000, "sms_overage_rate": "0.05",
            "equipment": [{"asset_id": "ONT-1", "description": "optical network terminal",
                           "value": "1200.00"}]}


def activation(contract_id: str, at: str = "2025-09-01") -> list[dict[str, Any]]:
    """Both lines reported and confirmed on `at` (in the window: billing starts then)."""
    return [{"type": kind, "at": at, "contract_id": contract_id, "line_id": line,
             "command_id": f"{contract_id}-{kind}-{line}"}
            for line in ("L1", "L2") for kind in ("submit_test_report", "confirm_activation")]


def large_workload(contracts: int, months: int, seed: int = 7) -> list[dict[str, Any]]:
    """Signing, activation, then per month SMS usage and a payment for every contract,
    in business-date order (time rules post rent and issue bills on the way)."""
    rng = random.Random(seed)
    ids = [f"C{i:03d}" for i in range(contracts)]
    cmds: list[dict[str, Any]] = [sign(cid) for cid in ids]
    for cid in ids:
        cmds += activation(cid)
    day = date(2025, 9, 1)
    for m in range(months):
        first = date(day.year + (day.month + m - 1) // 12, (day.month + m - 1) % 12 + 1, 1)
        for offset, kind in ((9, "record_sms_usage"), (19, "record_payment")):
            at = (first + timedelta(days=offset)).isoformat()
            for cid in ids:
                cmd: dict[str, Any] = {"type": kind, "at": at, "contract_id": cid,
                                       "command_id": f"{cid}-{kind}-{at}"}
                if kind == "record_sms_usage":
                    cmd["messages"] = rng.randint(1, 400)
                else:
                    cmd["amount"] = f"{rng.randint(1850_00, 2000_00) / 100:.2f}"
                    cmd["reference"] = f"BANK-{cid}-{at}"
                cmds.append(cmd)
    return cmds


def write_jsonl(path: Path, cmds: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in cmds))
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """`ledger ARGS` as a real OS process."""
    return subprocess.run([*LEDGER, *args], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout, check=False)


def spawn_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*LEDGER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or cli_env())


@contextmanager
def opened(store_url: str, **kwargs: Any) -> Iterator[LedgerApplication]:
    app = LedgerApplication(store_url, **kwargs)
    try:
        yield app
    finally:
        app.close()


def raw_rows(store_url: str) -> list[tuple[Any, ...]]:
    """Every stored event row, exactly as stored, in notification order."""
    with opened(store_url) as app:
        return [(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
                for n in app.recorder.select_notifications(1, 10**9)]


def event_contents(store_url: str, env: dict[str, str] | None = None
                   ) -> list[tuple[str, dict[str, Any]]]:
    """Every event in log order as (class name, content without run-dependent fields)."""
    with opened(store_url, env=env) as app:
        out = []
        for n in app.recorder.select_notifications(1, 10**9):
            e = app.mapper.to_domain_event(n)
            out.append((type(e).__name__, e.model_dump(mode="json", exclude=RUN_DEPENDENT)))
        return out


def ledger_summary(store_url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a reader sees: each contract's status view and the bills of every month."""
    with opened(store_url, env=env) as app:
        out: dict[str, Any] = {}
        for cid in app.contract_ids():
            compact = app.load(cid).state  # from the latest snapshot: status only
            s = app.load_history(cid).state
            months = sorted({ch.service_month for ch in s.charges})
            out[cid] = {
                "status": views.status_view(compact, compact.clock),
                "bills": {m: views.bill_view(s, date.fromisoformat(m + "-01"), s.clock)
                          for m in months},
                "payments": sorted((str(p.amount), p.reference) for p in s.payments),
                "version": app.repository.get(app.load(cid).id).version,
            }
        return out
