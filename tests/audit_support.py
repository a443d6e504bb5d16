"""Helpers for the audit tests: the DOMAIN.md reference contract on a real store."""

from __future__ import annotations

from datetime import date
from typing import Any

from typer.testing import CliRunner

from ledger.application import LedgerApplication
from ledger.cli import app as cli_app
from ledger.demo import reference_activations, reference_contract
from ledger.domain.commands import parse_command

CID = "REF-2025"


def cmd(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "at": at, "contract_id": CID, **fields}


def reference_commands(dl2_confirmed_on: str | None = None, cross_border: bool = False
                       ) -> list[dict[str, Any]]:
    """The four billing-start cases of DOMAIN.md (DL-2 never confirmed by default)."""
    return [reference_contract(CID, cross_border=cross_border),
            *reference_activations(CID, dl2_confirmed_on)]


def run(app: LedgerApplication, commands: list[dict[str, Any]]) -> None:
    for raw in commands:
        app.execute(parse_command(raw))


def advance(app: LedgerApplication, to: str, cid: str = CID) -> None:
    app.advance(date.fromisoformat(to), cid)


def ledger_cli(*args: str) -> Any:
    """Run the `ledger` CLI in-process; returns the click Result."""
    return CliRunner().invoke(cli_app, list(args), catch_exceptions=False)
